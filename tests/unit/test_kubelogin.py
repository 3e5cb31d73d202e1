"""Logging in through the official `kubernetes` client: every kind of kubeconfig user kubectl accepts
becomes Kopf's ConnectionInfo, an exec plugin's expiry included; KubeLogin shares and renews the login."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml

from blaxel_devkit.kube_auth import TokenCheck
from blaxel_operator.kubelogin import KubeLogin, connection_info, expired, login

CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIBfake\n-----END PRIVATE KEY-----\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config


@pytest.fixture
def kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    def write(
        user: dict[str, Any], cluster: dict[str, Any] | None = None, namespace: str | None = None
    ) -> Path:
        context: dict[str, Any] = {"cluster": "c", "user": "u"}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": cluster or {"server": "http://127.0.0.1:6443"}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "ctx", "context": context}],
            "current-context": "ctx",
        }
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(config))
        monkeypatch.setenv("KUBECONFIG", str(path))
        return path

    yield write


def test_token(kubeconfig: Any) -> None:
    kubeconfig({"token": "t-123"}, namespace="team-a")
    info = login()
    assert (info.server, info.scheme, info.token) == ("http://127.0.0.1:6443", "Bearer", "t-123")
    assert info.as_http_headers() == {"Authorization": "Bearer t-123"}
    assert info.default_namespace == "team-a" and info.expiration is None


def test_token_file_is_read_at_each_login(kubeconfig: Any, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first")
    kubeconfig({"tokenFile": str(token_file)})
    assert login().token == "first"
    token_file.write_text("rotated")
    assert login().token == "rotated"


def test_basic_auth(kubeconfig: Any) -> None:
    kubeconfig({"username": "admin", "password": "s3cret"})
    info = login()
    assert info.as_http_headers() == {"Authorization": f"Basic {b64('admin:s3cret')}"}


def test_client_certificate_and_ca_data(kubeconfig: Any) -> None:
    kubeconfig(
        {"client-certificate-data": b64(CERT), "client-key-data": b64(KEY)},
        {"server": "https://k8s.example:6443", "certificate-authority-data": b64(CERT)},
    )
    info = login()
    assert info.token is None and not info.insecure
    assert Path(str(info.certificate_path)).read_text() == CERT
    assert Path(str(info.private_key_path)).read_text() == KEY
    assert Path(str(info.ca_path)).read_text() == CERT


def test_insecure_and_proxy(kubeconfig: Any) -> None:
    kubeconfig(
        {"token": "t"},
        {"server": "https://k8s.example", "insecure-skip-tls-verify": True, "proxy-url": "http://proxy:3128"},
    )
    info = login()
    assert info.insecure is True and info.proxy_url == "http://proxy:3128"


def test_exec_plugin_token_and_expiry(kubeconfig: Any) -> None:
    check = TokenCheck(ttl=60)
    kubeconfig(check.exec_user())
    before = datetime.datetime.now(datetime.UTC)
    info = login()
    assert info.scheme == "Bearer" and info.token and check.allows(f"Bearer {info.token}")
    assert info.expiration is not None
    assert before + datetime.timedelta(seconds=58) < info.expiration < before + datetime.timedelta(seconds=62)
    assert login().token != info.token  # each login runs the plugin again


def test_exec_plugin_without_expiry(kubeconfig: Any) -> None:
    kubeconfig(TokenCheck(ttl=60, report_expiry=False).exec_user())
    info = login()
    assert info.token and info.expiration is None


def test_exec_plugin_client_certificate(kubeconfig: Any, tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    status = {"clientCertificateData": CERT, "clientKeyData": KEY}
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}
    plugin.write_text(f"print({json.dumps(json.dumps(credential))})")
    kubeconfig(
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": sys.executable,
                "args": [str(plugin)],
            }
        },
        {"server": "https://k8s.example"},
    )
    info = login()
    assert info.token is None
    assert Path(str(info.certificate_path)).read_text() == CERT


def test_failing_exec_plugin_is_a_login_error(kubeconfig: Any, tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import sys; sys.exit('no AWS credentials')")
    kubeconfig(
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": sys.executable,
                "args": [str(plugin)],
            }
        }
    )
    with pytest.raises(kopf.LoginError, match=r"exec plugin .*gave no credentials"):
        login()


def test_oidc_auth_provider(kubeconfig: Any) -> None:
    claims = {"iss": "https://issuer.example", "exp": int(time.time()) + 3600}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    id_token = f"eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln"
    kubeconfig(
        {
            "auth-provider": {
                "name": "oidc",
                "config": {
                    "id-token": id_token,
                    "idp-issuer-url": "https://issuer.example",
                    "client-id": "k",
                },
            }
        }
    )
    assert login().token == id_token


def test_kubeconfig_list_is_merged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clusters = {"clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:6443"}}]}
    rest = {
        "users": [{"name": "u", "user": {"token": "merged"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    (tmp_path / "a").write_text(yaml.safe_dump(clusters))
    (tmp_path / "b").write_text(yaml.safe_dump(rest))
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert login().token == "merged"


def test_in_cluster_service_account(tmp_path: Path) -> None:
    # the client's in-cluster loader with the pod's files elsewhere (login() reads them from /var/run/secrets)
    from kubernetes import client
    from kubernetes.config.incluster_config import InClusterConfigLoader

    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text(CERT)
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    configuration = client.Configuration()
    loader = InClusterConfigLoader(str(tmp_path / "token"), str(tmp_path / "ca.crt"), environ=environ)
    loader.load_and_set(configuration)
    info = connection_info(configuration, "blaxel-system")
    assert info.server == "https://10.0.0.1:443" and info.ca_path == str(tmp_path / "ca.crt")
    assert info.as_http_headers() == {"Authorization": "Bearer sa-token"}  # the client stores "bearer ..."
    assert info.default_namespace == "blaxel-system"


def test_no_kubeconfig_is_a_login_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(kopf.LoginError, match="missing"):
        login()


def test_bad_context_is_a_login_error(kubeconfig: Any) -> None:
    path = kubeconfig({"token": "t"})
    path.write_text(path.read_text().replace("current-context: ctx", "current-context: nope"))
    with pytest.raises(kopf.LoginError, match="nope"):
        login()


# ---- KubeLogin: one login shared by Kopf and KubeApi ---------------------------------------------------


class Logins:
    """A login function that counts its calls and returns credentials expiring after `ttl` seconds."""

    def __init__(self, ttl: float | None = None) -> None:
        self.count = 0
        self.ttl = ttl

    def __call__(self) -> kopf.ConnectionInfo:
        self.count += 1
        expiration = None
        if self.ttl is not None:
            expiration = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=self.ttl)
        return kopf.ConnectionInfo(server="http://k", token=f"t{self.count}", expiration=expiration)


async def test_current_reuses_the_latest_login() -> None:
    logins = Logins()
    shared = KubeLogin(logins)
    first = await shared.current()
    assert await shared.current() is first and logins.count == 1
    renewed = await shared.fresh()  # Kopf's login handler
    assert renewed.token == "t2" and await shared.current() is renewed


async def test_current_logs_in_again_for_rejected_or_expired_credentials() -> None:
    logins = Logins()
    shared = KubeLogin(logins)
    first = await shared.current()
    second = await shared.current(rejected=first)
    assert second.token == "t2"
    assert await shared.current(rejected=first) is second  # already renewed: no second login
    expiring = KubeLogin(Logins(ttl=-1))
    info = await expiring.current()
    assert expired(info) and (await expiring.current()).token == "t2"


async def test_concurrent_callers_share_one_login() -> None:
    logins = Logins()
    shared = KubeLogin(logins)
    results = await asyncio.gather(*(shared.current() for _ in range(5)))
    assert logins.count == 1 and len({id(r) for r in results}) == 1

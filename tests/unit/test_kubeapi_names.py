"""KubeApi against the Kubernetes test bed over loopback: a hostile name never becomes a request, a
valid one is sent exactly as written, and Secret values are decoded strictly (issue 14, items 1 and 3)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import kopf
import pytest

from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.kubeapi import KubeApi, SecretNotText, api_url
from blaxel_operator.kubelogin import KubeLogin
from blaxel_operator.kubenames import InvalidName

from .test_kubenames import HOSTILE

STOLEN = "stolen-value-7c1d"
BINARY = b"\xff\xfe\x00binary\x80"


def secret(namespace: str, name: str, data: dict[str, bytes]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


@pytest.fixture
async def kube() -> AsyncIterator[KubeEmulator]:
    async with KubeEmulator() as emulator:
        emulator.create_object(
            "", "v1", "secrets", secret("kube-system", "stolen", {"token": STOLEN.encode()})
        )
        text = "naïve ✓ token".encode()
        emulator.create_object("", "v1", "secrets", secret("default", "app", {"token": text, "bin": BINARY}))
        emulator.reset_counters()
        yield emulator


@pytest.fixture
async def api(kube: KubeEmulator) -> AsyncIterator[KubeApi]:
    client = KubeApi(KubeLogin(lambda: kopf.ConnectionInfo(server=kube.url)))
    yield client
    await client.close()


def paths(kube: KubeEmulator) -> list[str]:
    return [path for _, path in kube.request_log]


@pytest.mark.parametrize("name", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_a_hostile_secret_name_sends_nothing(kube: KubeEmulator, api: KubeApi, name: str) -> None:
    with pytest.raises(InvalidName, match="Secret name"):
        await api.get_secret("default", name)
    assert paths(kube) == []


@pytest.mark.parametrize("namespace", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_a_hostile_namespace_sends_nothing(kube: KubeEmulator, api: KubeApi, namespace: str) -> None:
    with pytest.raises(InvalidName, match="namespace"):
        await api.get_secret(namespace, "app")
    assert paths(kube) == []


@pytest.mark.parametrize("name", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_a_hostile_status_patch_target_sends_nothing(
    kube: KubeEmulator, api: KubeApi, name: str
) -> None:
    with pytest.raises(InvalidName, match="object name"):
        await api.patch_status("blaxel.ai", "v1alpha1", "blaxelagents", "default", name, {"x": 1})
    with pytest.raises(InvalidName, match="namespace"):
        await api.patch_status("blaxel.ai", "v1alpha1", "blaxelagents", name, "bot", {"x": 1})
    assert paths(kube) == []


async def test_a_valid_secret_is_read_at_exactly_its_path(kube: KubeEmulator, api: KubeApi) -> None:
    data = await api.get_secret("default", "app")
    assert data is not None
    assert data["token"] == "naïve ✓ token"  # multi-byte UTF-8, unchanged
    assert paths(kube) == ["/api/v1/namespaces/default/secrets/app"]
    assert await api.get_secret("default", "missing") is None


async def test_a_binary_value_is_refused_naming_secret_and_key_never_the_value(api: KubeApi) -> None:
    data = await api.get_secret("default", "app")
    assert data is not None
    assert "bin" in data and set(data) == {"token", "bin"}
    with pytest.raises(SecretNotText) as caught:
        data["bin"]
    message = str(caught.value)
    assert "default/app" in message and "'bin'" in message and "UTF-8" in message
    assert "binary" not in message and "\\x" not in message
    assert "binary" not in repr(data) and "token" in repr(data)  # keys only, never values
    with pytest.raises(SecretNotText):
        data.get("bin")  # not swallowed as "missing"


@pytest.mark.parametrize(
    ("segment", "sent"),
    [
        ("..", "/.."),
        (".", "/."),
        ("../../kube-system/secrets/stolen", "/..%2F..%2Fkube-system%2Fsecrets%2Fstolen"),
        ("%2e%2e", "/%252e%252e"),
        ("a?watch=1#f", "/a%3Fwatch%3D1%23f"),
    ],
)
async def test_url_segments_are_escaped_whole_and_never_resolved(
    kube: KubeEmulator, segment: str, sent: str
) -> None:
    """The builder's own guarantee, below the name checks: what aiohttp sends is what was built."""
    base = "/api/v1/namespaces/default/secrets"
    url = api_url(kube.url, "api", "v1", "namespaces", "default", "secrets", segment)
    assert url.raw_path == base + sent
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 404
    assert paths(kube) == [base + sent]


async def test_a_server_url_with_a_path_prefix_is_kept(kube: KubeEmulator) -> None:
    url = api_url("https://proxy.example/k8s/clusters/c-1", "api", "v1", "namespaces", "default")
    assert str(url) == "https://proxy.example/k8s/clusters/c-1/api/v1/namespaces/default"

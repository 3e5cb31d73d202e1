"""The test bed's opt-in bearer-token check, the exec credential plugin that issues its tokens, and its
opt-in TLS (kubectl sends credentials only over TLS; the Python clients send them over plain HTTP too).

A token is `tb1.<issued at, ms>.<nonce>.<signature>`, signed with a key shared by the test bed and the
plugin (handed to the plugin in the kubeconfig's `exec.env`), so nothing has to be registered: the test bed
accepts a token while its signature holds and it is younger than `ttl` seconds, and answers 401 with the
apiserver's `Status` body otherwise. Static tokens (like the apiserver's `--token-auth-file`) never expire:
the test's own client uses one.

    check = TokenCheck(ttl=2.5)
    async with KubeEmulator(crds_dirs=[...], token_check=check) as kube:
        kube.write_kubeconfig(path)   # its user runs this file as an exec plugin

The plugin is this file run as a script (standard library only, so it needs no installed package):
`python kube_auth.py` prints an ExecCredential (client.authentication.k8s.io/v1) with a fresh token and its
`expirationTimestamp`; `KUBE_TESTBED_NO_EXPIRY=1` leaves the expiry out (clients then learn it from a 401).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

KEY_ENV = "KUBE_TESTBED_TOKEN_KEY"
TTL_ENV = "KUBE_TESTBED_TOKEN_TTL"
NO_EXPIRY_ENV = "KUBE_TESTBED_NO_EXPIRY"
EXEC_API_VERSION = "client.authentication.k8s.io/v1"
PREFIX = "tb1"


def _signature(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]


def issue(key: str, ttl: float, now: float | None = None) -> tuple[str, float]:
    """A new token and the time (epoch seconds) it expires."""
    issued_ms = int((time.time() if now is None else now) * 1000)
    payload = f"{PREFIX}.{issued_ms}.{secrets.token_hex(8)}"
    return f"{payload}.{_signature(key, payload)}", issued_ms / 1000 + ttl


def exec_credential(key: str, ttl: float, *, with_expiry: bool = True) -> dict[str, Any]:
    """What the plugin prints: an ExecCredential with a fresh token."""
    token, expires = issue(key, ttl)
    status: dict[str, Any] = {"token": token}
    if with_expiry:
        moment = datetime.datetime.fromtimestamp(expires, datetime.UTC)
        status["expirationTimestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"apiVersion": EXEC_API_VERSION, "kind": "ExecCredential", "status": status}


class TokenCheck:
    """Which bearer tokens the test bed accepts (see the module docstring), with counters for tests."""

    def __init__(
        self,
        ttl: float = 3.0,
        *,
        static_tokens: Iterable[str] = (),
        report_expiry: bool = True,
        key: str | None = None,
    ) -> None:
        self.ttl = ttl
        self.static_tokens = frozenset(static_tokens)
        self.report_expiry = report_expiry  # whether the plugin tells clients when its tokens expire
        self.key = key or secrets.token_hex(16)
        self.accepted: set[str] = set()  # distinct plugin tokens that were accepted at least once
        self.expired = 0  # requests refused because their token had expired
        self.refused = 0  # all requests refused (no token, unknown token, expired token)

    def allows(self, authorization: str | None, now: float | None = None) -> bool:
        token = self._bearer(authorization)
        allowed = token is not None and (token in self.static_tokens or self._fresh(token, now))
        if not allowed:
            self.refused += 1
        return allowed

    def counters(self) -> dict[str, int]:
        return {"accepted_tokens": len(self.accepted), "expired": self.expired, "refused": self.refused}

    def issue(self) -> str:
        """A token as the plugin would issue it (for in-process clients)."""
        return issue(self.key, self.ttl)[0]

    def exec_user(self) -> dict[str, Any]:
        """A kubeconfig `user` that runs this file as its exec credential plugin."""
        env = [{"name": KEY_ENV, "value": self.key}, {"name": TTL_ENV, "value": str(self.ttl)}]
        if not self.report_expiry:
            env.append({"name": NO_EXPIRY_ENV, "value": "1"})
        return {
            "exec": {
                "apiVersion": EXEC_API_VERSION,
                "command": sys.executable,
                "args": [os.path.abspath(__file__)],
                "env": env,
                "interactiveMode": "Never",
            }
        }

    @staticmethod
    def _bearer(authorization: str | None) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        return (token.strip() or None) if scheme.lower() == "bearer" else None

    def expires_at(self, token: str) -> float | None:
        """When a token issued for this test bed expires (epoch seconds); None if it is not one of them."""
        payload, _, signature = token.rpartition(".")
        if not hmac.compare_digest(signature.encode(), _signature(self.key, payload).encode()):
            return None
        return int(payload.split(".")[1]) / 1000 + self.ttl

    def _fresh(self, token: str, now: float | None) -> bool:
        expires = self.expires_at(token)
        if expires is None:
            return False
        if (time.time() if now is None else now) >= expires:
            self.expired += 1
            return False
        self.accepted.add(token)
        return True


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key (PEM files), made with the openssl binary."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("TLS for the test bed needs the openssl binary")
    cert, key = directory / "tls.crt", directory / "tls.key"
    argv = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    argv += ["-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=kube-emulator"]
    argv += ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    subprocess.run(argv, check=True, capture_output=True)
    return cert, key


def main() -> int:
    key = os.environ.get(KEY_ENV)
    if not key:
        print(f"{KEY_ENV} is not set (it comes from the kubeconfig's exec.env)", file=sys.stderr)
        return 1
    ttl = float(os.environ.get(TTL_ENV) or 3.0)
    with_expiry = os.environ.get(NO_EXPIRY_ENV) != "1"
    print(json.dumps(exec_credential(key, ttl, with_expiry=with_expiry)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

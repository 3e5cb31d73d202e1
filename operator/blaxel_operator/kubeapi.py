"""The thin edge toward Kubernetes for what Kopf does not do for us: reading Secrets by name and
patching status from the per-object poll. Uses the login Kopf uses (kubelogin.KubeLogin).
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import kopf

from .kubelogin import KubeLogin


class KubeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 merge patch turning `old` into `new` (nulls delete keys; lists are replaced)."""
    patch: dict[str, Any] = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            sub = merge_patch(before, value)
            if sub:
                patch[key] = sub
        elif value != before or key not in old:
            patch[key] = value
    return patch


class KubeApi:
    """A small aiohttp client on the shared login's credentials. A 401 (expired or revoked credentials)
    gets credentials other than the rejected ones (a new login unless Kopf already made one) and one retry."""

    def __init__(self, login: KubeLogin) -> None:
        self.login = login
        self._session: aiohttp.ClientSession | None = None
        self._tls: tuple[tuple[Any, ...], ssl.SSLContext] | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's data decoded, or None when it does not exist."""
        status, body = await self._request(
            "GET", f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}"
        )
        if status == 404:
            return None
        if status >= 400:
            raise KubeError(status, f"reading Secret {namespace}/{name} failed")
        secret = json.loads(body)
        data: dict[str, str] = {}
        for key, value in (secret.get("data") or {}).items():
            data[key] = base64.b64decode(value).decode("utf-8", errors="replace")
        for key, value in (secret.get("stringData") or {}).items():
            data[key] = str(value)
        return data

    async def patch_status(
        self, group: str, version: str, plural: str, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch the status subresource; None when the object is gone."""
        path = f"/apis/{group}/{version}/namespaces/{quote(namespace)}/{plural}/{quote(name)}/status"
        status, body = await self._request(
            "PATCH", path, json={"status": patch}, headers={"Content-Type": "application/merge-patch+json"}
        )
        if status == 404:
            return None
        if status >= 400:
            text = body[:300].decode(errors="replace")
            raise KubeError(status, f"patching status of {namespace}/{name} failed: {text}")
        result: dict[str, Any] = json.loads(body)
        return result

    async def _request(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, bytes]:
        rejected: kopf.ConnectionInfo | None = None
        while True:
            try:
                info = await self.login.current(rejected)
            except kopf.LoginError as exc:
                raise KubeError(401, f"cannot log in to Kubernetes: {exc}") from exc
            async with self._client().request(
                method,
                info.server.rstrip("/") + path,
                headers={**info.as_http_headers(), **(headers or {})},
                ssl=self._ssl_context(info),
                proxy=info.proxy_url,
                **kwargs,
            ) as response:
                status, body = response.status, await response.read()
            if status != 401 or rejected is not None:
                return status, body
            rejected = info

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use, inside the running loop
            self._session = aiohttp.ClientSession(
                headers={"Accept": "application/json", "User-Agent": "blaxel-operator"},
                connector=aiohttp.TCPConnector(limit=20),
                timeout=aiohttp.ClientTimeout(total=30),
            )
        return self._session

    def _ssl_context(self, info: kopf.ConnectionInfo) -> ssl.SSLContext:
        # kept across logins that only renew the token, so that pooled connections are reused
        key: tuple[Any, ...] = (info.ca_path, info.ca_data, info.insecure, info.certificate_path)
        key += (info.certificate_data, info.private_key_path, info.private_key_data)
        if self._tls is None or self._tls[0] != key:
            self._tls = (key, info.as_ssl_context())
        return self._tls[1]

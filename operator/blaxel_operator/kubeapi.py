"""The thin edge toward Kubernetes for what Kopf does not do for us: reading Secrets by name and
patching status from the per-object poll. Uses the same credentials Kopf logged in with.
"""

from __future__ import annotations

import base64
import ssl
import tempfile
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import kopf


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


def _ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if not info.server.startswith("https"):
        return False
    if info.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif info.ca_data:
        data = info.ca_data
        text = data.decode() if isinstance(data, bytes) else data
        if "BEGIN CERTIFICATE" not in text:
            text = base64.b64decode(text).decode()
        ctx = ssl.create_default_context(cadata=text)
    elif info.ca_path:
        ctx = ssl.create_default_context(cafile=str(info.ca_path))
    else:
        ctx = ssl.create_default_context()
    cert, key = info.certificate_path, info.private_key_path
    with tempfile.TemporaryDirectory() as tmp:
        if info.certificate_data and info.private_key_data:
            cert, key = f"{tmp}/tls.crt", f"{tmp}/tls.key"
            for path, data in ((cert, info.certificate_data), (key, info.private_key_data)):
                raw = data.encode() if isinstance(data, str) else data
                if b"BEGIN" not in raw:
                    raw = base64.b64decode(raw)
                with open(path, "wb") as fh:
                    fh.write(raw)
        if cert and key:
            ctx.load_cert_chain(str(cert), str(key))
    return ctx


class KubeApi:
    """A small aiohttp client over Kopf's ConnectionInfo."""

    def __init__(self, info: kopf.ConnectionInfo) -> None:
        self.server = info.server.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": "blaxel-operator"}
        auth: aiohttp.BasicAuth | None = None
        if info.token:
            headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
        elif info.username and info.password:
            auth = aiohttp.BasicAuth(info.username, info.password)
        self.session = aiohttp.ClientSession(
            headers=headers,
            auth=auth,
            connector=aiohttp.TCPConnector(ssl=_ssl_context(info), limit=20),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def close(self) -> None:
        await self.session.close()

    async def get_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's data decoded, or None when it does not exist."""
        url = f"{self.server}/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}"
        async with self.session.get(url) as response:
            if response.status == 404:
                return None
            if response.status >= 400:
                raise KubeError(response.status, f"reading Secret {namespace}/{name} failed")
            body = await response.json()
        data: dict[str, str] = {}
        for key, value in (body.get("data") or {}).items():
            data[key] = base64.b64decode(value).decode("utf-8", errors="replace")
        for key, value in (body.get("stringData") or {}).items():
            data[key] = str(value)
        return data

    async def patch_status(
        self, group: str, version: str, plural: str, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch the status subresource; None when the object is gone."""
        url = f"{self.server}/apis/{group}/{version}/namespaces/{quote(namespace)}/{plural}/{quote(name)}/status"
        headers = {"Content-Type": "application/merge-patch+json"}
        async with self.session.patch(url, json={"status": patch}, headers=headers) as response:
            if response.status == 404:
                return None
            if response.status >= 400:
                text = (await response.text())[:300]
                raise KubeError(response.status, f"patching status of {namespace}/{name} failed: {text}")
            result: dict[str, Any] = await response.json()
            return result

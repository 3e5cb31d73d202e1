"""The thin edge toward Kubernetes for what Kopf does not do for us: reading Secrets by name and
patching status from the per-object poll. Uses the same credentials Kopf logged in with.

Every name that goes into a URL is checked as what it is (`kubenames`) and escaped whole, and the URL is
handed to aiohttp as already encoded, so that nothing in it is re-normalised (a `..` segment resolved)
before it is sent.
"""

from __future__ import annotations

import base64
import binascii
import ssl
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import kopf
from yarl import URL

from . import kubenames


class KubeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class SecretNotText(ValueError):
    """A Secret value that is not UTF-8 text; names the Secret and the key, never the value."""

    def __init__(self, namespace: str, name: str, key: str) -> None:
        self.namespace, self.name, self.key = namespace, name, key
        super().__init__(
            f"Secret {namespace}/{name} key {key!r} is not UTF-8 text; Blaxel values are strings, "
            "so it is not sent (it is never altered)"
        )


class SecretData(Mapping[str, str]):
    """A Secret's data, decoded per key on access: strictly as UTF-8, or SecretNotText.

    Only the keys used are decoded, so a binary key nobody references does not get in the way.
    """

    def __init__(self, namespace: str, name: str, raw: Mapping[str, bytes]) -> None:
        self._where = (namespace, name)
        self._raw = dict(raw)

    def __getitem__(self, key: str) -> str:
        value = self._raw[key]
        try:
            return value.decode("utf-8")  # strict: never replaced, never altered
        except UnicodeDecodeError:
            raise SecretNotText(*self._where, key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:  # never the values
        return f"SecretData({'/'.join(self._where)}, keys={sorted(self._raw)})"


def api_url(base: str, *segments: str) -> URL:
    """`base` + each segment escaped whole (`/`, `%`, `?`, `#` included), as an already encoded URL:
    aiohttp then sends the path as is, with no `..` or `.` segment resolved."""
    path = "".join("/" + quote(segment, safe="") for segment in segments)
    return URL(base + path, encoded=True)


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
        self.server = str(URL(info.server)).rstrip("/")  # encoded form, as api_url expects
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

    async def get_secret(self, namespace: str, name: str) -> SecretData | None:
        """The Secret's data (decoded per key, see SecretData), or None when it does not exist.

        InvalidName (before any request) when the namespace or the name is not a valid one."""
        kubenames.namespace(namespace)
        kubenames.secret_name(name)
        url = api_url(self.server, "api", "v1", "namespaces", namespace, "secrets", name)
        async with self.session.get(url) as response:
            if response.status == 404:
                return None
            if response.status >= 400:
                raise KubeError(response.status, f"reading Secret {namespace}/{name} failed")
            body = await response.json()
        raw: dict[str, bytes] = {}
        for key, value in (body.get("data") or {}).items():
            try:
                raw[key] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                raise KubeError(
                    500, f"the API answered Secret {namespace}/{name} with key {key!r} not in base64"
                ) from None
        for key, value in (body.get("stringData") or {}).items():
            raw[key] = str(value).encode("utf-8")
        return SecretData(namespace, name, raw)

    async def replace_finalizers(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str,
        name: str,
        current: list[str],
        finalizers: list[str],
    ) -> bool:
        """Set metadata.finalizers to `finalizers` if it is still `current` (a JSON patch `test`: a
        finalizer added or removed meanwhile is never lost). False when it changed or the object is gone.

        InvalidName (before any request) when a path segment is not a valid one."""
        kubenames.subdomain(group, "API group")
        kubenames.label(version, "API version")
        kubenames.label(plural, "resource plural")
        kubenames.namespace(namespace)
        kubenames.object_name(name)
        url = api_url(self.server, "apis", group, version, "namespaces", namespace, plural, name)
        patch = [
            {"op": "test", "path": "/metadata/finalizers", "value": current},
            {"op": "replace", "path": "/metadata/finalizers", "value": finalizers},
        ]
        headers = {"Content-Type": "application/json-patch+json"}
        async with self.session.patch(url, json=patch, headers=headers) as response:
            if response.status in (404, 409, 422):
                return False
            if response.status >= 400:
                text = (await response.text())[:300]
                raise KubeError(response.status, f"patching finalizers of {namespace}/{name} failed: {text}")
            return True

    async def patch_status(
        self, group: str, version: str, plural: str, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch the status subresource; None when the object is gone.

        InvalidName (before any request) when a path segment is not a valid one."""
        kubenames.subdomain(group, "API group")
        kubenames.label(version, "API version")
        kubenames.label(plural, "resource plural")
        kubenames.namespace(namespace)
        kubenames.object_name(name)
        url = api_url(self.server, "apis", group, version, "namespaces", namespace, plural, name, "status")
        headers = {"Content-Type": "application/merge-patch+json"}
        async with self.session.patch(url, json={"status": patch}, headers=headers) as response:
            if response.status == 404:
                return None
            if response.status >= 400:
                text = (await response.text())[:300]
                raise KubeError(response.status, f"patching status of {namespace}/{name} failed: {text}")
            result: dict[str, Any] = await response.json()
            return result

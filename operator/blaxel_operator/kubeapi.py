"""The thin edge toward Kubernetes for what Kopf does not do for us: reading Secrets by name and
patching status. Uses the login Kopf uses (kubelogin.KubeLogin): a 401 gets fresh credentials and one retry.

Every name that goes into a URL is checked as what it is (`kubenames`) and escaped whole, and the URL is
handed to aiohttp as already encoded, so that nothing in it is re-normalised (a `..` segment resolved)
before it is sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import kopf
from yarl import URL

from . import kubenames
from .kubelogin import KubeLogin


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


def answer(status: int, body: bytes, absent: tuple[int, ...], what: str) -> dict[str, Any] | None:
    """A JSON object answer; None for a status in `absent`; a KubeError (its text cut short) for others."""
    if status in absent:
        return None
    if status >= 400:
        raise KubeError(status, f"{what} failed: {body[:300].decode(errors='replace')}")
    result: dict[str, Any] = json.loads(body)
    return result


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

    async def get_secret(self, namespace: str, name: str) -> SecretData | None:
        """The Secret's data (decoded per key, see SecretData), or None when it does not exist.

        InvalidName (before any request) when the namespace or the name is not a valid one."""
        kubenames.namespace(namespace)
        kubenames.secret_name(name)
        status, body = await self._request("GET", ("api", "v1", "namespaces", namespace, "secrets", name))
        if status == 404:
            return None
        if status >= 400:
            raise KubeError(status, f"reading Secret {namespace}/{name} failed")
        secret = json.loads(body)
        raw: dict[str, bytes] = {}
        for key, value in (secret.get("data") or {}).items():
            try:
                raw[key] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                raise KubeError(
                    500, f"the API answered Secret {namespace}/{name} with key {key!r} not in base64"
                ) from None
        for key, value in (secret.get("stringData") or {}).items():
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
        segments = ("apis", group, version, "namespaces", namespace, plural, name)
        patch = [
            {"op": "test", "path": "/metadata/finalizers", "value": current},
            {"op": "replace", "path": "/metadata/finalizers", "value": finalizers},
        ]
        headers = {"Content-Type": "application/json-patch+json"}
        status, body = await self._request("PATCH", segments, json=patch, headers=headers)
        # 409/422: the `test` failed (the finalizers changed meanwhile); 404: the object is gone
        return answer(status, body, (404, 409, 422), f"patching finalizers of {namespace}/{name}") is not None

    async def list_pages(
        self, group: str, version: str, plural: str, namespace: str | None = None, limit: int = 500
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every object of a custom resource (in `namespace`, or in all), a page of `limit` at a time."""
        kubenames.subdomain(group, "API group")
        kubenames.label(version, "API version")
        kubenames.label(plural, "resource plural")
        scope: tuple[str, ...] = () if namespace is None else ("namespaces", kubenames.namespace(namespace))
        segments = ("apis", group, version, *scope, plural)
        token = ""
        while True:
            params = {"limit": str(limit), **({"continue": token} if token else {})}
            status, body = await self._request("GET", segments, params=params)
            listing = answer(status, body, (), f"listing {plural}") or {}
            yield [item for item in listing.get("items") or [] if isinstance(item, dict)]
            token = str((listing.get("metadata") or {}).get("continue") or "")
            if not token:
                return

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
        segments = ("apis", group, version, "namespaces", namespace, plural, name, "status")
        status, body = await self._request(
            "PATCH",
            segments,
            json={"status": patch},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        return answer(status, body, (404,), f"patching status of {namespace}/{name}")

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A coordination.k8s.io/v1 Lease, or None when there is none."""
        kubenames.namespace(namespace)
        kubenames.object_name(name)
        segments = ("apis", "coordination.k8s.io", "v1", "namespaces", namespace, "leases", name)
        status, body = await self._request("GET", segments)
        return answer(status, body, (404,), f"reading Lease {namespace}/{name}")

    async def write_lease(self, namespace: str, lease: Mapping[str, Any]) -> dict[str, Any] | None:
        """Create the Lease (no resourceVersion) or replace it (its resourceVersion must still be the
        current one). None when another writer came first (409)."""
        name = str((lease.get("metadata") or {}).get("name") or "")
        kubenames.namespace(namespace)
        kubenames.object_name(name)
        segments: tuple[str, ...] = ("apis", "coordination.k8s.io", "v1", "namespaces", namespace, "leases")
        replacing = bool((lease.get("metadata") or {}).get("resourceVersion"))
        if replacing:
            segments += (name,)
        status, body = await self._request("PUT" if replacing else "POST", segments, json=dict(lease))
        return answer(status, body, (409,), f"writing Lease {namespace}/{name}")

    async def _request(
        self,
        method: str,
        segments: tuple[str, ...],
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        rejected: kopf.ConnectionInfo | None = None
        while True:
            try:
                info = await self.login.current(rejected)
            except kopf.LoginError as exc:
                raise KubeError(401, f"cannot log in to Kubernetes: {exc}") from exc
            url = api_url(str(URL(info.server)).rstrip("/"), *segments)
            async with self._client().request(
                method,
                url,
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

"""A Kubernetes API server emulator that behaves like kube-apiserver, for tests, the demo and benchmarks.

Kopf operators and `kubectl` (1.36) work against it. What it does like the apiserver:

* objects get `uid`, `creationTimestamp`, a global `resourceVersion` bumped on every change (no-op writes
  change nothing and emit no event), `generation` bumped only by changes outside metadata and status;
* namespace from the URL (mismatch: 400), namespaces must exist (404) and not be terminating (403),
  `generateName` (random suffix, retried on collisions), apiserver-style `Status` errors
  (NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Expired, UnsupportedMediaType, ...);
* the status subresource: create drops `.status`, `/status` writes change only the status, main writes
  keep the stored status;
* PUT (stale `metadata.resourceVersion`: 409; custom resources require it), PATCH as JSON merge patch,
  JSON patch (a failed `test`: 422), strategic merge patch for built-ins (415 for custom resources, like the
  apiserver, unless `strategic_merge_on_custom_resources=True`), server-side apply as a simple merge; `dryRun=All`; `fieldValidation` Strict/Warn/Ignore;
* finalizers: DELETE sets `deletionTimestamp` (the object stays), removing the last finalizer removes it,
  no new finalizers on a deleting object (422); namespaces terminate and delete their content;
* list with label and field selectors, `limit`/`continue`; watch (also `/watch/` paths) across or per
  namespace with selectors (objects leaving a selector are DELETED), from a resourceVersion with a replay from
  a bounded history (too old: an ERROR event with a 410 Expired Status), `sendInitialEvents`, periodic
  BOOKMARKs, `timeoutSeconds`;
* opt-in bearer-token authentication (`token_check=TokenCheck(ttl=...)`, see kube_auth): tokens issued by
  an exec credential plugin expire after a few seconds, then 401 with the apiserver's `Status` body; opt-in
  TLS (`tls=True`: a self-signed certificate, its CA in the kubeconfig), as kubectl sends tokens only over TLS;
* discovery (`/api`, `/apis`, group/versions) for built-ins, CRDs loaded from directories or created
  through the API (served immediately), Kopf's peering CRDs; OpenAPI v3 for kubectl; Tables with the CRD's
  printer columns (`kubectl get`), `PartialObjectMetadata`;
* CRD schemas: structural pruning (also of status), defaults, validation (types, enums, required, patterns,
  bounds, lengths, counts, formats, list types) and `x-kubernetes-validations` CEL rules incl. transition
  rules, with ratcheting, rejected with 422 and the apiserver's messages and causes.

Python usage::

    async with KubeEmulator(crds_dirs=["crds"]) as kube:
        kube.write_kubeconfig(tmp_path / "kubeconfig")
        ... kube.url, kube.get_object("blaxel.ai", "v1alpha1", "blaxelagents", "default", "x") ...

In pytest (asyncio_mode=auto), a fixture::

    @pytest.fixture
    async def kube() -> AsyncIterator[KubeEmulator]:
        async with KubeEmulator(crds_dirs=[REPO / "crds"], bookmark_interval=0.2) as emulator:
            yield emulator

In-process helpers (call them on the emulator's loop): `create_object`, `get_object`, `list_objects`,
`patch_object` (merge/json/strategic/apply, also `subresource="status"`), `replace_object`, `delete_object`,
`seed_object` (stores as given: no validation), `install_crd`/`load_crds`, and waiting without polling:
`await wait_for(predicate)`, `wait_for_object(...)`, `wait_for_absence(...)` (re-checked on every change and
every watch start/end). `intercept`: an async hook that may hold or answer a request (fault injection). Counters: `write_counts[(method, plural, subresource)]`, `object_write_counts[(plural,
namespace, name)]`, `writes(plural, method=..., subresource=...)`, `request_count`, `request_log` (method, raw
path of the latest requests), `reset_counters()`.

For synchronous code (e.g. `kopf.testing.KopfRunner`, which blocks the calling thread), run it in a thread:
`with ThreadedKubeEmulator(crds_dirs=[...]) as kube: kube.call(kube.emulator.get_object, ...)`.

Standalone: `python -m blaxel_devkit.kube --port 8001 --crds crds/ --kubeconfig /tmp/kubeconfig`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import collections
import concurrent.futures
import functools
import json
import logging
import signal
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import yaml
from aiohttp import web

from blaxel_devkit import kube_proto
from blaxel_devkit.kube_auth import TokenCheck, self_signed_certificate
from blaxel_devkit.kube_query import partial_metadata, table
from blaxel_devkit.kube_resources import (
    DEFAULT_BUILTINS,
    ResourceType,
    document_hash,
    openapi_gv_document,
)
from blaxel_devkit.kube_store import (
    JSON,
    KubeApiError,
    KubeState,
    Watcher,
    WriteResult,
    bad_request,
    decode_continue,
    encode_continue,
    method_not_allowed,
    parse_resource_version,
    resource_not_found,
    unsupported_media_type,
)
from blaxel_operator.crdschema import deep_copy

__all__ = [
    "DEFAULT_BUILTINS",
    "KubeApiError",
    "KubeEmulator",
    "ThreadedKubeEmulator",
    "add_arguments",
    "main",
    "run",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

SERVER_VERSION = {
    "major": "1",
    "minor": "36",
    "emulationMajor": "1",
    "emulationMinor": "36",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "35",
    "gitVersion": "v1.36.0-blaxel-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
JSON_TYPES = ("application/json", "", "text/plain", "application/octet-stream")
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
UNAUTHORIZED = KubeApiError(401, "Unauthorized", "Unauthorized")  # the apiserver's answer, word for word


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


@functools.lru_cache(maxsize=64)
def _yaml_documents(path: str, mtime_ns: int, size: int) -> tuple[Any, ...]:
    """The parsed documents of a YAML file, cached by path and change time (tests load CRDs often)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as stream:
        return tuple(yaml.load_all(stream, Loader=loader))


class KubeEmulator:
    """An in-memory kube-apiserver on a local port (see the module docstring)."""

    def __init__(
        self,
        crds_dirs: Iterable[str | Path] = (),
        *,
        crds: Iterable[JSON] = (),
        builtins: Iterable[str] = DEFAULT_BUILTINS,
        namespaces: Iterable[str] = ("default", "kube-system", "kube-public", "kube-node-lease"),
        kopf_peering: bool = True,
        history_size: int = 10_000,
        bookmark_interval: float = 5.0,
        watch_queue_limit: int = 100_000,
        strategic_merge_on_custom_resources: bool = False,
        request_log_size: int = 10_000,
        token_check: TokenCheck | None = None,
        tls: bool = False,
    ) -> None:
        self.state = KubeState(
            builtins=tuple(builtins),
            namespaces=tuple(namespaces),
            kopf_peering=kopf_peering,
            history_size=history_size,
            watch_queue_limit=watch_queue_limit,
        )
        self.state.strategic_merge_on_custom_resources = strategic_merge_on_custom_resources
        self.bookmark_interval = bookmark_interval
        self.token_check = token_check  # None: every request is allowed
        self.tls = tls
        self.ca_data: bytes | None = None  # the PEM certificate clients trust, with tls=True
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        # (HTTP method, plural, subresource or None) -> number of write requests received
        self.write_counts: collections.Counter[tuple[str, str, str | None]] = collections.Counter()
        # (plural, namespace or None, name) -> number of write requests received for that object
        self.object_write_counts: collections.Counter[tuple[str, str | None, str]] = collections.Counter()
        # (plural, namespace or None, name, user) -> write requests for that object by that user, the user
        # being the bearer token the request carried (an audit log's "who"; e.g. one token per shard)
        self.object_writers: collections.Counter[tuple[str, str | None, str, str]] = collections.Counter()
        self.request_count = 0
        # (HTTP method, path as sent: undecoded, with the query) of the latest requests
        self.request_log: collections.deque[tuple[str, str]] = collections.deque(maxlen=request_log_size)
        # A test's hook run before each request is served: it may hold the request (await), or answer it
        # instead of the emulator (return a response), e.g. to delay or refuse one kind of write.
        self.intercept: Callable[[web.Request], Awaitable[web.StreamResponse | None]] | None = None
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._openapi_cache: dict[tuple[str, str], tuple[str, bytes]] = {}
        self._openapi_key: tuple[tuple[str, str, str], ...] = ()
        for directory in crds_dirs:
            self.load_crds(directory)
        for crd in crds:
            self.install_crd(crd)

    # ------------------------------------------------------------------------------------------------
    # lifecycle
    # ------------------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0: a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=self._ssl_context())
        await site.start()
        address = runner.addresses[0]
        self._host, self._port = host, int(address[1])
        self._runner = runner
        self._url = f"{'https' if self.tls else 'http'}://{host}:{self._port}"
        return self._url

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        if self._tls_dir is None:
            self._tls_dir = tempfile.TemporaryDirectory(prefix="kube-emulator-tls-")
        cert, key = self_signed_certificate(Path(self._tls_dir.name))
        self.ca_data = cert.read_bytes()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        return context

    async def stop(self) -> None:
        if self._runner is None:
            return
        self.state.close_watchers()
        await asyncio.sleep(0)
        runner, self._runner = self._runner, None
        await runner.cleanup()
        if self._tls_dir is not None:
            self._tls_dir.cleanup()
            self._tls_dir = None

    async def __aenter__(self) -> KubeEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not started")
        return self._url

    def kubeconfig(
        self, namespace: str = "default", context: str = "kube-emulator", token: str = "kube-emulator"
    ) -> JSON:
        """Any token is accepted (without a token check); it names the writer in `object_writers`."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": self._kubeconfig_cluster()}],
            "users": [{"name": context, "user": self._kubeconfig_user(token)}],
            "contexts": [
                {"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}
            ],
            "current-context": context,
            "preferences": {},
        }

    def _kubeconfig_cluster(self) -> JSON:
        cluster: JSON = {"server": self.url}
        if self.ca_data is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_data).decode()
        return cluster

    def _kubeconfig_user(self, token: str) -> JSON:
        return self.token_check.exec_user() if self.token_check is not None else {"token": token}

    def write_kubeconfig(
        self,
        path: str | Path,
        namespace: str = "default",
        context: str = "kube-emulator",
        token: str = "kube-emulator",
    ) -> Path:
        """Write a kubeconfig pointing at this emulator (for kubectl, Kopf, the kubernetes client)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig(namespace, context, token), sort_keys=False))
        return target

    # ------------------------------------------------------------------------------------------------
    # in-process API for tests (synchronous: call them from the loop the emulator runs in)
    # ------------------------------------------------------------------------------------------------

    def resource(self, group: str, version: str, plural: str) -> ResourceType:
        return self.state.type(group, version, plural)

    @property
    def resource_version(self) -> int:
        return self.state.rv

    def load_crds(self, path: str | Path) -> list[str]:
        """Install every CustomResourceDefinition of a YAML/JSON file or of a directory's files."""
        source = Path(path)
        files = (
            sorted(p for p in source.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
            if source.is_dir()
            else [source]
        )
        names: list[str] = []
        for file in files:
            stat = file.stat()
            for doc in _yaml_documents(str(file), stat.st_mtime_ns, stat.st_size):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    names.append(self.install_crd(deep_copy(doc)))
        return names

    def install_crd(self, manifest: JSON) -> str:
        """Create (or replace) a CRD; its resources are served at once."""
        crds = self.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        name = str((manifest.get("metadata") or {}).get("name", ""))
        existing = self.state.store(crds).get("", name)
        if existing is None:
            return str(self.state.create(crds, None, manifest).obj["metadata"]["name"])
        body = dict(manifest)
        body["metadata"] = dict(manifest.get("metadata") or {})
        body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        return str(self.state.update(crds, None, name, body).obj["metadata"]["name"])

    def get_object(
        self, group: str, version: str, plural: str, namespace: str | None, name: str
    ) -> JSON | None:
        """A copy of the stored object, or None."""
        rt = self.resource(group, version, plural)
        obj = self.state.store(rt).get(namespace or "", name)
        return json.loads(_dumps(self.state.render(rt, obj))) if obj is not None else None

    def list_objects(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[JSON]:
        rt = self.resource(group, version, plural)
        objs = self.state.select(rt, namespace, label_selector, field_selector)
        return [json.loads(_dumps(self.state.render(rt, o))) for o in objs]

    def create_object(
        self, group: str, version: str, plural: str, body: JSON, namespace: str | None = None
    ) -> JSON:
        """Create through the same path as POST (validation, defaults, events); raises KubeApiError."""
        rt = self.resource(group, version, plural)
        if namespace is None and rt.namespaced:
            namespace = (body.get("metadata") or {}).get("namespace") or "default"
        return self._copy(rt, self.state.create(rt, namespace, body))

    def replace_object(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None,
        name: str,
        body: JSON,
        *,
        subresource: str | None = None,
    ) -> JSON:
        rt = self.resource(group, version, plural)
        return self._copy(rt, self.state.update(rt, namespace, name, body, subresource=subresource))

    def patch_object(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
    ) -> JSON:
        """Patch like PATCH (`patch_type`: merge, json, strategic, apply); raises KubeApiError."""
        rt = self.resource(group, version, plural)
        result = self.state.patch(
            rt, namespace, name, patch_type, patch, subresource=subresource, field_manager="kube-emulator"
        )
        return self._copy(rt, result)

    def delete_object(self, group: str, version: str, plural: str, namespace: str | None, name: str) -> JSON:
        rt = self.resource(group, version, plural)
        return self._copy(rt, self.state.delete(rt, namespace, name))

    def seed_object(
        self, group: str, version: str, plural: str, body: JSON, namespace: str | None = None
    ) -> JSON:
        """Store an object as given (no validation, pruning, defaulting or status isolation), with events.

        Server fields (uid, creationTimestamp, resourceVersion, generation) are filled in when absent. Use it
        for objects a real cluster could hold but the API would not accept now (e.g. made by an older CRD).
        """
        rt = self.resource(group, version, plural)
        if namespace is None and rt.namespaced:
            namespace = (body.get("metadata") or {}).get("namespace") or "default"
        return self._copy(rt, WriteResult(self.state.seed(rt, namespace, body)))

    def reset_counters(self) -> None:
        self.write_counts.clear()
        self.object_write_counts.clear()
        self.object_writers.clear()
        self.request_count = 0
        self.request_log.clear()

    def counters(self) -> JSON:
        """The request and write counters as JSON (for `--counters-port` and benchmarks)."""
        check = self.token_check
        return {
            "request_count": self.request_count,
            "resource_version": self.resource_version,
            **({"auth": check.counters()} if check is not None else {}),
            "writes": [
                {"method": m, "plural": p, "subresource": sub, "count": c}
                for (m, p, sub), c in self.write_counts.items()
            ],
            "object_writes": [
                {"plural": p, "namespace": ns, "name": n, "count": c}
                for (p, ns, n), c in self.object_write_counts.items()
            ],
            "object_writers": [
                {"plural": p, "namespace": ns, "name": n, "user": u, "count": c}
                for (p, ns, n, u), c in self.object_writers.items()
            ],
        }

    def writes(
        self, plural: str, *, method: str | None = None, subresource: str | bool | None = False
    ) -> int:
        """Sum of write requests to a resource, optionally of one method and/or one subresource."""
        return sum(
            count
            for (m, p, s), count in self.write_counts.items()
            if p == plural and (method is None or m == method) and (subresource is False or s == subresource)
        )

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0) -> T:
        """Wait until `predicate()` is truthy; return its value.

        It is re-checked after every stored change and every watch start/end (no polling)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            try:
                await asyncio.wait_for(self.state.changed(), timeout=remaining)
            except TimeoutError:
                pass

    async def wait_for_object(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None,
        name: str,
        predicate: Callable[[JSON], Any] | None = None,
        timeout: float = 10.0,
    ) -> JSON:
        def check() -> JSON | None:
            obj = self.get_object(group, version, plural, namespace, name)
            return obj if obj is not None and (predicate is None or predicate(obj)) else None

        return await self.wait_for(check, timeout)

    async def wait_for_absence(
        self, group: str, version: str, plural: str, namespace: str | None, name: str, timeout: float = 10.0
    ) -> None:
        rt = self.resource(group, version, plural)
        await self.wait_for(lambda: self.state.store(rt).get(namespace or "", name) is None, timeout)

    def _copy(self, rt: ResourceType, result: WriteResult) -> JSON:
        return (
            json.loads(_dumps(self.state.render(rt, result.obj)))
            if isinstance(result.obj, dict)
            else result.obj
        )

    # ------------------------------------------------------------------------------------------------
    # HTTP
    # ------------------------------------------------------------------------------------------------

    def _json(self, data: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
        response = web.Response(body=_dumps(data), status=status, content_type="application/json")
        for warning in warnings or []:
            response.headers.add("Warning", f"299 - {json.dumps(warning)}")
        return response

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.request_count += 1
        self.request_log.append((request.method, request.raw_path))
        if not self._authenticated(request):
            return self._json(UNAUTHORIZED.status(), status=401)
        try:
            if self.intercept is not None:
                answer = await self.intercept(request)
                if answer is not None:
                    return answer
            return await self._route(request)
        except KubeApiError as exc:
            return self._json(exc.status(), status=exc.code)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:
            logger.exception("kube emulator: internal error on %s %s", request.method, request.path_qs)
            error = KubeApiError(500, "InternalError", f"Internal error occurred: {exc!r}", {})
            return self._json(error.status(), status=500)

    def _authenticated(self, request: web.Request) -> bool:
        if self.token_check is None or request.path in ("/healthz", "/livez", "/readyz"):
            return True
        return self.token_check.allows(request.headers.get("Authorization"))

    async def _route(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        if not parts:
            return self._json({"paths": self._root_paths()})
        head = parts[0]
        if head in ("healthz", "livez", "readyz") and len(parts) == 1:
            return web.Response(text="ok")
        if parts == ["version"]:
            return self._json(SERVER_VERSION)
        if head == "openapi":
            return self._openapi(parts)
        if head == "api":
            if len(parts) == 1:
                return self._json(
                    {
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [
                            {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self._host}:{self._port}"}
                        ],
                    }
                )
            group, version, rest = "", parts[1], parts[2:]
        elif head == "apis":
            if len(parts) == 1:
                return self._json(self._group_list())
            if len(parts) == 2:
                return self._json(self._group(parts[1]))
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise resource_not_found()
        if not rest:
            return self._json(self._resource_list(group, version))

        watch = False
        if rest[0] == "watch":
            watch, rest = True, rest[1:]
            if not rest:
                raise resource_not_found()
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise resource_not_found()
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        rt = self.state.find_type(group, version, plural)
        if rt is None:
            raise resource_not_found()
        if (namespace is not None and not rt.namespaced) or (namespace is None and rt.namespaced and name):
            raise resource_not_found()
        if subresource is not None and subresource not in rt.subresources:
            raise resource_not_found()

        if method in WRITE_METHODS:
            self.write_counts[(method, plural, subresource)] += 1
            if name is not None:
                self.object_write_counts[(plural, namespace, name)] += 1
                user = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
                self.object_writers[(plural, namespace, name, user)] += 1

        query = request.query
        if method == "GET":
            if name is None:
                if watch or _flag(query.get("watch")):
                    return await self._watch(request, rt, namespace)
                return self._list(request, rt, namespace)
            if watch:
                return await self._watch(request, rt, namespace, name=name)
            return self._single(request, rt, self.state.get(rt, namespace, name))

        dry_run = query.get("dryRun") == "All"
        field_validation = query.get("fieldValidation") or "Warn"
        if field_validation not in ("Strict", "Warn", "Ignore"):
            raise bad_request(f"fieldValidation: Unsupported value: {json.dumps(field_validation)}")
        if method == "POST" and name is None:
            body = await self._body(request)
            result = self.state.create(
                rt, namespace, body, dry_run=dry_run, field_validation=field_validation
            )
            meta = result.obj["metadata"]
            self.object_write_counts[(plural, namespace, meta["name"])] += 1
            return self._single(request, rt, result.obj, status=201, warnings=result.warnings)
        if method == "PUT" and name is not None:
            body = await self._body(request)
            result = self.state.update(
                rt,
                namespace,
                name,
                body,
                subresource=subresource,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            return self._single(request, rt, result.obj, warnings=result.warnings)
        if method == "PATCH" and name is not None:
            ctype = request.content_type
            patch_type = PATCH_TYPES.get(ctype)
            if patch_type is None:
                raise unsupported_media_type(ctype, list(PATCH_TYPES))
            body = await self._body(request, yaml_ok=patch_type == "apply")
            existed = patch_type == "apply" and self.state.store(rt).get(namespace or "", name) is not None
            result = self.state.patch(
                rt,
                namespace,
                name,
                patch_type,
                body,
                subresource=subresource,
                dry_run=dry_run,
                field_validation=field_validation,
                field_manager=query.get("fieldManager"),
            )
            status = 201 if patch_type == "apply" and not existed else 200
            return self._single(request, rt, result.obj, status=status, warnings=result.warnings)
        if method == "DELETE":
            options = await self._body(request, optional=True)
            if name is None:
                deleted = self.state.delete_collection(
                    rt,
                    namespace,
                    query.get("labelSelector"),
                    query.get("fieldSelector"),
                    options if isinstance(options, dict) else None,
                    dry_run=dry_run,
                )
                return self._json(
                    {
                        "kind": rt.list_kind,
                        "apiVersion": rt.api_version,
                        "metadata": {"resourceVersion": str(self.state.rv)},
                        "items": [self.state.render(rt, o) for o in deleted],
                    }
                )
            if subresource is not None:
                raise method_not_allowed(method)
            result = self.state.delete(
                rt, namespace, name, options if isinstance(options, dict) else None, dry_run=dry_run
            )
            if result.pending:
                return self._single(request, rt, result.obj, status=202)
            if rt.returns_deleted_object:
                return self._single(request, rt, result.obj)
            details: JSON = {"name": name, "kind": rt.plural, "uid": result.obj["metadata"].get("uid")}
            if rt.group:
                details["group"] = rt.group
            return self._json(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
            )
        raise method_not_allowed(method)

    async def _body(self, request: web.Request, *, yaml_ok: bool = False, optional: bool = False) -> Any:
        raw = await request.read()
        if not raw.strip():
            if optional:
                return None
            raise bad_request("the body of the request is empty")
        ctype = request.content_type
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return kube_proto.decode(raw)
            except kube_proto.ProtobufError:
                raise unsupported_media_type(ctype, ["application/json", "application/yaml"]) from None
        try:
            if ctype in YAML_TYPES:
                return yaml.safe_load(raw)
            if ctype in JSON_TYPES or ctype in PATCH_TYPES:
                return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
        raise unsupported_media_type(ctype, ["application/json", "application/yaml"])

    # -- reading

    def _accept_as(self, request: web.Request) -> str:
        """The representation asked for: "" (the object/list), "Table" or "PartialObjectMetadata"."""
        for part in request.headers.get("Accept", "").split(","):
            media, *params = (p.strip() for p in part.split(";"))
            values = dict(p.split("=", 1) for p in params if "=" in p)
            if "as" in values:
                if values.get("g") == "meta.k8s.io" and values["as"] in (
                    "Table",
                    "PartialObjectMetadata",
                    "PartialObjectMetadataList",
                ):
                    return values["as"].removesuffix("List")
                continue
            if media in ("application/json", "*/*", "application/*", ""):
                return ""
        return ""

    def _single(
        self,
        request: web.Request,
        rt: ResourceType,
        obj: JSON,
        *,
        status: int = 200,
        warnings: list[str] | None = None,
    ) -> web.Response:
        obj = self.state.render(rt, obj)
        representation = self._accept_as(request)
        if representation == "Table":
            include = request.query.get("includeObject", "Metadata")
            data = table(
                rt.columns,
                [obj],
                resource_version=obj["metadata"].get("resourceVersion", ""),
                include_object=include,
            )
            return self._json(data, status=status, warnings=warnings)
        if representation == "PartialObjectMetadata":
            return self._json(partial_metadata(obj), status=status, warnings=warnings)
        return self._json(obj, status=status, warnings=warnings)

    def _list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        query = request.query
        parse_resource_version(query.get("resourceVersion"))
        items = self.state.select(rt, namespace, query.get("labelSelector"), query.get("fieldSelector"))
        list_rv = self.state.rv
        token = query.get("continue")
        if token:
            list_rv, start = decode_continue(token)
            keys = [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in items]
            items = items[bisect.bisect_right(keys, start) :]
        limit_text = query.get("limit")
        next_token = ""
        remaining: int | None = None
        if limit_text:
            try:
                limit = int(limit_text)
            except ValueError:
                raise bad_request(f'limit: Invalid value: "{limit_text}"') from None
            if 0 < limit < len(items):
                remaining = len(items) - limit
                items = items[:limit]
                last = items[-1]["metadata"]
                next_token = encode_continue(list_rv, last.get("namespace", ""), last["name"])
        rendered = [self.state.render(rt, o) for o in items]
        representation = self._accept_as(request)
        if representation == "Table":
            include = query.get("includeObject", "Metadata")
            data = table(
                rt.columns,
                rendered,
                resource_version=str(list_rv),
                include_object=include,
                continue_token=next_token,
                remaining=remaining,
            )
            return self._json(data)
        metadata: JSON = {"resourceVersion": str(list_rv)}
        if next_token:
            metadata["continue"] = next_token
            metadata["remainingItemCount"] = remaining
        if representation == "PartialObjectMetadata":
            return self._json(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                    "items": [partial_metadata(o) for o in rendered],
                }
            )
        return self._json(
            {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata, "items": rendered}
        )

    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str | None = None
    ) -> web.StreamResponse:
        query = request.query
        since = parse_resource_version(query.get("resourceVersion"))
        send_initial_param = query.get("sendInitialEvents")
        bookmarks = _flag(query.get("allowWatchBookmarks"))
        if send_initial_param is not None:
            initial = _flag(send_initial_param)
            if initial and not (bookmarks and query.get("resourceVersionMatch") == "NotOlderThan"):
                raise KubeApiError(
                    422,
                    "Invalid",
                    'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: '
                    "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled and "
                    "resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true",
                    {"group": "meta.k8s.io", "kind": "ListOptions"},
                )
        else:
            initial = since is None or since == 0
        field_selector = query.get("fieldSelector")
        if name is not None:
            field_selector = f"metadata.name={name}" + (f",{field_selector}" if field_selector else "")
        timeout_text = query.get("timeoutSeconds")
        deadline: float | None = None
        if timeout_text:
            try:
                deadline = time.monotonic() + float(timeout_text)
            except ValueError:
                raise bad_request(f'timeoutSeconds: Invalid value: "{timeout_text}"') from None
        table_mode = self._accept_as(request) == "Table"
        include = query.get("includeObject", "Metadata")

        error: KubeApiError | None = None
        watcher: Watcher | None = None
        first: list[tuple[str, JSON]] = []
        try:
            watcher, first = self.state.watch(
                rt, namespace, query.get("labelSelector"), field_selector, None if initial else since, initial
            )
        except KubeApiError as exc:
            if exc.code != 410:
                raise
            error = exc  # the apiserver answers 200 and streams one ERROR event

        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        await response.prepare(request)
        definitions_sent = False

        async def send(kind: str, obj: JSON) -> None:
            nonlocal definitions_sent
            if table_mode and kind not in ("ERROR", "BOOKMARK"):
                obj = table(
                    rt.columns,
                    [obj],
                    resource_version=str(obj["metadata"].get("resourceVersion", "")),
                    include_object=include,
                    with_definitions=not definitions_sent,
                )
                definitions_sent = True
            await response.write(_dumps({"type": kind, "object": obj}) + b"\n")

        def bookmark(initial_end: bool = False) -> JSON:
            meta: JSON = {"resourceVersion": str(self.state.rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}

        try:
            if error is not None or watcher is None:
                await send("ERROR", (error or resource_not_found()).status())
                return response
            for kind, obj in first:
                await send(kind, self.state.render(rt, obj))
            if initial and send_initial_param is not None and bookmarks:
                await send("BOOKMARK", bookmark(initial_end=True))
            interval = self.bookmark_interval if bookmarks and self.bookmark_interval > 0 else None
            next_bookmark = time.monotonic() + interval if interval else None
            queue = watcher.queue
            while True:
                if queue.empty():
                    now = time.monotonic()
                    waits = [t - now for t in (deadline, next_bookmark) if t is not None]
                    wait = max(0.0, min(waits)) if waits else None
                    try:
                        change = await asyncio.wait_for(queue.get(), timeout=wait)
                    except TimeoutError:
                        now = time.monotonic()
                        if deadline is not None and now >= deadline:
                            break
                        if next_bookmark is not None and interval and now >= next_bookmark:
                            await send("BOOKMARK", bookmark())
                            next_bookmark = now + interval
                        continue
                else:
                    change = queue.get_nowait()
                if change is None:
                    break
                event = watcher.translate(change)
                if event is not None:
                    await send(event[0], self.state.render(rt, event[1]))
        except (ConnectionResetError, ConnectionError):
            return response
        finally:
            if watcher is not None:
                self.state.unwatch(watcher)
        try:
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    # -- discovery

    def _root_paths(self) -> list[str]:
        paths = {"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi/v3"}
        for group, versions in self.state.groups().items():
            paths.add(f"/apis/{group}")
            paths.update(f"/apis/{group}/{v}" for v in versions)
        return sorted(paths)

    def _group_json(self, group: str, versions: list[str]) -> JSON:
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def _group_list(self) -> JSON:
        groups = [self._group_json(g, vs) for g, vs in self.state.groups().items()]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _group(self, group: str) -> JSON:
        versions = self.state.groups().get(group)
        if not versions:
            raise resource_not_found()
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group_json(group, versions)}

    def _resource_list(self, group: str, version: str) -> JSON:
        types = self.state.types_of(group, version)
        if not types and not (group == "" and version == "v1"):
            raise resource_not_found()
        resources: list[JSON] = []
        for rt in types:
            resources.extend(rt.discovery())
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def _openapi(self, parts: list[str]) -> web.Response:
        if len(parts) < 2 or parts[1] != "v3":
            raise resource_not_found()
        key = tuple(sorted(self.state.types))
        if key != self._openapi_key:
            self._openapi_cache.clear()
            self._openapi_key = key
        gvs = sorted({(g, v) for g, v, _ in self.state.types})
        if len(parts) == 2:
            paths: JSON = {}
            for group, version in gvs:
                prefix = f"apis/{group}/{version}" if group else f"api/{version}"
                digest, _ = self._openapi_doc(group, version)
                paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest}"}
            return self._json({"paths": paths})
        rest = parts[2:]
        if rest[0] == "api" and len(rest) == 2:
            group, version = "", rest[1]
        elif rest[0] == "apis" and len(rest) == 3:
            group, version = rest[1], rest[2]
        else:
            raise resource_not_found()
        if (group, version) not in gvs:
            raise resource_not_found()
        _, body = self._openapi_doc(group, version)
        return web.Response(body=body, content_type="application/json")

    def _openapi_doc(self, group: str, version: str) -> tuple[str, bytes]:
        cached = self._openapi_cache.get((group, version))
        if cached is None:
            document = openapi_gv_document(group, version, self.state.types_of(group, version))
            cached = (document_hash(document), _dumps(document))
            self._openapi_cache[(group, version)] = cached
        return cached


# ------------------------------------------------------------------------------------------------------
# Running in a background thread (for synchronous tests and kopf.testing.KopfRunner)
# ------------------------------------------------------------------------------------------------------


class ThreadedKubeEmulator:
    """A KubeEmulator served from its own event loop in a daemon thread.

    Use `call()` to run the emulator's synchronous helpers in that loop and `run()` for coroutines.
    """

    def __init__(self, *args: Any, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._emulator: KubeEmulator | None = None

    @property
    def emulator(self) -> KubeEmulator:
        if self._emulator is None:
            raise RuntimeError("the emulator is not started")
        return self._emulator

    @property
    def url(self) -> str:
        return self.emulator.url

    def start(self) -> str:
        ready: concurrent.futures.Future[str] = concurrent.futures.Future()
        loop = asyncio.new_event_loop()
        self._loop = loop

        def target() -> None:
            asyncio.set_event_loop(loop)

            async def boot() -> str:
                self._emulator = KubeEmulator(*self._args, **self._kwargs)
                return await self._emulator.start(self._host, self._port)

            try:
                ready.set_result(loop.run_until_complete(boot()))
            except BaseException as exc:
                ready.set_exception(exc)
                return
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=target, name="kube-emulator", daemon=True)
        self._thread.start()
        return ready.result(timeout=30)

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._emulator is not None:
            self.run(self._emulator.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> ThreadedKubeEmulator:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def run(self, awaitable: Awaitable[T], timeout: float | None = 60.0) -> T:
        if self._loop is None:
            raise RuntimeError("the emulator is not started")

        async def wrapper() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async def invoke() -> T:
            return fn(*args, **kwargs)

        return self.run(invoke())

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        return self.emulator.write_kubeconfig(path, namespace)


# ------------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on, 0 for any (default: 8001)")
    parser.add_argument(
        "--crds",
        action="append",
        default=[],
        metavar="PATH",
        help="a CRD file or directory to load (repeatable)",
    )
    parser.add_argument("--kubeconfig", metavar="PATH", help="write a kubeconfig for this server to PATH")
    parser.add_argument(
        "--namespace", default="default", help="the kubeconfig's namespace (default: default)"
    )
    parser.add_argument(
        "--bookmark-interval", type=float, default=5.0, help="seconds between watch BOOKMARKs"
    )
    parser.add_argument("--history-size", type=int, default=10_000, help="watch events kept for replays")
    parser.add_argument(
        "--token-ttl",
        type=float,
        metavar="SECONDS",
        help="check bearer tokens: the kubeconfig's exec plugin issues tokens that expire after SECONDS "
        "(off by default: every request is allowed)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a self-signed certificate (kept in the kubeconfig)",
    )
    parser.add_argument("--no-kopf-peering", action="store_true", help="do not install Kopf's peering CRDs")
    parser.add_argument(
        "--counters-port",
        type=int,
        metavar="PORT",
        help="also serve the write counters (GET, DELETE to reset) at /counters on this loopback port "
        "(0: any), apart from the Kubernetes API",
    )
    parser.add_argument(
        "--ready-file", metavar="PATH", help="once listening, write {url, counters_url} as JSON to PATH"
    )


async def _serve(args: argparse.Namespace) -> None:
    emulator = KubeEmulator(
        crds_dirs=args.crds,
        bookmark_interval=args.bookmark_interval,
        history_size=args.history_size,
        kopf_peering=not args.no_kopf_peering,
        token_check=TokenCheck(args.token_ttl) if args.token_ttl else None,
        tls=args.tls,
    )
    url = await emulator.start(args.host, args.port)
    if args.kubeconfig:
        emulator.write_kubeconfig(args.kubeconfig, args.namespace)
    counters_runner, counters_url = None, None
    if args.counters_port is not None:
        counters_runner, counters_url = await _serve_counters(emulator, args.counters_port)
    if args.ready_file:
        target = Path(args.ready_file)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps({"url": url, "counters_url": counters_url}))
        tmp.replace(target)  # readers never see half a file
    print(f"Kubernetes API emulator listening on {url}", flush=True)
    if args.kubeconfig:
        print(f"kubeconfig: {args.kubeconfig}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover (non-main threads, Windows)
            pass
    try:
        await stop.wait()
    finally:
        if counters_runner is not None:
            await counters_runner.cleanup()
        await emulator.stop()


async def _serve_counters(emulator: KubeEmulator, port: int) -> tuple[web.AppRunner, str]:
    """The write counters as JSON on a separate loopback port: kept out of the Kubernetes API paths."""

    async def get_counters(_: web.Request) -> web.Response:
        return web.json_response(emulator.counters())

    async def reset_counters(_: web.Request) -> web.Response:
        emulator.reset_counters()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/counters", get_counters)
    app.router.add_delete("/counters", reset_counters)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def run(args: argparse.Namespace) -> int:
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:  # pragma: no cover
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m blaxel_devkit.kube",
        description="Run a Kubernetes API server emulator (kube-apiserver semantics, CRD validation, in memory).",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""Drive the real operator process against local servers: used by the e2e tests, `make demo` and bench.

`KubeClient` is a tiny async client for the custom resources of every kind (by plural), Secrets and
Events (test side only);
`OperatorProcess` runs `blaxel-operator run` as a subprocess with its logs captured to a file.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

from blaxel_operator.kinds.registry import KINDS

GROUP, VERSION, PLURAL = "blaxel.ai", "v1alpha1", "blaxelagents"
# plural -> Kubernetes kind, for every kind the operator manages
KIND_OF_PLURAL = {kind.plural: kind.kind for kind in KINDS}
PLURAL_OF_KIND = {kind.kind: kind.plural for kind in KINDS}
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_for(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll `probe` until it returns a truthy value; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}; last: {str(last)[:2000]}")
        await asyncio.sleep(interval)


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """`wait_for` for synchronous code (subprocesses, blocking clients)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}; last: {str(value)[:2000]}")
        time.sleep(interval)


def condition(obj: Mapping[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return None


def is_ready(obj: Mapping[str, Any] | None) -> bool:
    cond = condition(obj, "Ready")
    meta = (obj or {}).get("metadata") or {}
    status = (obj or {}).get("status") or {}
    return bool(
        cond and cond.get("status") == "True" and status.get("observedGeneration") == meta.get("generation")
    )


class KubeClient:
    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30)

    async def close(self) -> None:
        await self.http.aclose()

    # ---- any kind, by plural (blaxelagents, blaxelfunctions, ...) --------------------------------------

    @staticmethod
    def path(plural: str, namespace: str | None = None, name: str | None = None) -> str:
        path = f"/apis/{GROUP}/{VERSION}"
        path += f"/namespaces/{namespace}/{plural}" if namespace else f"/{plural}"
        return f"{path}/{name}" if name else path

    async def create(
        self, plural: str, namespace: str, name: str, spec: Mapping[str, Any], **meta: Any
    ) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND_OF_PLURAL[plural],
            "metadata": {"name": name, "namespace": namespace, **meta},
            "spec": dict(spec),
        }
        return await self._ok(await self.http.post(self.path(plural, namespace), json=body))

    async def create_from(self, doc: Mapping[str, Any], namespace: str = "default") -> dict[str, Any] | None:
        """Create a manifest document: a resource of any kind, or a Secret (stringData); others are
        skipped (None)."""
        meta = dict(doc.get("metadata") or {})
        ns = meta.pop("namespace", None) or namespace
        name = meta.pop("name")
        if doc.get("kind") == "Secret":
            await self.apply_secret(ns, name, doc.get("stringData") or {})
            return None
        plural = PLURAL_OF_KIND.get(str(doc.get("kind")))
        if plural is None:
            return None
        return await self.create(plural, ns, name, doc.get("spec") or {}, **meta)

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        response = await self.http.get(self.path(plural, namespace, name))
        if response.status_code == 404:
            return None
        return await self._ok(response)

    async def list_all(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        body = await self._ok(await self.http.get(self.path(plural, namespace)))
        items: list[dict[str, Any]] = body.get("items") or []
        return items

    async def patch(self, plural: str, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/merge-patch+json"}
        return await self._ok(
            await self.http.patch(self.path(plural, namespace, name), json=patch, headers=headers)
        )

    async def delete(self, plural: str, namespace: str, name: str) -> None:
        response = await self.http.delete(self.path(plural, namespace, name))
        if response.status_code != 404:
            await self._ok(response)

    # ---- BlaxelAgents (the first kind; these keep their names) ---------------------------------------

    async def create_agent(
        self, namespace: str, name: str, spec: Mapping[str, Any], **meta: Any
    ) -> dict[str, Any]:
        return await self.create(PLURAL, namespace, name, spec, **meta)

    async def get_agent(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get(PLURAL, namespace, name)

    async def list_agents(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return await self.list_all(PLURAL, namespace)

    async def patch_agent(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        return await self.patch(PLURAL, namespace, name, patch)

    async def delete_agent(self, namespace: str, name: str) -> None:
        await self.delete(PLURAL, namespace, name)

    async def apply_secret(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": encoded,
        }
        path = f"/api/v1/namespaces/{namespace}/secrets"
        response = await self.http.post(path, json=body)
        if response.status_code == 409:
            headers = {"Content-Type": "application/merge-patch+json"}
            response = await self.http.patch(f"{path}/{name}", json={"data": encoded}, headers=headers)
        await self._ok(response)

    async def ensure_namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        response = await self.http.post("/api/v1/namespaces", json=body)
        if response.status_code != 409:
            await self._ok(response)

    async def events(self, namespace: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (
            await self._ok(await self.http.get(f"/api/v1/namespaces/{namespace}/events"))
        ).get("items") or []
        return items

    async def event_reasons(self, namespace: str, name: str) -> list[str]:
        return [
            str(e.get("reason"))
            for e in await self.events(namespace)
            if (e.get("involvedObject") or {}).get("name") == name
        ]

    @staticmethod
    async def _ok(response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise RuntimeError(
                f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:500]}"
            )
        body: dict[str, Any] = response.json()
        return body


class OperatorProcess:
    """`blaxel-operator run` as a subprocess (the real thing, as users run it)."""

    def __init__(
        self,
        *,
        kubeconfig: str | Path,
        api_url: str,
        api_key: str | None,
        workspace: str | None,
        log_path: str | Path,
        args: list[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.log_path = Path(log_path)
        self.args = [
            "run",
            "--all-namespaces",
            "--metrics-port",
            str(self.metrics_port),
            "--health-port",
            str(self.health_port),
            *(args or []),
        ]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("BL_", "KUBERNETES_"))}
        self.env.update({"KUBECONFIG": str(kubeconfig), "BL_API_URL": api_url, "PYTHONUNBUFFERED": "1"})
        if api_key is not None:
            self.env["BL_API_KEY"] = api_key
        if workspace is not None:
            self.env["BL_WORKSPACE"] = workspace
        self.env.update(env or {})
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, wait_healthy: bool = True) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "blaxel_operator.cli", *self.args, stdout=log, stderr=log, env=self.env
            )
        finally:
            log.close()
        self.starts += 1
        if wait_healthy:
            await self.wait_healthy()

    async def wait_healthy(self, timeout: float = 30.0) -> None:
        async with httpx.AsyncClient() as http:

            async def healthy() -> bool:
                if self.proc is not None and self.proc.returncode is not None:
                    raise RuntimeError(f"operator exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
                try:
                    response = await http.get(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1)
                except httpx.HTTPError:
                    return False
                return response.status_code == 200

            await wait_for(healthy, timeout=timeout, interval=0.1, what="operator liveness endpoint")

    async def metrics(self) -> str:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5)).text

    async def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        return self.proc.returncode

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def logs(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.log_path.read_text(errors="replace")
        return ""

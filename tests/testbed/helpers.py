"""Helpers of the Kubernetes API test bed's tests: manifests, a small HTTP client, a kubectl runner."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from blaxel_devkit.binaries import tool_path

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "crds"
TEST_CRDS = Path(__file__).resolve().parent / "crds"
AGENTS = "/apis/blaxel.ai/v1alpha1/namespaces/default/blaxelagents"
WIDGETS = "/apis/test.blaxel.ai/v1/namespaces/default/widgets"
SECRETS = "/api/v1/namespaces/default/secrets"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def agent(name: str = "agent-1", **spec: Any) -> dict[str, Any]:
    """A valid BlaxelAgent manifest."""
    return {
        "apiVersion": "blaxel.ai/v1alpha1",
        "kind": "BlaxelAgent",
        "metadata": {"name": name},
        "spec": {"runtime": {"generation": "mk3", "memory": 2048}, **spec},
    }


def widget(name: str = "w1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "test.blaxel.ai/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": 1, **spec},
    }


class Response:
    def __init__(self, status: int, body: Any, headers: dict[str, list[str]]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.body!r})"

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""


class Api:
    """A thin HTTP client: every call returns status, decoded body and headers."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        data = None if body is None else json.dumps(body)
        all_headers = {"Content-Type": content_type, **(headers or {})}
        async with self.session.request(method, path, data=data, params=params, headers=all_headers) as rsp:
            text = await rsp.text()
            decoded = json.loads(text) if text and rsp.content_type == "application/json" else text
            collected: dict[str, list[str]] = {}
            for key, value in rsp.headers.items():
                collected.setdefault(key.lower(), []).append(value)
            return Response(rsp.status, decoded, collected)

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any, **kwargs: Any) -> Response:
        return await self.request("POST", path, body, **kwargs)

    async def put(self, path: str, body: Any, **kwargs: Any) -> Response:
        return await self.request("PUT", path, body, **kwargs)

    async def patch(self, path: str, body: Any, content_type: str = MERGE, **kwargs: Any) -> Response:
        return await self.request("PATCH", path, body, content_type=content_type, **kwargs)

    async def delete(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return await self.request("DELETE", path, body, **kwargs)

    async def create(self, path: str, body: Any, **kwargs: Any) -> dict[str, Any]:
        rsp = await self.post(path, body, **kwargs)
        assert rsp.status == 201, rsp
        return dict(rsp.body)

    async def watch(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        until: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Stream watch events until `until(events)` holds or the stream ends; fail after `timeout`."""
        events: list[dict[str, Any]] = []
        query = {"watch": "true", **(params or {})}
        async with asyncio.timeout(timeout):
            async with self.session.get(path, params=query) as rsp:
                assert rsp.status == 200, await rsp.text()
                async for line in rsp.content:
                    if line.strip():
                        events.append(json.loads(line))
                        if until(events):
                            break
        return events


KUBECTL = tool_path("kubectl")


class Kubectl:
    """Runs the real kubectl (1.36) against the emulator, without blocking the event loop."""

    def __init__(self, kubeconfig: Path, cache_dir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(cache_dir)}

    def argv(self, *args: str) -> list[str]:
        return [str(KUBECTL), "--cache-dir", str(self.cache_dir), *args]

    async def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = 20.0
    ) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def ok(self, *args: str, stdin: str | None = None) -> str:
        code, out, err = await self(*args, stdin=stdin)
        assert code == 0, f"kubectl {' '.join(args)} failed ({code}): {err}{out}"
        return out


async def eventually(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll `check()` until truthy (for out-of-process state, e.g. a subprocess's output)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)

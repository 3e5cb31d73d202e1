"""`make demo`: a local sandbox. No cluster and no Blaxel account needed.

Starts the Kubernetes API test bed and the Blaxel API simulator on loopback ports, runs the real
`blaxel-operator run` process against them, applies the agents in examples/, shows every status
transition as it happens (like `kubectl get -w`), changes a spec, deletes everything and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml

from .harness import GROUP, PLURAL, VERSION, KubeClient, OperatorProcess, condition, is_ready, wait_for
from .kube import KubeEmulator

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("minimal-agent.yaml", "full-agent.yaml")


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __str__(self) -> str:
        return f"{time.monotonic() - self.start:5.1f}s"


def row(obj: dict[str, Any]) -> tuple[str, ...]:
    ready = condition(obj, "Ready") or {}
    synced = condition(obj, "Synced") or {}
    status = (obj.get("status") or {}).get("atProvider", {}).get("status", "")
    deleting = "Terminating" if obj["metadata"].get("deletionTimestamp") else ""
    return (
        str(ready.get("status", "")),
        str(synced.get("status", "")),
        str(status),
        deleting or str(ready.get("reason", "")),
    )


async def watch(url: str, clock: Clock, seen: dict[str, tuple[str, ...]], stop: asyncio.Event) -> None:
    """Print one line per status transition, from a real watch stream."""
    path = f"{url}/apis/{GROUP}/{VERSION}/{PLURAL}"
    async with httpx.AsyncClient(timeout=None) as http:
        async with http.stream("GET", path, params={"watch": "true"}) as response:
            async for line in response.aiter_lines():
                if stop.is_set():
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if (
                    event.get("type") not in ("ADDED", "MODIFIED", "DELETED")
                    or obj.get("kind") != "BlaxelAgent"
                ):
                    continue
                name = obj["metadata"]["name"]
                current = ("-", "-", "gone", "Deleted") if event["type"] == "DELETED" else row(obj)
                if seen.get(name) != current:
                    seen[name] = current
                    ready, synced, status, reason = current
                    print(
                        f"  {clock}  {name:<14} {ready or '-':<6} {synced or '-':<6} {status or '-':<11} {reason}"
                    )


def load_examples() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name in EXAMPLES:
        docs.extend(d for d in yaml.safe_load_all((REPO / "examples" / name).read_text()) if d)
    return docs


async def kubectl_get(kubeconfig: Path) -> str | None:
    kubectl = shutil.which("kubectl", path=str(Path(sys.prefix) / "bin"))
    if kubectl is None:
        try:
            from .binaries import ensure_tools

            kubectl = str(ensure_tools(("kubectl",), quiet=True)["kubectl"])
        except Exception:
            return None
    # asynchronously: the test bed serving kubectl runs on this very event loop
    proc = await asyncio.create_subprocess_exec(
        kubectl,
        "--kubeconfig",
        str(kubeconfig),
        "get",
        "blaxelagents",
        "-o",
        "wide",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        return None
    return out.decode() if proc.returncode == 0 else None


async def demo(step_seconds: float, keep: bool) -> int:
    from blaxel_operator.simulator import BlaxelSimulator, SimulatorConfig

    clock = Clock()
    workdir = Path(tempfile.mkdtemp(prefix="blaxel-demo-"))
    async with (
        KubeEmulator(crds_dirs=[REPO / "crds"], bookmark_interval=2.0) as kube,
        BlaxelSimulator(SimulatorConfig(step_seconds=step_seconds, delete_seconds=1.0)) as sim,
    ):
        kubeconfig = workdir / "kubeconfig"
        kube.write_kubeconfig(kubeconfig)
        print("blaxel-operator demo: a local sandbox (no cluster, no Blaxel account)")
        print(f"  Kubernetes API test bed  {kube.url}   (KUBECONFIG={kubeconfig})")
        print(f"  Blaxel API simulator     {sim.url}   (workspace {sim.workspace})")
        op = OperatorProcess(
            kubeconfig=kubeconfig,
            api_url=sim.url,
            api_key=sim.api_key,
            workspace=sim.workspace,
            log_path=workdir / "operator.log",
            args=["--deploy-poll-interval", "0.5", "--poll-interval", "30", "--cluster-id", "demo"],
        )
        await op.start()
        print(f"  operator                 blaxel-operator run --all-namespaces  (log: {op.log_path})\n")
        k = KubeClient(kube.url)
        seen: dict[str, tuple[str, ...]] = {}
        stop = asyncio.Event()
        print(f"  {'TIME':>6}  {'NAME':<14} {'READY':<6} {'SYNCED':<6} {'STATUS':<11} REASON")
        watcher = asyncio.create_task(watch(kube.url, clock, seen, stop))
        marks: dict[str, dict[str, float]] = {}
        try:
            print(f"  {clock}  -- kubectl apply -f examples/{{{','.join(EXAMPLES)}}}")
            agents = []
            for doc in load_examples():
                ns = doc["metadata"].get("namespace", "default")
                if doc["kind"] == "Secret":
                    await k.apply_secret(ns, doc["metadata"]["name"], doc.get("stringData") or {})
                    continue
                meta = {k_: v for k_, v in doc["metadata"].items() if k_ not in ("name", "namespace")}
                await k.create_agent(ns, doc["metadata"]["name"], doc["spec"], **meta)
                agents.append(doc["metadata"]["name"])
                marks[doc["metadata"]["name"]] = {"applied": time.monotonic()}
            for name in agents:
                await wait_for(functools.partial(_ready, k, name), timeout=60, what=f"{name} Ready")
                marks[name]["ready"] = time.monotonic()

            print(f"  {clock}  -- kubectl patch blaxelagent hello-agent: runtime.memory 2048 -> 4096")
            await k.patch_agent("default", "hello-agent", {"spec": {"runtime": {"memory": 4096}}})
            marks["hello-agent"]["patched"] = time.monotonic()
            await wait_for(
                functools.partial(_ready, k, "hello-agent", 2), timeout=60, what="hello-agent updated"
            )
            marks["hello-agent"]["updated"] = time.monotonic()
            table = await kubectl_get(kubeconfig)
            if table:
                print(
                    f"  {clock}  -- kubectl get blaxelagents -o wide (the real kubectl 1.36, against the test bed)"
                )
                for line in table.rstrip().splitlines():
                    print(f"           {line}")
            if keep:
                print("\n--keep: leaving everything running; Ctrl-C to stop.")
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.Event().wait()
            print(f"  {clock}  -- kubectl delete blaxelagents --all")
            for name in agents:
                await k.delete_agent("default", name)
                marks[name]["delete"] = time.monotonic()
            for name in agents:
                await wait_for(functools.partial(_gone, k, name), timeout=60, what=f"{name} deleted")
                marks[name]["deleted"] = time.monotonic()
        finally:
            stop.set()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await watcher
            code = await op.stop()
            await k.close()
        print()
        _summary(agents, marks, sim, kube)
        remote_left = [a["metadata"]["name"] for a in sim.agents()]
        print(f"\nremote agents left: {remote_left or 'none'}; operator exit code {code}; total {clock}")
        print(
            "Real use: blaxel-operator run --all-namespaces  (with KUBECONFIG and BL_API_KEY / BL_WORKSPACE)"
        )
        return 0 if not remote_left and code == 0 else 1


async def _ready(k: KubeClient, name: str, generation: int = 1) -> bool:
    obj = await k.get_agent("default", name)
    return is_ready(obj) and (obj or {})["metadata"]["generation"] == generation


async def _gone(k: KubeClient, name: str) -> bool:
    return await k.get_agent("default", name) is None


def _summary(agents: list[str], marks: dict[str, dict[str, float]], sim: Any, kube: KubeEmulator) -> None:
    print("Summary")
    header = f"  {'AGENT':<14} {'READY AFTER':>11} {'UPDATE':>8} {'DELETE':>8}  BLAXEL CALLS"
    print(header)
    for name in agents:
        m = marks[name]
        calls = Counter(c.method for c in sim.calls(agent=name))
        ready = f"{m['ready'] - m['applied']:.1f}s"
        update = f"{m['updated'] - m['patched']:.1f}s" if "updated" in m else "-"
        delete = f"{m['deleted'] - m['delete']:.1f}s" if "deleted" in m else "-"
        text = ", ".join(f"{calls[x]} {x}" for x in ("POST", "PUT", "GET", "DELETE") if calls[x])
        print(f"  {name:<14} {ready:>11} {update:>8} {delete:>8}  {text}")
    print(
        f"  Kubernetes writes to blaxelagents: {kube.writes('blaxelagents')} "
        f"(status: {kube.writes('blaxelagents', subresource='status')})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--step-seconds", type=float, default=0.5, help="simulated deployment step (default 0.5)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the sandbox running before the deletion step"
    )
    args = parser.parse_args(argv)
    try:
        return asyncio.run(demo(args.step_seconds, args.keep))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

"""`make demo`: a local sandbox. No cluster and no Blaxel account needed.

Starts the Kubernetes API test bed and the Blaxel API simulator on loopback ports, runs the real
`blaxel-operator run` process against them, applies examples/stack/ at once (an agent with a policy and a
volume, an MCP function, a model with its integration connection, a job: every kind, naming each other by
reference), shows every status transition as it happens (like `kubectl get blaxel -w`): the referenced
resources come up first, their users wait (ReferenceNotReady) and follow by themselves. Then it changes a
spec, deletes everything at once (users go first, what they use waits: InUse) and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml

from blaxel_operator.kinds.registry import KINDS

from .harness import GROUP, VERSION, KubeClient, OperatorProcess, condition, is_ready, wait_for
from .kube import KubeEmulator

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "examples" / "stack"
KIND_BY_NAME = {kind.kind: kind for kind in KINDS}
NS = "default"


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
    reason = str(ready.get("reason", ""))
    if deleting and reason == "InUse":
        deleting = "Terminating, InUse"
    return (str(ready.get("status", "")), str(synced.get("status", "")), str(status), deleting or reason)


def label(kind: str, name: str) -> str:
    return f"{KIND_BY_NAME[kind].noun.split()[-1]}/{name}"


async def watch(
    url: str, plural: str, clock: Clock, seen: dict[str, tuple[str, ...]], stop: asyncio.Event
) -> None:
    """Print one line per status transition of one kind, from a real watch stream."""
    import json

    path = f"{url}/apis/{GROUP}/{VERSION}/{plural}"
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
                    or obj.get("kind") not in KIND_BY_NAME
                ):
                    continue
                who = label(obj["kind"], obj["metadata"]["name"])
                current = ("-", "-", "gone", "Deleted") if event["type"] == "DELETED" else row(obj)
                if seen.get(who) != current:
                    seen[who] = current
                    ready, synced, status, reason = current
                    print(
                        f"  {clock}  {who:<24} {ready or '-':<6} {synced or '-':<6} {status or '-':<10} {reason}"
                    )


def load_stack() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(STACK.glob("*.yaml")):  # agent.yaml first: applied before what it uses
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
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
        "blaxel",
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
        print(f"  {'TIME':>6}  {'KIND/NAME':<24} {'READY':<6} {'SYNCED':<6} {'STATUS':<10} REASON")
        watchers = [asyncio.create_task(watch(kube.url, kind.plural, clock, seen, stop)) for kind in KINDS]
        marks: dict[tuple[str, str], dict[str, float]] = {}
        resources: list[tuple[str, str]] = []  # (kind, name), in the order of the files
        try:
            print(f"  {clock}  -- kubectl apply -f examples/stack/   (all at once, the agent first)")
            for doc in load_stack():
                created = await k.create_from(doc, NS)
                if created is not None:
                    key = (doc["kind"], doc["metadata"]["name"])
                    resources.append(key)
                    marks[key] = {"applied": time.monotonic()}
            await asyncio.gather(*(_mark_ready(k, key, marks) for key in resources))

            agent = next(name for kind, name in resources if kind == "BlaxelAgent")
            print(f"  {clock}  -- kubectl patch blaxelagent {agent}: runtime.memory 2048 -> 4096")
            await k.patch_agent(NS, agent, {"spec": {"runtime": {"memory": 4096}}})
            marks[("BlaxelAgent", agent)]["patched"] = time.monotonic()
            await _wait_ready(k, ("BlaxelAgent", agent), generation=2)
            marks[("BlaxelAgent", agent)]["updated"] = time.monotonic()
            table = await kubectl_get(kubeconfig)
            if table:
                print(f"  {clock}  -- kubectl get blaxel (the real kubectl, against the test bed)")
                for line in table.rstrip().splitlines():
                    print(f"           {line}")
            if keep:
                print("\n--keep: leaving everything running; Ctrl-C to stop.")
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.Event().wait()
            print(f"  {clock}  -- kubectl delete -f examples/stack/   (all at once)")
            for kind, name in resources:
                await k.delete(KIND_BY_NAME[kind].plural, NS, name)
                marks[(kind, name)]["delete"] = time.monotonic()
            await asyncio.gather(*(_mark_gone(k, key, marks) for key in resources))
        finally:
            stop.set()
            for task in watchers:
                task.cancel()
            for task in watchers:
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await task
            code = await op.stop()
            await k.close()
        print()
        _summary(resources, marks, sim, kube)
        remote_left = [
            f"{kind.noun} {o['metadata']['name']}" for kind in KINDS for o in sim.objects(kind.api_collection)
        ]
        print(f"\nremote objects left: {remote_left or 'none'}; operator exit code {code}; total {clock}")
        print(
            "Real use: blaxel-operator run --all-namespaces  (with KUBECONFIG and BL_API_KEY / BL_WORKSPACE)"
        )
        return 0 if not remote_left and code == 0 else 1


async def _wait_ready(k: KubeClient, key: tuple[str, str], generation: int = 1) -> None:
    kind, name = KIND_BY_NAME[key[0]], key[1]

    async def ready() -> bool:
        obj = await k.get(kind.plural, NS, name)
        return is_ready(obj) and (obj or {})["metadata"]["generation"] == generation

    await wait_for(ready, timeout=60, what=f"{label(*key)} Ready")


async def _mark_ready(
    k: KubeClient, key: tuple[str, str], marks: dict[tuple[str, str], dict[str, float]]
) -> None:
    await _wait_ready(k, key)
    marks[key]["ready"] = time.monotonic()


async def _mark_gone(
    k: KubeClient, key: tuple[str, str], marks: dict[tuple[str, str], dict[str, float]]
) -> None:
    kind, name = KIND_BY_NAME[key[0]], key[1]

    async def gone() -> bool:
        return await k.get(kind.plural, NS, name) is None

    await wait_for(gone, timeout=60, what=f"{label(*key)} deleted")
    marks[key]["deleted"] = time.monotonic()


def _summary(
    resources: list[tuple[str, str]],
    marks: dict[tuple[str, str], dict[str, float]],
    sim: Any,
    kube: KubeEmulator,
) -> None:
    print("Summary (in the order they became Ready)")
    print(f"  {'KIND/NAME':<24} {'READY AFTER':>11} {'UPDATE':>8} {'GONE AFTER':>10}  BLAXEL CALLS")
    for key in sorted(resources, key=lambda r: marks[r].get("ready", float("inf"))):
        m = marks[key]
        kind = KIND_BY_NAME[key[0]]
        calls = Counter(c.method for c in sim.calls(collection=kind.api_collection, name=key[1]))
        ready = f"{m['ready'] - m['applied']:.1f}s" if "ready" in m else "-"
        update = f"{m['updated'] - m['patched']:.1f}s" if "updated" in m else "-"
        gone = f"{m['deleted'] - m['delete']:.1f}s" if "deleted" in m else "-"
        text = ", ".join(f"{calls[x]} {x}" for x in ("POST", "PUT", "GET", "DELETE") if calls[x])
        print(f"  {label(*key):<24} {ready:>11} {update:>8} {gone:>10}  {text}")
    came = [label(*r) for r in sorted(resources, key=lambda r: marks[r].get("ready", float("inf")))]
    went = [label(*r) for r in sorted(resources, key=lambda r: marks[r].get("deleted", float("inf")))]
    print(f"  came up in this order: {', '.join(came)}")
    print(f"  went away in this order: {', '.join(went)}")
    writes = sum(kube.writes(kind.plural) for kind in KINDS)
    status = sum(kube.writes(kind.plural, subresource="status") for kind in KINDS)
    print(f"  Kubernetes writes to the resources: {writes} (status: {status})")


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

"""The bench's runs: convergence + cost (apply -> Ready, then idle), and footprint next to the Kopf floor."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from procs import (
    KubeServer,
    Managed,
    OperatorSettings,
    Sampler,
    start_floor,
    start_kube,
    start_operator,
    start_simulator,
    wait_healthy,
)
from tracker import GROUP, PLURAL, VERSION, ReadyTracker

NAMESPACE = "bench"
CREATE_CONNECTIONS = 8
AGENT_SPEC = {"runtime": {"image": "blaxel/hello-agent:latest", "memory": 2048}}
DEPLOY_PHASES = 3  # UPLOADING -> BUILDING -> DEPLOYING -> DEPLOYED: three steps of the simulated clock


@dataclass
class Params:
    agents: int = 500
    footprint_agents: int = 1000
    latency: float = 0.05
    step: float = 1.0
    footprint_step: float = 0.2
    idle_polls: int = 4
    settle: float = 3.0
    operator: OperatorSettings = field(default_factory=OperatorSettings)

    @property
    def deploy_seconds(self) -> float:
        return DEPLOY_PHASES * self.step

    @property
    def api_seconds(self) -> float:
        return self.agents * self.latency / self.operator.max_inflight

    @property
    def bound(self) -> float:
        return self.api_seconds + self.deploy_seconds


def agent_name(i: int) -> str:
    return f"agent-{i:04d}"


async def create_namespace(http: httpx.AsyncClient, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    response = await http.post("/api/v1/namespaces", json=body)
    if response.status_code not in (201, 409):
        raise RuntimeError(f"creating namespace {name}: {response.status_code} {response.text[:300]}")


async def create_agents(http: httpx.AsyncClient, count: int) -> dict[str, float]:
    """POST `count` BlaxelAgents through the API, CREATE_CONNECTIONS at a time (like a parallel apply).

    Returns each agent's creation time (time.time() when the emulator answered 201)."""
    created: dict[str, float] = {}
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "BlaxelAgent",
                "metadata": {"name": agent_name(i), "namespace": NAMESPACE},
                "spec": AGENT_SPEC,
            }
            response = await http.post(path, json=body)
            if response.status_code != 201:
                raise RuntimeError(f"creating {agent_name(i)}: {response.status_code} {response.text[:300]}")
            created[agent_name(i)] = time.time()

    await asyncio.gather(*(worker() for _ in range(CREATE_CONNECTIONS)))
    return created


def write_counts(counters: dict[str, Any]) -> Counter[tuple[str, str, str]]:
    """{(method, plural, subresource or ''): requests} from the emulator's counters."""
    return Counter(
        {(w["method"], w["plural"], w["subresource"] or ""): int(w["count"]) for w in counters["writes"]}
    )


def reconciles(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items() if k.startswith("blaxel_operator_reconciles_total{"))


def cpu(procs: list[Managed]) -> dict[str, float]:
    return {p.name: p.cpu_seconds() for p in procs}


# ---------------------------------------------------------------------------------------------------
# convergence and cost
# ---------------------------------------------------------------------------------------------------


@dataclass
class ConvergenceResult:
    rep: int
    agents: int
    bound: float
    seconds_to_all_ready: float
    seconds_to_apply: float
    ready_offsets: list[float]  # each agent's first Ready, seconds after the apply started
    cpu_share: dict[str, float]  # CPU seconds / wall seconds during apply -> all Ready, per process
    # apply -> Ready, per agent (from the call log up to each agent's own Ready; effective writes from the
    # watch up to and including its Ready event)
    blaxel_calls_mean: dict[str, float]
    blaxel_calls_max: dict[str, int]
    status_writes_mean: float  # PATCH/PUT requests to /status, all agents, until all Ready / N
    main_writes_mean: float  # PATCH/PUT requests to the resource (not /status) until all Ready / N
    status_writes_effective_max: int
    main_writes_effective_max: int
    event_writes: int  # Kubernetes Events posted until all Ready (all agents)
    unattributed_calls: dict[str, int]
    # idle window
    idle_seconds: float
    idle_polls: float
    idle_blaxel_calls: dict[str, int]
    idle_kube_writes: dict[str, int]
    idle_gets_per_agent_per_poll: float  # per agent per configured poll interval
    idle_reconciles: float  # reconciles (= polls) in the idle window, from the operator's metrics
    idle_gets_per_reconcile: float
    operator_metrics: dict[str, float]
    status_writes_per_agent: dict[str, int] = field(default_factory=dict)
    # diagnostics (seconds): per agent, creation -> the finalizer (Kopf's intake; the daemon starts then),
    # the finalizer -> its first Blaxel call (reconcile start + queueing), apply start -> its POST
    intake_delays: list[float] = field(default_factory=list)
    first_call_delays: list[float] = field(default_factory=list)
    post_offsets: list[float] = field(default_factory=list)
    gets_before_post: float = 0.0  # mean, per agent: GETs that went before its POST
    # every Blaxel call from the apply to all Ready: (seconds since the apply started, method)
    call_offsets: list[tuple[float, str]] = field(default_factory=list)


async def convergence_run(params: Params, rep: int, workdir: Path) -> ConvergenceResult:
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    n = params.agents
    settings = params.operator
    kube = start_kube(workdir)
    started: list[Managed] = [kube.proc]
    tracker: ReadyTracker | None = None
    try:
        sim = start_simulator(workdir, latency=params.latency, step=params.step, seed=rep)
        started.append(sim.proc)
        op = start_operator(workdir, kube, sim, settings)
        started.append(op.proc)
        await asyncio.to_thread(wait_healthy, op.proc, op.health_port)
        limits = httpx.Limits(max_connections=CREATE_CONNECTIONS)
        async with httpx.AsyncClient(base_url=kube.url, limits=limits, timeout=60) as http:
            await create_namespace(http, NAMESPACE)
            tracker = ReadyTracker(kube.url)
            await tracker.start()
            await asyncio.sleep(0.5)
            seq0 = await asyncio.to_thread(sim.last_seq)
            await asyncio.to_thread(kube.reset_counters)
            procs = [kube.proc, sim.proc, op.proc]
            cpu0 = cpu(procs)
            t0 = time.monotonic()
            wall0 = time.time()
            created = await create_agents(http, n)
            t_applied = time.monotonic()
            timeout = max(120.0, 10 * params.bound)
            t_ready = await tracker.wait_ready(n, timeout)
        cpu1 = cpu(procs)
        counters1 = await asyncio.to_thread(kube.counters)
        seq1 = await asyncio.to_thread(sim.last_seq)
        metrics = await asyncio.to_thread(op.metrics)
        ready_wall = dict(tracker.first_ready_wall)
        finalizer_wall = {k.split("/", 1)[1]: v for k, v in tracker.finalizer_wall.items()}
        ready_mono = dict(tracker.first_ready_mono)
        status_eff = dict(tracker.status_writes_to_ready)
        other_eff = dict(tracker.other_writes_to_ready)

        # idle: several poll intervals with everything Ready
        idle_seconds = params.idle_polls * settings.poll_interval
        await asyncio.sleep(idle_seconds)
        counters2 = await asyncio.to_thread(kube.counters)
        seq2 = await asyncio.to_thread(sim.last_seq)
        metrics_end = await asyncio.to_thread(op.metrics)
        calls, _ = await asyncio.to_thread(sim.calls, seq0)
        op.proc.check_alive()
    finally:
        if tracker is not None:
            await tracker.stop()
        for proc in reversed(started):
            proc.stop()

    # Blaxel calls per agent, apply -> that agent's Ready
    per_agent: dict[str, Counter[str]] = {agent_name(i): Counter() for i in range(n)}
    unattributed: Counter[str] = Counter()
    idle_calls: Counter[str] = Counter()
    first_call: dict[str, float] = {}
    post_at: dict[str, float] = {}
    gets_before: Counter[str] = Counter()
    call_offsets: list[tuple[float, str]] = []
    for call in calls:
        seq = int(call["seq"])
        if seq > seq2:
            continue
        if seq > seq1:
            idle_calls[call["method"]] += 1
            continue
        name = call.get("agent")
        call_offsets.append((round(call["time"] - wall0, 4), call["method"]))
        if isinstance(name, str):
            first_call.setdefault(name, call["time"])
            if call["method"] == "POST":
                post_at.setdefault(name, call["time"] - wall0)
            elif call["method"] == "GET" and name not in post_at:
                gets_before[name] += 1
        key = f"{NAMESPACE}/{name}"
        if name in per_agent and call["time"] <= ready_wall.get(key, float("inf")):
            per_agent[name][call["method"]] += 1
        else:
            unattributed[call["method"]] += 1
    methods = sorted({m for c in per_agent.values() for m in c} | {"GET", "POST"})
    calls_mean = {m: statistics.fmean(c[m] for c in per_agent.values()) for m in methods}
    calls_max = {m: max(c[m] for c in per_agent.values()) for m in methods}

    w1 = write_counts(counters1)
    w2 = write_counts(counters2)
    idle_w = w2 - w1
    status_requests = sum(c for (m, p, s), c in w1.items() if p == PLURAL and s == "status" and m != "POST")
    main_requests = sum(c for (m, p, s), c in w1.items() if p == PLURAL and s == "" and m in ("PATCH", "PUT"))
    idle_kube: Counter[str] = Counter()
    for (m, p, s), c in idle_w.items():
        idle_kube[f"{m} {p}{'/' + s if s else ''}"] += c
    idle_reconciles = reconciles(metrics_end) - reconciles(metrics)
    wall = t_ready - t0
    share = {name: (cpu1[name] - cpu0[name]) / wall for name in cpu0}
    idle_polls = idle_seconds / settings.poll_interval
    per_status_hist = Counter(str(status_eff.get(f"{NAMESPACE}/{agent_name(i)}", 0)) for i in range(n))
    return ConvergenceResult(
        rep=rep,
        agents=n,
        bound=params.bound,
        seconds_to_all_ready=wall,
        seconds_to_apply=t_applied - t0,
        ready_offsets=sorted(t - t0 for t in ready_mono.values()),
        cpu_share=share,
        blaxel_calls_mean=calls_mean,
        blaxel_calls_max=calls_max,
        status_writes_mean=status_requests / n,
        main_writes_mean=main_requests / n,
        status_writes_effective_max=max(status_eff.values(), default=0),
        main_writes_effective_max=max(other_eff.values(), default=0),
        event_writes=sum(c for (m, p, _), c in w1.items() if p == "events" and m == "POST"),
        unattributed_calls=dict(unattributed),
        idle_seconds=idle_seconds,
        idle_polls=idle_polls,
        idle_blaxel_calls=dict(idle_calls),
        idle_kube_writes=dict(idle_kube),
        idle_gets_per_agent_per_poll=idle_calls["GET"] / (n * idle_polls),
        idle_reconciles=idle_reconciles,
        idle_gets_per_reconcile=idle_calls["GET"] / idle_reconciles if idle_reconciles else float("nan"),
        operator_metrics=metrics,
        status_writes_per_agent=dict(per_status_hist),
        intake_delays=sorted(finalizer_wall[a] - created[a] for a in created if a in finalizer_wall),
        first_call_delays=sorted(
            first_call[a] - finalizer_wall[a] for a in created if a in first_call and a in finalizer_wall
        ),
        post_offsets=sorted(post_at.values()),
        gets_before_post=sum(gets_before[a] for a in created) / n,
        call_offsets=call_offsets,
    )


# ---------------------------------------------------------------------------------------------------
# footprint
# ---------------------------------------------------------------------------------------------------


@dataclass
class Footprint:
    cpu_total: float  # CPU seconds from process start to the end of the run
    cpu_work: float  # CPU seconds from the apply to the end of the run
    peak_rss: int
    rss_before: int  # RSS just before the apply (0 resources, started)
    rss_end: int


@dataclass
class FootprintResult:
    rep: int
    agents: int
    seconds_to_all_ready: float
    operator: Footprint
    floor: Footprint
    kube_cpu_share: float


async def footprint_run(params: Params, rep: int, workdir: Path) -> FootprintResult:
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    n = params.footprint_agents
    kube: KubeServer = start_kube(workdir)
    started: list[Managed] = [kube.proc]
    tracker: ReadyTracker | None = None
    try:
        sim = start_simulator(workdir, latency=params.latency, step=params.footprint_step, seed=100 + rep)
        started.append(sim.proc)
        op = start_operator(workdir, kube, sim, params.operator)
        floor, floor_port = start_floor(workdir, kube)
        started += [op.proc, floor]
        with Sampler([op.proc, floor]) as sampler:
            await asyncio.to_thread(wait_healthy, op.proc, op.health_port)
            await asyncio.to_thread(wait_healthy, floor, floor_port)
            limits = httpx.Limits(max_connections=CREATE_CONNECTIONS)
            async with httpx.AsyncClient(base_url=kube.url, limits=limits, timeout=60) as http:
                await create_namespace(http, NAMESPACE)
                tracker = ReadyTracker(kube.url)
                await tracker.start()
                await asyncio.sleep(1.0)
                before = {p.name: (p.cpu_seconds(), p.rss()) for p in (op.proc, floor)}
                kube_cpu0 = kube.proc.cpu_seconds()
                t0 = time.monotonic()
                await create_agents(http, n)
                t_ready = await tracker.wait_ready(n, max(180.0, n * 0.5))
            kube_cpu1 = kube.proc.cpu_seconds()
            await asyncio.sleep(params.settle)  # let both drain the last watch events
            sampler.sample()
            end = {p.name: p.cpu_seconds() for p in (op.proc, floor)}
            sampler.stop()
        op.proc.check_alive()
        floor.check_alive()
    finally:
        if tracker is not None:
            await tracker.stop()
        for proc in reversed(started):
            with contextlib.suppress(Exception):
                proc.stop()

    def footprint(proc: Managed) -> Footprint:
        series = sampler.series[proc.name]
        cpu_before, rss_before = before[proc.name]
        return Footprint(
            cpu_total=end[proc.name],
            cpu_work=end[proc.name] - cpu_before,
            peak_rss=series.peak_rss,
            rss_before=rss_before,
            rss_end=series.last_rss,
        )

    wall = t_ready - t0
    return FootprintResult(
        rep=rep,
        agents=n,
        seconds_to_all_ready=wall,
        operator=footprint(op.proc),
        floor=footprint(floor),
        kube_cpu_share=(kube_cpu1 - kube_cpu0) / wall,
    )


async def daemon_floor_run(params: Params, workdir: Path) -> Footprint:
    """Kopf with an idle daemon per object, alone (its finalizer would disturb the operator under test)."""
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    n = params.footprint_agents
    kube = start_kube(workdir)
    started: list[Managed] = [kube.proc]
    tracker: ReadyTracker | None = None
    try:
        floor, port = start_floor(workdir, kube, mode="daemon")
        started.append(floor)
        with Sampler([floor]) as sampler:
            await asyncio.to_thread(wait_healthy, floor, port)
            async with httpx.AsyncClient(base_url=kube.url, timeout=60) as http:
                await create_namespace(http, NAMESPACE)
                tracker = ReadyTracker(kube.url)
                await tracker.start()
                await asyncio.sleep(1.0)
                cpu_before, rss_before = floor.cpu_seconds(), floor.rss()
                await create_agents(http, n)
                # every daemon runs once its finalizer is there
                await tracker.wait_until(
                    lambda: len(tracker.finalizer_wall) >= n, max(60.0, n * 0.1), "finalizers"
                )
            await asyncio.sleep(params.settle)
            sampler.sample()
            cpu_end = floor.cpu_seconds()
            sampler.stop()
        floor.check_alive()
    finally:
        if tracker is not None:
            await tracker.stop()
        for proc in reversed(started):
            with contextlib.suppress(Exception):
                proc.stop()
    series = sampler.series[floor.name]
    return Footprint(
        cpu_total=cpu_end,
        cpu_work=cpu_end - cpu_before,
        peak_rss=series.peak_rss,
        rss_before=rss_before,
        rss_end=series.last_rss,
    )

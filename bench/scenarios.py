"""The bench's runs: convergence (the operator and the near-ideal client, side by side) with the idle cost
that follows, footprint next to the Kopf floor with a restart, and shards."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from procs import (
    KubeServer,
    Managed,
    Operator,
    OperatorSettings,
    Sampler,
    Simulator,
    start_floor,
    start_ideal,
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
RECONCILES = "blaxel_operator_reconciles_total"


@dataclass
class Params:
    agents: int = 500
    footprint_agents: int = 1000
    shard_agents: int = 2000
    shards: int = 2
    latency: float = 0.05
    # The shard pair run again where Blaxel's latency, not the 2 cores, bounds each shard (see ShardResult)
    shard_latency: float = 0.5
    step: float = 1.0
    footprint_step: float = 0.2
    idle_polls: int = 4
    settle: float = 3.0
    restart_rate_limit: float = 10.0  # the operator's default token bucket, for the restarted process
    operator: OperatorSettings = field(default_factory=OperatorSettings)

    @property
    def deploy_seconds(self) -> float:
        return DEPLOY_PHASES * self.step

    def bound(self, agents: int, inflight: int, latency: float | None = None) -> float:
        """One Blaxel call per agent through C slots, plus one deployment."""
        return agents * (self.latency if latency is None else latency) / inflight + self.deploy_seconds


def agent_name(i: int) -> str:
    return f"agent-{i:05d}"


def shard_of(namespace: str, name: str, count: int) -> int:
    """The shard a resource belongs to, computed here independently of the operator's code: the first
    8 bytes of sha256("namespace/name"), big-endian, modulo the shard count."""
    return int.from_bytes(hashlib.sha256(f"{namespace}/{name}".encode()).digest()[:8], "big") % count


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


def kube_writes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Write requests between two readings of the counters, as {'METHOD plural[/sub]': count}."""
    out: Counter[str] = Counter()
    for (m, p, s), c in (write_counts(after) - write_counts(before)).items():
        out[f"{m} {p}{'/' + s if s else ''}"] += c
    return dict(out)


def call_kind(call: dict[str, Any]) -> str:
    """POST / PUT / DELETE / GET (one object) / LIST (a page of a collection: the sweeps, the readiness
    probe's one-object listing)."""
    if call["method"] == "GET" and call.get("agent") is None and not call.get("name"):
        return "LIST"
    return str(call["method"])


def kinds_of(calls: Iterable[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(call_kind(c) for c in calls))


def cpu(procs: list[Managed]) -> dict[str, float]:
    return {p.name: p.cpu_seconds() for p in procs}


def stop(procs: list[Managed]) -> None:
    for proc in reversed(procs):
        with contextlib.suppress(Exception):
            proc.stop()


# ---------------------------------------------------------------------------------------------------
# convergence and cost: the operator or the near-ideal client
# ---------------------------------------------------------------------------------------------------


@dataclass
class ConvergenceResult:
    controller: str  # "operator" or "ideal"
    rep: int
    agents: int
    seconds_to_all_ready: float
    seconds_to_apply: float
    ready_offsets: list[float]  # each agent's first Ready, seconds after the apply started
    cpu_share: dict[str, float]  # CPU seconds / wall seconds during apply -> all Ready, per process
    calls: dict[str, int]  # Blaxel calls by kind (POST, GET, LIST, ...), apply -> all Ready
    status_writes: int  # PATCH/PUT requests to /status until all Ready
    main_writes: int  # PATCH/PUT requests to the resource (not /status) until all Ready
    status_writes_effective_max: int
    event_writes: int  # Kubernetes Events posted until all Ready (all agents)
    post_offsets: list[float] = field(default_factory=list)  # apply -> each agent's POST
    intake_delays: list[float] = field(default_factory=list)  # creation -> the operator's finalizer
    post_delays: list[float] = field(default_factory=list)  # the finalizer -> the agent's POST
    call_offsets: list[tuple[float, str]] = field(default_factory=list)  # (seconds since apply, kind)
    # the idle window that follows (the operator only)
    idle_seconds: float = 0.0
    idle_polls: float = 0.0
    idle_calls: dict[str, int] = field(default_factory=dict)
    idle_kube_writes: dict[str, int] = field(default_factory=dict)
    idle_reconciles: float = 0.0

    def per_agent(self, kind: str) -> float:
        return self.calls.get(kind, 0) / self.agents

    @property
    def calls_per_agent(self) -> float:
        return sum(self.calls.values()) / self.agents

    @property
    def idle_calls_per_resource_per_poll(self) -> float:
        return sum(self.idle_calls.values()) / (self.agents * self.idle_polls) if self.idle_polls else 0.0


async def convergence_run(params: Params, rep: int, workdir: Path, controller: str) -> ConvergenceResult:
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    n = params.agents
    settings = params.operator
    kube = start_kube(workdir)
    started: list[Managed] = [kube.proc]
    tracker: ReadyTracker | None = None
    op: Operator | None = None
    try:
        sim = start_simulator(workdir, latency=params.latency, step=params.step, seed=rep)
        started.append(sim.proc)
        if controller == "operator":
            op = start_operator(workdir, kube, sim, settings)
            started.append(op.proc)
            await asyncio.to_thread(wait_healthy, op.proc, op.health_port)
            under_test = op.proc
        else:
            under_test = await asyncio.to_thread(start_ideal, workdir, kube, sim, settings)
            started.append(under_test)
        limits = httpx.Limits(max_connections=CREATE_CONNECTIONS)
        async with httpx.AsyncClient(base_url=kube.url, limits=limits, timeout=60) as http:
            await create_namespace(http, NAMESPACE)
            tracker = ReadyTracker(kube.url)
            await tracker.start()
            await asyncio.sleep(0.5)
            seq0 = await asyncio.to_thread(sim.last_seq)
            counters0 = await asyncio.to_thread(kube.counters)
            procs = [kube.proc, sim.proc, under_test]
            cpu0 = cpu(procs)
            t0 = time.monotonic()
            wall0 = time.time()
            created = await create_agents(http, n)
            t_applied = time.monotonic()
            t_ready = await tracker.wait_ready(n, max(120.0, 10 * params.bound(n, settings.max_inflight)))
        cpu1 = cpu(procs)
        counters1 = await asyncio.to_thread(kube.counters)
        seq1 = await asyncio.to_thread(sim.last_seq)
        finalizer_wall = {k.split("/", 1)[1]: v for k, v in tracker.finalizer_wall.items()}
        ready_mono = dict(tracker.first_ready_mono)
        status_eff = dict(tracker.status_writes_to_ready)
        idle: dict[str, Any] = {}
        if op is not None:
            reconciles0 = await asyncio.to_thread(op.metric_sum, RECONCILES)
            idle_seconds = params.idle_polls * settings.poll_interval
            await asyncio.sleep(idle_seconds)
            counters2 = await asyncio.to_thread(kube.counters)
            seq2 = await asyncio.to_thread(sim.last_seq)
            reconciles1 = await asyncio.to_thread(op.metric_sum, RECONCILES)
            idle_calls, _ = await asyncio.to_thread(sim.calls, seq1)
            idle = {
                "idle_seconds": idle_seconds,
                "idle_polls": idle_seconds / settings.poll_interval,
                "idle_calls": kinds_of(c for c in idle_calls if int(c["seq"]) <= seq2),
                "idle_kube_writes": kube_writes(counters1, counters2),
                "idle_reconciles": reconciles1 - reconciles0,
            }
        calls, _ = await asyncio.to_thread(sim.calls, seq0)
        under_test.check_alive()
    finally:
        if tracker is not None:
            await tracker.stop()
        stop(started)

    calls = [c for c in calls if int(c["seq"]) <= seq1]
    post_at: dict[str, float] = {}
    for call in calls:
        if call["method"] == "POST" and isinstance(call.get("agent"), str):
            post_at.setdefault(call["agent"], call["time"] - wall0)
    finalized = {a: t - wall0 for a, t in finalizer_wall.items()}
    w = write_counts(counters1) - write_counts(counters0)
    wall = t_ready - t0
    return ConvergenceResult(
        controller=controller,
        rep=rep,
        agents=n,
        seconds_to_all_ready=wall,
        seconds_to_apply=t_applied - t0,
        ready_offsets=sorted(t - t0 for t in ready_mono.values()),
        cpu_share={name: (cpu1[name] - cpu0[name]) / wall for name in cpu0},
        calls=kinds_of(calls),
        status_writes=sum(c for (m, p, s), c in w.items() if p == PLURAL and s == "status" and m != "POST"),
        main_writes=sum(c for (m, p, s), c in w.items() if p == PLURAL and s == "" and m in ("PATCH", "PUT")),
        status_writes_effective_max=max(status_eff.values(), default=0),
        event_writes=sum(c for (m, p, _), c in w.items() if p == "events" and m == "POST"),
        post_offsets=sorted(post_at.values()),
        intake_delays=sorted(finalizer_wall[a] - created[a] for a in created if a in finalizer_wall),
        post_delays=sorted(post_at[a] - finalized[a] for a in post_at if a in finalized),
        call_offsets=[(round(c["time"] - wall0, 4), call_kind(c)) for c in calls],
        **idle,
    )


# ---------------------------------------------------------------------------------------------------
# footprint next to the Kopf floor, then a restart of the operator
# ---------------------------------------------------------------------------------------------------


@dataclass
class Footprint:
    cpu_total: float  # CPU seconds from process start to the end of the run
    cpu_work: float  # CPU seconds from the apply to the end of the run
    peak_rss: int
    rss_before: int  # RSS just before the apply (0 resources, started)
    rss_end: int
    rss_series: list[tuple[float, int]] = field(default_factory=list)  # (seconds since the apply, RSS)

    @property
    def growth(self) -> int:
        return self.peak_rss - self.rss_before


@dataclass
class RestartResult:
    rate_limit: float
    seconds_to_steady: float  # process start -> every resource reconciled once (reconciles >= N)
    calls: dict[str, int]  # Blaxel calls by kind, process start -> steady
    kube_writes: dict[str, int]  # process start -> steady + one poll interval
    calls_after: dict[str, int]  # steady -> one poll interval later
    peak_rss: int
    max_inflight_seen: int  # the most Blaxel calls in flight at once (from the call log)
    floor_peak_rss: int = 0  # the Kopf floor's, restarted at the same moment (0: not restarted)
    single_gets: list[str] = dataclasses.field(default_factory=list)  # paths of the GETs of one object


@dataclass
class FootprintResult:
    rep: int
    agents: int
    seconds_to_all_ready: float
    operator: Footprint
    floor: Footprint
    kube_cpu_share: float
    restart: RestartResult | None = None


def inflight_max(calls: list[dict[str, Any]]) -> int:
    edges = sorted(
        [(c["time"], 1) for c in calls] + [(c["time"] + c.get("duration", 0.0), -1) for c in calls]
    )
    peak = now = 0
    for _, d in edges:
        now += d
        peak = max(peak, now)
    return peak


async def wait_metric(op: Operator, name: str, at_least: float, timeout: float) -> float:
    """Poll the operator's /metrics until the metric reaches `at_least`; return time.monotonic() then."""
    deadline = time.monotonic() + timeout
    while await asyncio.to_thread(op.metric_sum, name) < at_least:
        op.proc.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} < {at_least} after {timeout:.0f} s")
        await asyncio.sleep(0.2)
    return time.monotonic()


async def restart(
    params: Params,
    workdir: Path,
    kube: KubeServer,
    sim: Simulator,
    op: Operator,
    n: int,
    started: list[Managed],
    floor: Managed | None = None,
) -> tuple[RestartResult, Operator]:
    """Stop the operator, start a new one over the N settled resources: time and calls to steady state.
    With `floor`, the Kopf floor restarts at the same moment (its peak RSS: Kopf's own initial list)."""
    await asyncio.to_thread(op.proc.stop)
    if floor is not None:
        await asyncio.to_thread(floor.stop)
    seq0 = await asyncio.to_thread(sim.last_seq)
    counters0 = await asyncio.to_thread(kube.counters)
    new = start_operator(
        workdir, kube, sim, params.operator, name="operator-restarted", rate_limit=params.restart_rate_limit
    )
    started.append(new.proc)
    sampled = [new.proc]
    if floor is not None:
        new_floor, _ = start_floor(workdir, kube, name="kopf-floor-restarted")
        started.append(new_floor)
        sampled.append(new_floor)
    t0 = new.proc.started_at
    with Sampler(sampled) as sampler:
        await asyncio.to_thread(wait_healthy, new.proc, new.health_port)
        t_steady = await wait_metric(new, RECONCILES, n, timeout=max(120.0, n * 0.2))
        seq1 = await asyncio.to_thread(sim.last_seq)
        await asyncio.sleep(params.operator.poll_interval)
        seq2 = await asyncio.to_thread(sim.last_seq)
        counters1 = await asyncio.to_thread(kube.counters)
    calls, _ = await asyncio.to_thread(sim.calls, seq0)
    to_steady = [c for c in calls if int(c["seq"]) <= seq1]
    return (
        RestartResult(
            rate_limit=params.restart_rate_limit,
            seconds_to_steady=t_steady - t0,
            calls=kinds_of(to_steady),
            kube_writes=kube_writes(counters0, counters1),
            calls_after=kinds_of(c for c in calls if seq1 < int(c["seq"]) <= seq2),
            peak_rss=sampler.series[new.proc.name].peak_rss,
            max_inflight_seen=inflight_max(to_steady),
            floor_peak_rss=sampler.series[sampled[-1].name].peak_rss if floor is not None else 0,
            single_gets=[f"{c['path']}?{c.get('query') or ''}" for c in to_steady if call_kind(c) == "GET"],
        ),
        new,
    )


def footprint_of(
    sampler: Sampler, name: str, before: tuple[float, int], cpu_end: float, t0: float, stride: int
) -> Footprint:
    """A process's footprint from its samples: CPU and RSS since `before` (its CPU seconds and RSS at the
    apply), the RSS series every `stride` samples, in seconds since the apply at `t0`."""
    series = sampler.series[name]
    cpu_before, rss_before = before
    return Footprint(
        cpu_total=cpu_end,
        cpu_work=cpu_end - cpu_before,
        peak_rss=series.peak_rss,
        rss_before=rss_before,
        rss_end=series.last_rss,
        rss_series=[(round(t - (t0 - sampler.t0), 2), rss) for t, rss, _ in series.samples[::stride]],
    )


async def footprint_run(
    params: Params, rep: int, workdir: Path, with_restart: bool = True
) -> FootprintResult:
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    n = params.footprint_agents
    kube = start_kube(workdir)
    started: list[Managed] = [kube.proc]
    tracker: ReadyTracker | None = None
    restarted: RestartResult | None = None
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
            # both drain the last watch events; the operator's first list sweeps come within this
            await asyncio.sleep(max(params.settle, 1.5 * min(5.0, params.operator.poll_interval) + 1))
            sampler.sample()
            end = {p.name: p.cpu_seconds() for p in (op.proc, floor)}
            op.proc.check_alive()
            floor.check_alive()
            sampler.stop()
        if with_restart:
            restarted, _ = await restart(params, workdir, kube, sim, op, n, started, floor)
    finally:
        if tracker is not None:
            await tracker.stop()
        stop(started)

    def footprint(proc: Managed) -> Footprint:
        return footprint_of(sampler, proc.name, before[proc.name], end[proc.name], t0, stride=5)

    wall = t_ready - t0
    return FootprintResult(
        rep=rep,
        agents=n,
        seconds_to_all_ready=wall,
        operator=footprint(op.proc),
        floor=footprint(floor),
        kube_cpu_share=(kube_cpu1 - kube_cpu0) / wall,
        restart=restarted,
    )


# ---------------------------------------------------------------------------------------------------
# shards
# ---------------------------------------------------------------------------------------------------


@dataclass
class ShardResult:
    shards: int
    agents: int
    latency: float  # L of this run: at the bench's 50 ms the 2 cores bound it; at shard_latency the API does
    seconds_to_all_ready: float
    posts_per_shard: dict[str, int]  # shard (from the User-Agent) -> POSTs
    agents_posted_not_once: int  # agents whose POST count is not exactly 1
    agents_called_by_several: int  # agents any two shards called (any method)
    agents_called_by_wrong_shard: int  # agents called by a shard the stable hash does not give them to
    objects_written_by_several: int  # Kubernetes objects written by two operator processes
    writes_per_shard: dict[str, int]  # Kubernetes writes to BlaxelAgents per operator process
    cpu_share: dict[str, float]  # per process, apply -> all Ready


def shard_label(user_agent: str | None) -> str:
    for part in (user_agent or "").split():
        if part.startswith("shard/"):
            return part.removeprefix("shard/").split("-of-")[0]
    return "0"


async def shard_run(
    params: Params, shards: int, n: int, workdir: Path, latency: float | None = None
) -> ShardResult:
    latency = params.latency if latency is None else latency
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    settings = params.operator
    kube = start_kube(workdir)
    started: list[Managed] = [kube.proc]
    tracker: ReadyTracker | None = None
    try:
        sim = start_simulator(workdir, latency=latency, step=params.step, seed=200 + shards)
        started.append(sim.proc)
        ops = []
        for i in range(shards):
            extra = ["--shard-index", str(i), "--shard-count", str(shards)] if shards > 1 else []
            op = start_operator(workdir, kube, sim, settings, name=f"shard-{i}", extra=extra)
            ops.append(op)
            started.append(op.proc)
        for op in ops:
            await asyncio.to_thread(wait_healthy, op.proc, op.health_port)
        limits = httpx.Limits(max_connections=CREATE_CONNECTIONS)
        async with httpx.AsyncClient(base_url=kube.url, limits=limits, timeout=60) as http:
            await create_namespace(http, NAMESPACE)
            tracker = ReadyTracker(kube.url)
            await tracker.start()
            await asyncio.sleep(0.5)
            seq0 = await asyncio.to_thread(sim.last_seq)
            procs = [kube.proc, sim.proc, *(op.proc for op in ops)]
            cpu0 = cpu(procs)
            t0 = time.monotonic()
            await create_agents(http, n)
            bound = params.bound(n, settings.max_inflight, latency)
            t_ready = await tracker.wait_ready(n, max(180.0, 10 * bound))
        cpu1 = cpu(procs)
        counters = await asyncio.to_thread(kube.counters)
        calls, _ = await asyncio.to_thread(sim.calls, seq0)
        for op in ops:
            op.proc.check_alive()
    finally:
        if tracker is not None:
            await tracker.stop()
        stop(started)

    callers: dict[str, set[str]] = {}
    posts: Counter[str] = Counter()
    posts_per_agent: Counter[str] = Counter()
    for call in calls:
        agent = call.get("agent")
        if not isinstance(agent, str):
            continue
        shard = shard_label(call.get("user_agent"))
        callers.setdefault(agent, set()).add(shard)
        if call["method"] == "POST":
            posts[shard] += 1
            posts_per_agent[agent] += 1
    names = [agent_name(i) for i in range(n)]
    wrong = sum(
        1 for agent, who in callers.items() if shards > 1 and who != {str(shard_of(NAMESPACE, agent, shards))}
    )
    writers: dict[tuple[str, str], set[str]] = {}
    writes: Counter[str] = Counter()
    for w in counters.get("object_writers", []):
        if w["plural"] == PLURAL and str(w["user"]).startswith("shard-"):
            writers.setdefault((w["namespace"], w["name"]), set()).add(w["user"])
            writes[w["user"]] += int(w["count"])
    wall = t_ready - t0
    return ShardResult(
        shards=shards,
        agents=n,
        latency=latency,
        seconds_to_all_ready=wall,
        posts_per_shard=dict(sorted(posts.items())),
        agents_posted_not_once=sum(1 for a in names if posts_per_agent[a] != 1),
        agents_called_by_several=sum(1 for who in callers.values() if len(who) > 1),
        agents_called_by_wrong_shard=wrong,
        objects_written_by_several=sum(1 for who in writers.values() if len(who) > 1),
        writes_per_shard=dict(sorted(writes.items())),
        cpu_share={name: (cpu1[name] - cpu0[name]) / wall for name in cpu0},
    )


# ---------------------------------------------------------------------------------------------------
# scale: thousands of agents on one replica (make bench-scale)
# ---------------------------------------------------------------------------------------------------


@dataclass
class ScaleResult:
    agents: int
    max_inflight: int
    poll_interval: float
    seconds_to_apply: float
    seconds_to_all_ready: float
    calls: dict[str, int]  # apply -> all Ready
    status_writes: int
    cpu_seconds: dict[str, float]  # per process, apply -> all Ready
    idle_seconds: float
    idle_calls: dict[str, int]
    idle_kube_writes: dict[str, int]
    operator: Footprint
    floor: Footprint
    restart: RestartResult
    inflight_max: int  # the most Blaxel calls in flight at once during convergence
    notes: list[str] = field(default_factory=list)


async def scale_run(params: Params, n: int, workdir: Path, idle_polls: int = 2) -> ScaleResult:
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    settings = params.operator
    kube = start_kube(workdir)
    started: list[Managed] = [kube.proc]
    tracker: ReadyTracker | None = None
    try:
        sim = start_simulator(workdir, latency=params.latency, step=params.step, seed=300)
        started.append(sim.proc)
        op = start_operator(workdir, kube, sim, settings)
        floor, floor_port = start_floor(workdir, kube)
        started += [op.proc, floor]
        with Sampler([op.proc, floor], interval=0.25) as sampler:
            await asyncio.to_thread(wait_healthy, op.proc, op.health_port)
            await asyncio.to_thread(wait_healthy, floor, floor_port)
            limits = httpx.Limits(max_connections=CREATE_CONNECTIONS)
            async with httpx.AsyncClient(base_url=kube.url, limits=limits, timeout=120) as http:
                await create_namespace(http, NAMESPACE)
                tracker = ReadyTracker(kube.url)
                await tracker.start()
                await asyncio.sleep(1.0)
                before = {p.name: (p.cpu_seconds(), p.rss()) for p in (op.proc, floor)}
                procs = [kube.proc, sim.proc, op.proc, floor]
                cpu0 = cpu(procs)
                seq0 = await asyncio.to_thread(sim.last_seq)
                counters0 = await asyncio.to_thread(kube.counters)
                t0 = time.monotonic()
                await create_agents(http, n)
                t_applied = time.monotonic()
                print(f"[bench]   applied {n} in {t_applied - t0:.0f} s", flush=True)
                t_ready = await tracker.wait_ready(n, max(600.0, n * 0.1))
            cpu1 = cpu(procs)
            counters1 = await asyncio.to_thread(kube.counters)
            seq1 = await asyncio.to_thread(sim.last_seq)
            print(f"[bench]   all {n} Ready after {t_ready - t0:.0f} s; idle ...", flush=True)
            idle_seconds = idle_polls * settings.poll_interval
            await asyncio.sleep(idle_seconds)
            counters2 = await asyncio.to_thread(kube.counters)
            seq2 = await asyncio.to_thread(sim.last_seq)
            sampler.sample()
            end = {p.name: p.cpu_seconds() for p in (op.proc, floor)}
            op.proc.check_alive()
            floor.check_alive()
            sampler.stop()
        calls, _ = await asyncio.to_thread(sim.calls, seq0)
        print("[bench]   restart ...", flush=True)
        restarted, _ = await restart(params, workdir, kube, sim, op, n, started, floor)
    finally:
        if tracker is not None:
            await tracker.stop()
        stop(started)

    def footprint(proc: Managed) -> Footprint:
        return footprint_of(sampler, proc.name, before[proc.name], end[proc.name], t0, stride=4)

    converging = [c for c in calls if int(c["seq"]) <= seq1]
    w = write_counts(counters1) - write_counts(counters0)
    return ScaleResult(
        agents=n,
        max_inflight=settings.max_inflight,
        poll_interval=settings.poll_interval,
        seconds_to_apply=t_applied - t0,
        seconds_to_all_ready=t_ready - t0,
        calls=kinds_of(converging),
        status_writes=sum(c for (m, p, s), c in w.items() if p == PLURAL and s == "status" and m != "POST"),
        cpu_seconds={name: cpu1[name] - cpu0[name] for name in cpu0},
        idle_seconds=idle_seconds,
        idle_calls=kinds_of(c for c in calls if seq1 < int(c["seq"]) <= seq2),
        idle_kube_writes=kube_writes(counters1, counters2),
        operator=footprint(op.proc),
        floor=footprint(floor),
        restart=restarted,
        inflight_max=inflight_max(converging),
    )


# ---------------------------------------------------------------------------------------------------
# memory: where it goes (tracemalloc), what is kept per object and for how long
# ---------------------------------------------------------------------------------------------------

# Where an allocation is attributed: the innermost frame of the operator or Kopf (after the stdlib and
# libraries that did the allocating), mapped to what it is.
CATEGORIES: list[tuple[str, str]] = [
    ("kopf/_cogs/clients/api.py", "Kopf: watch events (bodies) in its per-object queues"),
    ("kopf/_core/reactor/inventory.py", "Kopf: per-object memory (ResourceMemory)"),
    ("kopf/_core/reactor/queueing.py", "Kopf: per-object workers and streams"),
    ("kopf/", "Kopf: other"),
    ("runtime/state.py:pack", "runtime: packed compact body (ObjectState.packed)"),
    ("runtime/status_writer.py", "runtime: status last written, until the watch delivers it"),
    ("runtime/manager.py", "runtime: ObjectState, group keys"),
    ("runtime/sweep.py", "runtime: sweep groups, digests, pages in hand"),
    ("runtime/queue.py", "runtime: work queue"),
    ("runtime/refs.py", "runtime: reference index"),
    ("runtime/converge.py", "runtime: claims (remote name -> resource)"),
    ("runtime/", "runtime: other (keys, triggers, reconcile in progress)"),
    ("blaxel/client.py", "HTTP: Blaxel answers in hand"),
    ("kubeapi.py", "HTTP: Kubernetes answers in hand"),
    ("blaxel_operator/", "operator: other"),
]


@dataclass
class HeapSnapshot:
    label: str
    total: int  # bytes traced
    by_category: dict[str, int]
    top_sites: list[tuple[str, int, int]]  # (site: file:line source, bytes, blocks), growth since the start


@dataclass
class MemoryResult:
    agents: int
    frames: int
    seconds: float
    snapshots: list[HeapSnapshot]


def site_of(traceback: Any) -> tuple[str, str]:
    """(category, 'file:line source') of an allocation's traceback (oldest frame first)."""
    import linecache

    for frame in reversed(traceback):
        name = frame.filename.replace("\\", "/")
        if "/kopf/" not in name and "blaxel_operator/" not in name:
            continue
        short = name.split("site-packages/")[-1].split("/operator/")[-1]
        line = linecache.getline(frame.filename, frame.lineno).strip()
        where = short
        if short.endswith("runtime/state.py") and "compress" in line:
            where += ":pack"
        for prefix, category in CATEGORIES:
            if prefix in where:
                return category, f"{short}:{frame.lineno} {line[:80]}"
        return "other", f"{short}:{frame.lineno} {line[:80]}"
    return "other (interpreter, libraries at import)", "(no operator or Kopf frame)"


def analyse(path: Path, base: Any, label: str, n: int) -> tuple[HeapSnapshot, Any]:
    import tracemalloc

    snap = tracemalloc.Snapshot.load(str(path))
    by_cat: Counter[str] = Counter()
    by_site: Counter[str] = Counter()
    blocks: Counter[str] = Counter()
    if base is not None:
        rows = [(d.traceback, d.size_diff, d.count_diff) for d in snap.compare_to(base, "traceback")]
    else:
        rows = [(st.traceback, st.size, st.count) for st in snap.statistics("traceback")]
    for traceback, size, count in rows:
        category, site = site_of(traceback)
        by_cat[category] += size
        by_site[site] += size
        blocks[site] += count
    total = sum(s.size for s in snap.statistics("filename"))
    top = [(site, size, blocks[site]) for site, size in by_site.most_common(12)]
    return HeapSnapshot(label, total, dict(by_cat.most_common()), top), snap


async def memory_run(params: Params, n: int, workdir: Path, frames: int = 12) -> MemoryResult:
    """The operator under tracemalloc (bench/traced.py), snapshots before the apply, while converging,
    once settled and after a poll interval more. Slow: never used for time or RSS figures."""
    import os
    import signal
    import sys

    from procs import BENCH

    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    # a long poll interval: no list sweep (a page in hand) blurs what is kept at rest
    settings = dataclasses.replace(params.operator, poll_interval=600.0)
    kube = start_kube(workdir)
    started: list[Managed] = [kube.proc]
    tracker: ReadyTracker | None = None
    t0 = time.monotonic()
    try:
        sim = start_simulator(workdir, latency=params.latency, step=params.footprint_step, seed=400)
        started.append(sim.proc)
        traced = start_operator(
            workdir,
            kube,
            sim,
            settings,
            name="operator-traced",
            rate_limit=0,
            command=[sys.executable, str(BENCH / "traced.py"), str(workdir / "snap"), str(frames)],
        )
        op, health_port = traced.proc, traced.health_port
        started.append(op)
        await asyncio.to_thread(wait_healthy, op, health_port, 180)
        count = 0

        async def snapshot() -> Path:
            nonlocal count
            count += 1
            assert op.popen is not None
            os.kill(op.popen.pid, signal.SIGUSR1)
            done = workdir / f"snap-{count}.done"
            deadline = time.monotonic() + 300
            while not done.exists():
                op.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError("no heap snapshot after 300 s")
                await asyncio.sleep(0.2)
            return workdir / f"snap-{count}.tracemalloc"

        async with httpx.AsyncClient(base_url=kube.url, timeout=120) as http:
            await create_namespace(http, NAMESPACE)
            tracker = ReadyTracker(kube.url)
            await tracker.start()
            await asyncio.sleep(1.0)
            paths = [("started, no resource", await snapshot())]
            await create_agents(http, n)
            await tracker.wait_until(lambda: len(tracker.ready_now) >= n // 2, 900, "half Ready")
            paths.append(("converging (half Ready)", await snapshot()))
            await tracker.wait_ready(n, 900)
            # settled: Kopf's per-object workers idle out, the groups' first sweeps have passed
            await asyncio.sleep(10.0)
            paths.append(("all Ready, settled", await snapshot()))
            await asyncio.sleep(20.0)
            paths.append(("20 s later, at rest", await snapshot()))
    finally:
        if tracker is not None:
            await tracker.stop()
        stop(started)

    snapshots = []
    base_snap = None
    for label, path in paths:
        result, snap = await asyncio.to_thread(analyse, path, base_snap, label, n)
        if base_snap is None:
            base_snap = snap
        snapshots.append(result)
    return MemoryResult(agents=n, frames=frames, seconds=time.monotonic() - t0, snapshots=snapshots)

"""Aggregation (median, min, max over repetitions), the targets, the plot and the printed sections."""

from __future__ import annotations

import dataclasses
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

from scenarios import ConvergenceResult, FootprintResult, MemoryResult, Params, ShardResult

T = TypeVar("T")
MB = 1024 * 1024
KB = 1024


@dataclass
class Stat:
    median: float
    low: float
    high: float
    n: int

    def fmt(self, digits: int = 2, unit: str = "") -> str:
        med = f"{self.median:.{digits}f}{unit}"
        if self.n <= 1 or f"{self.low:.{digits}f}" == f"{self.high:.{digits}f}":
            return med
        return f"{med} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def stat(values: Sequence[float]) -> Stat:
    values = list(values) or [float("nan")]
    return Stat(statistics.median(values), min(values), max(values), len(values))


def over(results: Sequence[T], fn: Callable[[T], float]) -> Stat:
    return stat([fn(r) for r in results])


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] if ordered else float("nan")


def ready_at(q: float) -> Callable[[ConvergenceResult], float]:
    return lambda r: pct(r.ready_offsets, q)


def posted_at(q: float) -> Callable[[ConvergenceResult], float]:
    return lambda r: pct(r.post_offsets, q)


def calls_of(method: str) -> Callable[[ConvergenceResult], float]:
    return lambda r: r.per_agent(method)


@dataclass
class Target:
    key: str
    name: str
    value: str
    goal: str
    met: bool
    why: str = ""


@dataclass
class Summary:
    params: Params
    conv: list[ConvergenceResult]
    foot: list[FootprintResult]
    shards: list[ShardResult]
    memory: MemoryResult | None
    runtime: float
    notes: list[str]
    load: tuple[Any, Any] = ((0, 0, 0), (0, 0, 0))
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "params": dataclasses.asdict(self.params),
            "runtime_seconds": self.runtime,
            "notes": self.notes,
            "load": self.load,
            "convergence": [dataclasses.asdict(r) for r in self.conv],
            "footprint": [dataclasses.asdict(r) for r in self.foot],
            "shards": [dataclasses.asdict(r) for r in self.shards],
            "memory": dataclasses.asdict(self.memory) if self.memory else None,
        }

    # -- convergence -------------------------------------------------------------------------------------
    def of(self, controller: str) -> list[ConvergenceResult]:
        return [r for r in self.conv if r.controller == controller]

    @property
    def ops(self) -> list[ConvergenceResult]:
        return self.of("operator")

    @property
    def ideals(self) -> list[ConvergenceResult]:
        return self.of("ideal")

    def pairs(self) -> list[tuple[ConvergenceResult, ConvergenceResult]]:
        ideal = {r.rep: r for r in self.ideals}
        return [(op, ideal[op.rep]) for op in self.ops if op.rep in ideal]

    @property
    def ratio(self) -> Stat:
        return stat([op.seconds_to_all_ready / ideal.seconds_to_all_ready for op, ideal in self.pairs()])

    def cpu_per_agent(self, controller: str, process: str) -> Stat:
        return over(
            self.of(controller),
            lambda r: r.cpu_share.get(process, 0.0) * r.seconds_to_all_ready / r.agents * 1000,
        )

    # -- idle ---------------------------------------------------------------------------------------------
    @property
    def idle_calls(self) -> Stat:
        return over(self.ops, lambda r: r.idle_calls_per_resource_per_poll)

    @property
    def idle_blaxel_writes(self) -> Stat:
        return over(
            self.ops, lambda r: float(sum(c for m, c in r.idle_calls.items() if m not in ("GET", "LIST")))
        )

    @property
    def idle_kube_writes(self) -> Stat:
        return over(self.ops, lambda r: float(sum(r.idle_kube_writes.values())))

    # -- footprint ----------------------------------------------------------------------------------------
    @property
    def rss_ratio(self) -> Stat:
        return over(self.foot, lambda r: r.operator.peak_rss / r.floor.peak_rss)

    @property
    def growth_ratio(self) -> Stat:
        return over(self.foot, lambda r: r.operator.growth / max(1, r.floor.growth))

    def growth(self, who: str) -> Stat:
        return over(self.foot, lambda r: getattr(r, who).growth / r.agents / KB)

    # -- shards -------------------------------------------------------------------------------------------
    def shard(self, shards: int, agents: int, latency: float | None = None) -> ShardResult | None:
        latency = self.params.latency if latency is None else latency
        return next(
            (r for r in self.shards if r.shards == shards and r.agents == agents and r.latency == latency),
            None,
        )

    def targets(self) -> list[Target]:
        p = self.params
        out: list[Target] = []
        if self.pairs():
            r = self.ratio
            op_t = over(self.ops, lambda x: x.seconds_to_all_ready)
            id_t = over(self.ideals, lambda x: x.seconds_to_all_ready)
            out.append(
                Target(
                    "a",
                    f"(a) convergence of {p.agents} applied at once, vs the near-ideal client",
                    f"{r.fmt(2, 'x')} ({op_t.fmt(1, ' s')} vs {id_t.fmt(1, ' s')})",
                    "<= 1.20x",
                    r.median <= 1.2,
                    "see (a) below: CPU per agent" if r.median > 1.2 else "",
                )
            )
        if self.ops:
            ic = self.idle_calls
            out.append(
                Target(
                    "b",
                    f"(b) idle: Blaxel calls per resource per poll interval ({p.operator.poll_interval:g} s)",
                    ic.fmt(4),
                    "<= 0.02",
                    ic.high <= 0.02,
                )
            )
            bw, kw = self.idle_blaxel_writes, self.idle_kube_writes
            out.append(Target("b", "(b) idle: Blaxel writes", bw.fmt(0), "0", bw.high == 0))
            out.append(Target("b", "(b) idle: Kubernetes writes", kw.fmt(0), "0", kw.high == 0))
        if self.foot:
            rr, gr = self.rss_ratio, self.growth_ratio
            n = p.footprint_agents
            out.append(
                Target(
                    "c",
                    f"(c) peak RSS at {n} resources vs the Kopf floor",
                    rr.fmt(2, "x"),
                    "<= 1.25x",
                    rr.median <= 1.25,
                )
            )
            out.append(
                Target(
                    "c",
                    "(c) RSS growth per resource vs the floor's",
                    f"{gr.fmt(2, 'x')} ({self.growth('operator').fmt(1, ' KB')} vs {self.growth('floor').fmt(1, ' KB')})",
                    "<= 1.50x",
                    gr.median <= 1.5,
                )
            )
            restarts = [f.restart for f in self.foot if f.restart is not None]
            if restarts:
                single = stat([float(r.calls.get("GET", 0)) for r in restarts])
                lists = stat([float(r.calls.get("LIST", 0)) for r in restarts])
                writes = stat(
                    [
                        float(sum(c for m, c in r.calls.items() if m not in ("GET", "LIST")))
                        + sum(r.kube_writes.values())
                        for r in restarts
                    ]
                )
                steady = stat([r.seconds_to_steady for r in restarts])
                out.append(
                    Target(
                        "d",
                        f"(d) restart at {n}: no thundering herd (list pages, not one GET each)",
                        f"{lists.fmt(0)} list calls, {single.fmt(0)} single GETs, {writes.fmt(0)} writes; "
                        f"steady after {steady.fmt(1, ' s')}",
                        f"<= {n // 200 * 2 + 2} list calls, 0 GETs, 0 writes",
                        single.high == 0 and writes.high == 0 and lists.high <= n // 200 * 2 + 2,
                    )
                )
        multi = self.shard(p.shards, p.shard_agents)
        if multi is not None:
            bad = (
                multi.agents_called_by_several
                + multi.agents_called_by_wrong_shard
                + multi.objects_written_by_several
                + multi.agents_posted_not_once
            )
            out.append(
                Target(
                    "e",
                    f"(e) {p.shards} shards on {p.shard_agents}: disjoint work",
                    f"POSTs per shard {multi.posts_per_shard}; agents called by two shards "
                    f"{multi.agents_called_by_several}, by the wrong one {multi.agents_called_by_wrong_shard}, "
                    f"objects written by two {multi.objects_written_by_several}, agents not POSTed once "
                    f"{multi.agents_posted_not_once}",
                    "all 0",
                    bad == 0,
                )
            )
        for latency, bound_by in (
            (p.latency, "this machine's 2 cores"),
            (p.shard_latency, "Blaxel's latency"),
        ):
            many = self.shard(p.shards, p.shard_agents, latency)
            share = self.shard(1, p.shard_agents // p.shards, latency)
            if many is None or share is None:
                continue
            speed = (many.agents / many.seconds_to_all_ready) / (share.agents / share.seconds_to_all_ready)
            out.append(
                Target(
                    "e",
                    f"(e) throughput of {p.shards} shards vs one shard (C per shard), L = {latency * 1000:.0f} ms "
                    f"(a shard bound by {bound_by})",
                    f"{speed:.2f}x ({many.agents} in {many.seconds_to_all_ready:.1f} s vs "
                    f"{share.agents} in {share.seconds_to_all_ready:.1f} s)",
                    f"near {p.shards}x (>= {0.9 * p.shards:.1f}x)",
                    speed >= 0.9 * p.shards,
                )
            )
        return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{psutil.cpu_count(logical=True)} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()} ({sys.implementation.name}), {platform.system()} {platform.release()}"
    )


def runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def calls_fmt(calls: dict[str, int], per: float = 1.0, digits: int = 2) -> str:
    order = ["POST", "PUT", "DELETE", "GET", "LIST"]
    keys = sorted(calls, key=lambda k: order.index(k) if k in order else 99)
    return ", ".join(f"{k} {calls[k] / per:.{digits}f}" for k in keys) or "none"


def sections(s: Summary) -> list[str]:
    """The figures as Markdown (printed and in BENCHMARKS.md)."""
    p = s.params
    c = p.operator
    out: list[str] = ["## Targets", ""]
    tick = {True: "met", False: "**missed**"}
    out += table(
        ["target", "measured: median (min-max)", "goal", "result"],
        [[t.name, t.value, t.goal, tick[t.met] + (f" ({t.why})" if t.why else "")] for t in s.targets()],
    )
    if s.conv:
        out += [
            "",
            f"## (a) Convergence: {p.agents} BlaxelAgents applied at once ({runs(len(s.ops))} of each)",
            "",
        ]
        rows = []
        for label, fn, digits, unit in (
            ("apply -> all Ready", lambda r: r.seconds_to_all_ready, 2, " s"),
            ("the apply itself (POSTs to the emulator)", lambda r: r.seconds_to_apply, 2, " s"),
            ("first / median / last agent Ready", None, 1, " s"),
            ("apply -> an agent's POST: median / last", None, 1, " s"),
        ):
            cells = [label]
            for group in (s.ops, s.ideals):
                if not group:
                    cells.append("")
                elif fn is not None:
                    cells.append(over(group, fn).fmt(digits, unit))
                elif label.startswith("first"):
                    cells.append(" / ".join(over(group, ready_at(q)).fmt(1, " s") for q in (0.0, 0.5, 1.0)))
                else:
                    cells.append(" / ".join(over(group, posted_at(q)).fmt(1, " s") for q in (0.5, 1.0)))
            rows.append(cells)
        methods = sorted({m for r in s.conv for m in r.calls})
        for m in methods:
            rows.append(
                [f"Blaxel {m} per agent"]
                + [over(g, calls_of(m)).fmt(2) if g else "" for g in (s.ops, s.ideals)]
            )
        rows.append(
            ["Kubernetes status writes per agent"]
            + [over(g, lambda r: r.status_writes / r.agents).fmt(2) if g else "" for g in (s.ops, s.ideals)]
        )
        rows.append(
            ["Kubernetes writes to the object (finalizer) per agent"]
            + [over(g, lambda r: r.main_writes / r.agents).fmt(2) if g else "" for g in (s.ops, s.ideals)]
        )
        rows.append(
            ["Kubernetes Events per agent"]
            + [over(g, lambda r: r.event_writes / r.agents).fmt(2) if g else "" for g in (s.ops, s.ideals)]
        )
        for proc in ("operator", "kube-emulator", "simulator"):
            rows.append(
                [f"CPU of {proc if proc != 'operator' else 'the controller'} per agent"]
                + [
                    s.cpu_per_agent(who, proc if proc != "operator" else who).fmt(1, " ms") if g else ""
                    for who, g in (("operator", s.ops), ("ideal", s.ideals))
                ]
            )
        out += table(["", "blaxel-operator", "near-ideal client"], rows)
        out += [
            "",
            f"C = {c.max_inflight} calls in flight, L = {p.latency * 1000:.0f} ms, deployment = 3 steps of "
            f"{p.step:g} s, deployment poll {c.deploy_poll_interval:g} s (the near-ideal client lists at the same "
            "interval). CPU per agent: the process's CPU seconds from the apply to all Ready, divided by N. The "
            "machine's load average (1 min) was "
            f"{s.load[0][0]:.1f} at the start and {s.load[1][0]:.1f} at the end of the bench (2 cores, shared).",
        ]
        out += [
            "",
            f"## (b) Idle: {p.idle_polls} poll intervals of {c.poll_interval:g} s right after all were Ready",
            "",
        ]
        rows = [
            ["Blaxel calls (total)", over(s.ops, lambda r: float(sum(r.idle_calls.values()))).fmt(0)],
            ["of which list pages", over(s.ops, lambda r: float(r.idle_calls.get("LIST", 0))).fmt(0)],
            ["Blaxel calls per resource per poll interval", s.idle_calls.fmt(4)],
            ["Blaxel writes", s.idle_blaxel_writes.fmt(0)],
            ["Kubernetes writes", s.idle_kube_writes.fmt(0)],
            [
                "reconciles per resource (objects whose listed state changed)",
                over(s.ops, lambda r: r.idle_reconciles / r.agents).fmt(3),
            ],
        ]
        out += table(["", "median (min-max)"], rows)
    if s.foot:
        n = p.footprint_agents
        out += [
            "",
            f"## (c) Footprint at {n} resources, next to a do-nothing Kopf operator ({runs(len(s.foot))})",
            "",
        ]

        def mb(fn: Callable[[FootprintResult], float]) -> str:
            return over(s.foot, lambda r: fn(r) / MB).fmt(1, " MB")

        rows = [
            [
                "peak RSS",
                mb(lambda r: r.operator.peak_rss),
                mb(lambda r: r.floor.peak_rss),
                s.rss_ratio.fmt(2, "x"),
            ],
            [
                "RSS before the apply (0 resources)",
                mb(lambda r: r.operator.rss_before),
                mb(lambda r: r.floor.rss_before),
                over(s.foot, lambda r: r.operator.rss_before / r.floor.rss_before).fmt(2, "x"),
            ],
            [
                "RSS growth per resource",
                s.growth("operator").fmt(1, " KB"),
                s.growth("floor").fmt(1, " KB"),
                s.growth_ratio.fmt(2, "x"),
            ],
            [
                "CPU seconds, apply to the end",
                over(s.foot, lambda r: r.operator.cpu_work).fmt(1, " s"),
                over(s.foot, lambda r: r.floor.cpu_work).fmt(1, " s"),
                over(s.foot, lambda r: r.operator.cpu_work / r.floor.cpu_work).fmt(2, "x"),
            ],
        ]
        out += table(["", "blaxel-operator", "Kopf floor", "ratio"], rows)
        out += [
            "",
            f"All {n} Ready after {over(s.foot, lambda r: r.seconds_to_all_ready).fmt(1, ' s')} (step "
            f"{p.footprint_step:g} s); RSS is sampled every 100 ms until the operator's first list sweeps have "
            "passed. The floor (bench/kopf_floor.py) watches the same objects with one no-op `on.event` handler "
            "and the operator's Kopf settings, and writes nothing.",
        ]
        restarts = [f.restart for f in s.foot if f.restart is not None]
        if restarts:
            out += ["", f"## (d) Restart over the {n} settled resources ({runs(len(restarts))})", ""]
            rows = [
                ["rate limit of the restarted process", f"{restarts[0].rate_limit:g} calls/s (the default)"],
                [
                    "process start -> every resource reconciled once (steady state)",
                    stat([r.seconds_to_steady for r in restarts]).fmt(1, " s"),
                ],
                ["Blaxel calls until then", "; ".join(calls_fmt(r.calls, digits=0) for r in restarts)],
                [
                    "Blaxel calls in the next poll interval",
                    "; ".join(calls_fmt(r.calls_after, digits=0) for r in restarts),
                ],
                ["Kubernetes writes", "; ".join(str(sum(r.kube_writes.values())) for r in restarts)],
                [
                    "most Blaxel calls in flight at once",
                    stat([float(r.max_inflight_seen) for r in restarts]).fmt(0),
                ],
                [
                    "peak RSS of the restarted operator / of the floor restarted with it",
                    stat([r.peak_rss / MB for r in restarts]).fmt(1, " MB")
                    + " / "
                    + stat([r.floor_peak_rss / MB for r in restarts]).fmt(1, " MB"),
                ],
            ]
            out += table(["", "value"], rows)
    if s.shards:
        out += ["", "## (e) Shards", ""]
        rows = []
        for r in sorted(s.shards, key=lambda r: (r.latency, r.agents, r.shards)):
            rows.append(
                [
                    f"{r.shards} shard{'s' if r.shards > 1 else ''}, {r.agents} agents, L = {r.latency * 1000:.0f} ms",
                    f"{r.seconds_to_all_ready:.1f} s",
                    f"{r.agents / r.seconds_to_all_ready:.0f}/s",
                    ", ".join(f"{k}: {v}" for k, v in r.posts_per_shard.items()),
                    f"{r.agents_called_by_several} / {r.agents_called_by_wrong_shard} / {r.objects_written_by_several} / {r.agents_posted_not_once}",
                    ", ".join(f"{k} {v * 100:.0f}%" for k, v in r.cpu_share.items()),
                ]
            )
        out += table(
            [
                "run",
                "all Ready",
                "agents Ready per s",
                "POSTs per shard",
                "called by 2 / wrong shard / written by 2 / not POSTed once",
                "CPU share (of one core)",
            ],
            rows,
        )
        out += [
            "",
            f"C = {c.max_inflight} per shard. At L = {s.params.latency * 1000:.0f} ms a shard is bound by CPU: "
            "the shards, the emulator and the simulator share this machine's 2 cores, so two shards cannot run "
            f"twice as fast. At L = {s.params.shard_latency * 1000:.0f} ms each shard is bound by its C calls in flight "
            "(what sharding multiplies), with CPU to spare. Calls are attributed by the User-Agent each shard sends "
            "(`blaxel-operator/<v> shard/<i>-of-<n>`, recorded in the simulator's call log); Kubernetes writes "
            "by the token of each process's kubeconfig (the test bed counts writes per object and token).",
        ]
    if s.memory is not None:
        out += memory_sections(s.memory)
    return out


def memory_sections(m: MemoryResult) -> list[str]:
    n = m.agents
    out = [
        "",
        f"## (f) Where the memory goes: tracemalloc, {n} resources",
        "",
        f"The operator under `tracemalloc` ({m.frames} frames; bench/traced.py), a heap snapshot before the "
        f"apply, while converging, once settled and 20 s later; growth since the first, per resource, by "
        f"what allocated it (the innermost frame of the operator or Kopf). Took {m.seconds:.0f} s.",
        "",
    ]
    labels = [snap.label for snap in m.snapshots[1:]]
    cats: list[str] = []
    for snap in m.snapshots[1:]:
        cats += [c for c in snap.by_category if c not in cats]
    rows = []
    for cat in cats:
        rows.append([cat] + [f"{snap.by_category.get(cat, 0) / n:.0f} B" for snap in m.snapshots[1:]])
    rows.append(
        ["**total heap growth per resource**"]
        + [f"**{(snap.total - m.snapshots[0].total) / n / KB:.1f} KB**" for snap in m.snapshots[1:]]
    )
    out += table(["allocated by", *labels], rows)
    last = m.snapshots[-1]
    out += ["", f"Top allocation sites at rest ({last.label}), growth per resource:", ""]
    out += table(
        ["site", "bytes", "blocks"],
        [[f"`{site}`", f"{size / n:.0f}", f"{blocks / n:.1f}"] for site, size, blocks in last.top_sites[:10]],
    )
    return out


def scale_sections(results: dict[str, Any]) -> list[str]:
    r = results["result"]
    p = results["params"]["operator"]
    n = r["agents"]
    op, fl, rs = r["operator"], r["floor"], r["restart"]
    wall = r["seconds_to_all_ready"]
    idle_calls = sum(r["idle_calls"].values())
    polls = r["idle_seconds"] / r["poll_interval"]
    rows = [
        ["apply (POSTs to the emulator)", f"{r['seconds_to_apply']:.0f} s"],
        ["apply -> all Ready", f"{wall:.0f} s"],
        ["Blaxel calls until then", calls_fmt(r["calls"], digits=0)],
        ["most Blaxel calls in flight at once", f"{r['inflight_max']} (C = {r['max_inflight']})"],
        ["Kubernetes status writes per agent", f"{r['status_writes'] / n:.2f}"],
        [
            "idle: Blaxel calls per resource per poll interval",
            f"{idle_calls / (n * polls):.4f} ({calls_fmt(r['idle_calls'], digits=0)} in {r['idle_seconds']:.0f} s)",
        ],
        [
            "idle: writes (Blaxel, Kubernetes)",
            f"{sum(v for k, v in r['idle_calls'].items() if k not in ('GET', 'LIST'))}, {sum(r['idle_kube_writes'].values())}",
        ],
        ["restart -> steady state", f"{rs['seconds_to_steady']:.0f} s"],
        ["restart: Blaxel calls until then", calls_fmt(rs["calls"], digits=0)],
        ["restart: writes (Kubernetes)", str(sum(rs["kube_writes"].values()))],
        [
            "peak RSS: operator / Kopf floor",
            f"{op['peak_rss'] / MB:.0f} MB / {fl['peak_rss'] / MB:.0f} MB = {op['peak_rss'] / fl['peak_rss']:.2f}x",
        ],
        [
            "RSS growth per resource: operator / floor",
            f"{(op['peak_rss'] - op['rss_before']) / n / KB:.1f} KB / {(fl['peak_rss'] - fl['rss_before']) / n / KB:.1f} KB"
            f" = {(op['peak_rss'] - op['rss_before']) / max(1, fl['peak_rss'] - fl['rss_before']):.2f}x",
        ],
        [
            "peak RSS after a restart: operator / floor (restarted together)",
            f"{rs['peak_rss'] / MB:.0f} MB / {rs.get('floor_peak_rss', 0) / MB:.0f} MB",
        ],
    ]
    cpu = r["cpu_seconds"]
    rows += [
        [f"CPU seconds, apply -> all Ready: {k}", f"{v:.0f} s ({v / wall * 100:.0f}% of one core)"]
        for k, v in cpu.items()
    ]
    return [
        f"## {n} BlaxelAgents on one replica",
        "",
        f"`--max-inflight {p['max_inflight']} --rate-limit 0 --poll-interval {p['poll_interval']:g} "
        f"--deploy-poll-interval {p['deploy_poll_interval']:g}`; the Kopf floor runs beside it; load average "
        f"{results['load'][0][0]:.1f} -> {results['load'][1][0]:.1f}; the run took {results['runtime_seconds']:.0f} s.",
        "",
        *table(["", "value"], rows),
    ]


def print_summary(summary: Summary) -> None:
    print()
    for line in sections(summary):
        print(line)
    for note in summary.notes:
        print(f"note: {note}")
    print(f"\nbench runtime: {summary.runtime:.0f} s; machine: {machine()}")


def plot(summary: Summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = summary.params
    fig, ax = plt.subplots(figsize=(8, 4.6), dpi=110)
    for r in sorted(summary.conv, key=lambda r: (r.controller, r.rep)):
        xs = [0.0, *r.ready_offsets]
        style = "-" if r.controller == "operator" else "--"
        label = f"{'blaxel-operator' if r.controller == 'operator' else 'near-ideal client'}, run {r.rep + 1} ({r.seconds_to_all_ready:.1f} s)"
        ax.step(xs, list(range(len(xs))), where="post", lw=1.4, ls=style, label=label)
    ax.set_xlabel("seconds since the apply started")
    ax.set_ylabel("BlaxelAgents Ready")
    ax.set_title(
        f"{p.agents} BlaxelAgents applied at once (C={p.operator.max_inflight}, L={p.latency * 1000:.0f} ms, "
        f"deployment 3x{p.step:g} s)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)

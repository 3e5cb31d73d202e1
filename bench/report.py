"""Aggregation (median, min, max over repetitions), the plot, the printed summary and BENCHMARKS.md."""

from __future__ import annotations

import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil

from scenarios import ConvergenceResult, Footprint, FootprintResult, Params

T = TypeVar("T")
MB = 1024 * 1024
NEEDS_EXPLANATION = "see 'Why' below"


@dataclass
class Stat:
    median: float
    low: float
    high: float
    n: int

    def fmt(self, digits: int = 2, unit: str = "") -> str:
        med = f"{self.median:.{digits}f}{unit}"
        if self.n <= 1 or self.low == self.high:
            return med
        return f"{med} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def stat(values: Sequence[float]) -> Stat:
    return Stat(statistics.median(values), min(values), max(values), len(values))


def over(results: Sequence[T], fn: Callable[[T], float]) -> Stat:
    return stat([fn(r) for r in results])


def quantiles(
    results: Sequence[ConvergenceResult],
    values: Callable[[ConvergenceResult], Sequence[float]],
    qs: Sequence[float],
    digits: int,
    unit: str,
) -> str:
    """'a / b / c': for each quantile q, its median (min-max) over the runs."""
    return " / ".join(stat([pct(values(r), q) for r in results]).fmt(digits, unit) for q in qs)


@dataclass
class Target:
    name: str
    value: str
    goal: str
    met: bool
    miss: str = ""


@dataclass
class Summary:
    params: Params
    conv: list[ConvergenceResult]
    foot: list[FootprintResult]
    runtime: float
    notes: list[str]
    daemon_floor: Footprint | None = None

    # -- convergence
    @property
    def t_ready(self) -> Stat:
        return over(self.conv, lambda r: r.seconds_to_all_ready)

    @property
    def ratio(self) -> Stat:
        return over(self.conv, lambda r: r.seconds_to_all_ready / r.bound)

    def calls_mean(self, method: str) -> Stat:
        return over(self.conv, lambda r: r.blaxel_calls_mean.get(method, 0.0))

    def calls_max(self, method: str) -> Stat:
        return over(self.conv, lambda r: float(r.blaxel_calls_max.get(method, 0)))

    @property
    def idle_blaxel_writes(self) -> Stat:
        return over(self.conv, lambda r: float(sum(c for m, c in r.idle_blaxel_calls.items() if m != "GET")))

    @property
    def idle_kube_writes(self) -> Stat:
        return over(self.conv, lambda r: float(sum(r.idle_kube_writes.values())))

    @property
    def idle_gets(self) -> Stat:
        return over(self.conv, lambda r: r.idle_gets_per_agent_per_poll)

    @property
    def idle_gets_per_poll(self) -> Stat:
        return over(self.conv, lambda r: r.idle_gets_per_reconcile)

    # -- footprint
    @property
    def rss_ratio(self) -> Stat:
        return over(self.foot, lambda r: r.operator.peak_rss / r.floor.peak_rss)

    def targets(self) -> list[Target]:
        out: list[Target] = []
        if self.conv:
            ratio = self.ratio
            out.append(
                Target(
                    "all Ready within 1.5x the bound",
                    f"{ratio.fmt(2, 'x')} ({self.t_ready.fmt(1, ' s')} vs {self.params.bound:.1f} s)",
                    "<= 1.50x",
                    ratio.median <= 1.5,
                    f"{(ratio.median / 1.5 - 1) * 100:.0f}% over the target" if ratio.median > 1.5 else "",
                )
            )
            bw, kw = self.idle_blaxel_writes, self.idle_kube_writes
            out.append(Target("idle: Blaxel writes", bw.fmt(0), "0", bw.high == 0))
            out.append(Target("idle: Kubernetes writes", kw.fmt(0), "0", kw.high == 0))
            per_poll, per_interval = self.idle_gets_per_poll, self.idle_gets
            out.append(
                Target(
                    "idle: Blaxel GETs per agent per poll (one poll = one reconcile)",
                    per_poll.fmt(3),
                    "<= 1",
                    per_poll.median <= 1.0 + 5e-3,
                    f"{per_poll.median - 1:.3f} over" if per_poll.median > 1.005 else "",
                )
            )
            out.append(
                Target(
                    f"idle: Blaxel GETs per agent per configured poll interval ({self.params.operator.poll_interval:g} s)",
                    per_interval.fmt(3),
                    "<= 1",
                    per_interval.median <= 1.0,
                    f"{(per_interval.median - 1) * 100:.0f}% over: polls come every 0.8-1.0x the interval"
                    if per_interval.median > 1
                    else "",
                )
            )
            post = self.calls_max("POST")
            out.append(Target("apply -> Ready: POSTs per agent (max)", post.fmt(0), "<= 1", post.high <= 1))
            sw = over(self.conv, lambda r: float(r.status_writes_effective_max))
            out.append(
                Target(
                    "apply -> Ready: status writes per agent (max)",
                    f"{sw.fmt(0)} (mean {over(self.conv, lambda r: r.status_writes_mean).fmt(2)})",
                    "<= 4",
                    sw.high <= 4,
                )
            )
        if self.foot:
            rr = self.rss_ratio
            out.append(
                Target(
                    "peak RSS vs the Kopf floor",
                    rr.fmt(2, "x"),
                    "<= 1.50x",
                    rr.median <= 1.5,
                    f"{(rr.median / 1.5 - 1) * 100:.0f}% over the target" if rr.median > 1.5 else "",
                )
            )
        return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{psutil.cpu_count(logical=True)} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()} ({sys.implementation.name}), {platform.system()} {platform.release()}"
    )


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] if ordered else float("nan")


def utilisation(r: ConvergenceResult, params: Params, part: float = 1.0) -> float:
    """Blaxel calls per second from the apply to all Ready (or its first `part`), as a share of C/L."""
    capacity = params.operator.max_inflight / params.latency
    end = r.seconds_to_all_ready * part
    return sum(1 for t, _ in r.call_offsets if t < end) / end / capacity


def plot(summary: Summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = summary.params
    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(8, 6.4), dpi=110, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    for i, r in enumerate(summary.conv):
        xs = [0.0, *r.ready_offsets]
        ys = list(range(len(xs)))
        ax.step(xs, ys, where="post", lw=1.6, label=f"operator, run {i + 1} ({r.seconds_to_all_ready:.1f} s)")
    n = p.agents
    deploy, bound = p.deploy_seconds, p.bound
    ax.plot(
        [0, deploy, bound],
        [0, 0, n],
        "k--",
        lw=1.2,
        label=f"bound: N·L/C + deploy = {p.api_seconds:.1f} + {deploy:.1f} s",
    )
    for axis in (ax, ax2):
        axis.axvline(1.5 * bound, color="tab:red", ls=":", lw=1.2)
        axis.grid(alpha=0.3)
    ax.plot([], [], color="tab:red", ls=":", lw=1.2, label=f"target: 1.5x bound = {1.5 * bound:.1f} s")
    ax.set_ylabel("BlaxelAgents Ready")
    ax.set_title(
        f"Convergence of {n} BlaxelAgents (L={p.latency * 1000:.0f} ms, C={p.operator.max_inflight}, "
        f"step={p.step:g} s, deploy poll={p.operator.deploy_poll_interval:g} s)",
        fontsize=10,
    )
    ax.set_ylim(0, n * 1.05)
    ax.legend(loc="upper left", fontsize=8)

    # Blaxel calls per second of the median run, by method, against the capacity C/L
    runs = sorted(summary.conv, key=lambda r: r.seconds_to_all_ready)
    median_run = runs[len(runs) // 2]
    width = 0.5
    end = median_run.seconds_to_all_ready
    bins = int(end / width) + 1
    bottom = [0.0] * bins
    for method, color in (("GET", "tab:blue"), ("POST", "tab:orange"), ("PUT", "tab:green")):
        counts = [0.0] * bins
        for t, m in median_run.call_offsets:
            if m == method and 0 <= t < bins * width:
                counts[int(t / width)] += 1 / width
        if any(counts):
            ax2.bar(
                [i * width for i in range(bins)],
                counts,
                width=width,
                bottom=bottom,
                align="edge",
                color=color,
                label=f"Blaxel {method}",
            )
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    capacity = p.operator.max_inflight / p.latency
    ax2.axhline(capacity, color="k", ls="--", lw=1.0, label=f"capacity C/L = {capacity:.0f}/s")
    ax2.set_ylabel("calls / s")
    ax2.set_xlabel("seconds since the apply started")
    ax2.set_ylim(0, capacity * 1.3)
    ax2.legend(loc="upper left", fontsize=7, ncol=4)
    ax2.set_title(f"Blaxel calls per second, run of {median_run.seconds_to_all_ready:.1f} s", fontsize=9)
    ax.set_xlim(0, max([1.6 * bound, *(r.seconds_to_all_ready * 1.05 for r in summary.conv)]))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def sections(summary: Summary) -> list[str]:
    """The figures as Markdown (also printed)."""
    p, conv, foot = summary.params, summary.conv, summary.foot
    s = p.operator
    out: list[str] = []
    tick = {True: "met", False: "**missed**"}
    out += ["## Targets", ""]
    out += _table(
        ["target", "measured: median (min-max)", "goal", "result"],
        [
            [t.name, t.value, t.goal, tick[t.met] + (f": {t.miss}" if t.miss else "")]
            for t in summary.targets()
        ],
    )
    if conv:
        cpu_names = list(conv[0].cpu_share)
        out += [
            "",
            f"## Convergence: {p.agents} BlaxelAgents applied at once ({runs(len(conv))})",
            "",
        ]
        calls = summary.calls_mean("GET").median + summary.calls_mean("POST").median
        rows = [
            ["time from the apply to all Ready", summary.t_ready.fmt(2, " s")],
            [
                "bound N·L/C + deployment",
                f"{p.bound:.2f} s = {p.agents}·{p.latency:g}/{s.max_inflight} + {3}·{p.step:g}",
            ],
            ["ratio to the bound", summary.ratio.fmt(2, "x")],
            [
                "the apply itself (POSTs to the emulator)",
                over(conv, lambda r: r.seconds_to_apply).fmt(2, " s"),
            ],
            [
                "first / median / 90th pct agent Ready",
                quantiles(conv, lambda r: r.ready_offsets, (0.0, 0.5, 0.9), 1, " s"),
            ],
            [
                "an agent's creation -> its finalizer, Kopf's intake (median / 90th pct / max)",
                quantiles(conv, lambda r: r.intake_delays, (0.5, 0.9, 1.0), 2, " s"),
            ],
            [
                "its finalizer -> its first Blaxel call (median / 90th pct / max)",
                quantiles(conv, lambda r: r.first_call_delays, (0.5, 0.9, 1.0), 2, " s"),
            ],
            [
                "apply -> an agent's POST (first / median / last)",
                quantiles(conv, lambda r: r.post_offsets, (0.0, 0.5, 1.0), 1, " s"),
            ],
            [
                "Blaxel calls/s vs capacity C/L: whole run / its first quarter",
                over(conv, lambda r: utilisation(r, p) * 100).fmt(0, "%")
                + " / "
                + over(conv, lambda r: utilisation(r, p, 0.25) * 100).fmt(0, "%"),
            ],
            [
                "API time at the measured calls per agent",
                f"{calls * p.api_seconds:.2f} s = {calls:.2f} calls · {p.api_seconds:.2f} s",
            ],
        ]
        rows += [
            [
                f"CPU of {name} during convergence",
                stat([r.cpu_share[name] * 100 for r in conv]).fmt(0, "%"),
            ]
            for name in cpu_names
        ]
        out += _table(["", "median (min-max)"], rows)
        out += [
            "",
            "CPU is the share of one core (the machine has "
            f"{psutil.cpu_count()}), between the start of the apply and the moment all were Ready.",
        ]
        out += ["", "## Cost per agent, from the apply to Ready", ""]
        methods = sorted({m for r in conv for m in r.blaxel_calls_mean} | {"PUT", "DELETE"})
        rows = [
            [
                f"Blaxel {m}",
                summary.calls_mean(m).fmt(2),
                summary.calls_max(m).fmt(0),
            ]
            for m in methods
        ]
        rows += [
            [
                "Kubernetes PATCH/PUT of /status",
                over(conv, lambda r: r.status_writes_mean).fmt(2),
                over(conv, lambda r: float(r.status_writes_effective_max)).fmt(0),
            ],
            [
                "Kubernetes PATCH/PUT of the resource (not /status)",
                over(conv, lambda r: r.main_writes_mean).fmt(2),
                over(conv, lambda r: float(r.main_writes_effective_max)).fmt(0),
            ],
            [
                "Kubernetes Events posted",
                over(conv, lambda r: r.event_writes / r.agents).fmt(2),
                "",
            ],
        ]
        out += _table(["per agent", "mean", "max"], rows)
        out += [
            "",
            "Blaxel calls are the simulator's call log, counted per agent up to that agent's own Ready. "
            "Kubernetes means are write requests counted by the emulator (all agents, until all were Ready, / "
            f"{p.agents}; the bench's own create POSTs excluded); maxima are effective writes per agent "
            "(resourceVersion bumps seen on a watch, up to its Ready).",
        ]
        late = over(conv, lambda r: float(sum(r.unattributed_calls.values())) / r.agents)
        out.append(
            f"Besides: {late.fmt(2)} GETs per agent fell after the agent's own Ready but before all were "
            "Ready (settled polls of early agents)."
        )
        out += [
            "",
            f"## Idle: {p.idle_polls} poll intervals of {s.poll_interval:g} s with all {p.agents} Ready",
            "",
        ]
        idle_methods = sorted({m for r in conv for m in r.idle_blaxel_calls} | {"GET"})
        rows = [
            [f"Blaxel {m} (total)", stat([r.idle_blaxel_calls.get(m, 0) for r in conv]).fmt(0)]
            for m in idle_methods
        ]
        rows += [
            ["Blaxel writes (POST/PUT/DELETE)", summary.idle_blaxel_writes.fmt(0)],
            ["Kubernetes writes (any resource)", summary.idle_kube_writes.fmt(0)],
            ["reconciles (polls) per agent", over(conv, lambda r: r.idle_reconciles / r.agents).fmt(2)],
            ["Blaxel GETs per poll (reconcile)", summary.idle_gets_per_poll.fmt(3)],
            ["Blaxel GETs per agent per configured poll interval", summary.idle_gets.fmt(3)],
        ]
        out += _table(["", "median (min-max)"], rows)
        out += [
            "",
            "Reconciles come from the operator's `blaxel_operator_reconciles_total`, read a moment apart from "
            "the call log: GETs per poll can stray from 1 by a few thousandths.",
        ]
    if foot:
        fa = p.footprint_agents
        out += [
            "",
            f"## Footprint at {fa} resources, next to a do-nothing Kopf operator ({runs(len(foot))})",
            "",
        ]

        def mb(fn: Callable[[FootprintResult], float]) -> str:
            return over(foot, lambda r: fn(r) / MB).fmt(1, " MB")

        rows = [
            [
                "peak RSS",
                mb(lambda r: r.operator.peak_rss),
                mb(lambda r: r.floor.peak_rss),
                summary.rss_ratio.fmt(2, "x"),
            ],
            [
                "RSS before the apply (0 resources)",
                mb(lambda r: r.operator.rss_before),
                mb(lambda r: r.floor.rss_before),
                over(foot, lambda r: r.operator.rss_before / r.floor.rss_before).fmt(2, "x"),
            ],
            [
                "RSS growth per resource",
                over(foot, lambda r: (r.operator.peak_rss - r.operator.rss_before) / fa / 1024).fmt(1, " KB"),
                over(foot, lambda r: (r.floor.peak_rss - r.floor.rss_before) / fa / 1024).fmt(1, " KB"),
                over(
                    foot,
                    lambda r: (
                        (r.operator.peak_rss - r.operator.rss_before)
                        / (r.floor.peak_rss - r.floor.rss_before)
                    ),
                ).fmt(2, "x"),
            ],
            [
                "CPU seconds, process start to end",
                over(foot, lambda r: r.operator.cpu_total).fmt(2, " s"),
                over(foot, lambda r: r.floor.cpu_total).fmt(2, " s"),
                over(foot, lambda r: r.operator.cpu_total / r.floor.cpu_total).fmt(2, "x"),
            ],
            [
                "CPU seconds, apply to end",
                over(foot, lambda r: r.operator.cpu_work).fmt(2, " s"),
                over(foot, lambda r: r.floor.cpu_work).fmt(2, " s"),
                over(foot, lambda r: r.operator.cpu_work / r.floor.cpu_work).fmt(2, "x"),
            ],
        ]
        out += _table(["", "blaxel-operator", "Kopf floor", "ratio"], rows)
        d = summary.daemon_floor
        if d is not None:
            per_resource = (d.peak_rss - d.rss_before) / fa / 1024
            out += [
                "",
                f"Reference, not a target: Kopf with an idle daemon per object instead (bench/kopf_floor.py "
                f"--mode daemon, alone in a separate run, since its own finalizer would disturb the operator): "
                f"peak RSS {d.peak_rss / MB:.1f} MB ({per_resource:.1f} KB per resource), CPU {d.cpu_total:.2f} s; "
                f"the operator's peak RSS is "
                f"{over(foot, lambda r: r.operator.peak_rss / d.peak_rss).fmt(2, 'x')} of that.",
            ]
        out += [
            "",
            f"All {fa} Ready after {over(foot, lambda r: r.seconds_to_all_ready).fmt(1, ' s')} "
            f"(simulated step {p.footprint_step:g} s); the run ends {p.settle:g} s later. Kubernetes API emulator "
            f"CPU meanwhile: {over(foot, lambda r: r.kube_cpu_share * 100).fmt(0, '%')} of one core.",
        ]
    return out


def print_summary(summary: Summary) -> None:
    print()
    for line in sections(summary):
        print(line)
    for note in summary.notes:
        print(f"note: {note}")
    print(f"\nbench runtime: {summary.runtime:.0f} s; machine: {machine()}")

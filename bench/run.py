"""`make bench`: convergence, API cost and footprint of blaxel-operator against the physical bound and Kopf.

Each repetition starts fresh processes on loopback: the Kubernetes API emulator
(`python -m blaxel_devkit.kube --counters-port 0`, its write counters on a side port), the Blaxel API simulator
(`python -m blaxel_operator.simulator` with latency L and a fast deployment clock) and the operator
(`blaxel-operator run`); the footprint runs add a do-nothing Kopf operator (bench/kopf_floor.py).

Runs: (1+2) convergence and cost: N agents applied at once, time to all Ready, calls and writes per agent,
then an idle window of several poll intervals; (3) footprint: CPU and peak RSS at 1,000 resources next to
the Kopf floor. Figures are medians over repetitions with min and max. Prints them, writes BENCHMARKS.md,
bench/convergence.png and bench/out/results.json. Stays within --budget seconds (default 570) by
dropping repetitions (said in the output) rather than running over.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import sys
import time

from procs import REPO, OperatorSettings, stop_all
from report import Summary, plot, print_summary
from scenarios import (
    ConvergenceResult,
    Footprint,
    FootprintResult,
    Params,
    convergence_run,
    daemon_floor_run,
    footprint_run,
)
from write_md import write_markdown

OUT = REPO / "bench" / "out"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=500, help="N of the convergence runs (default 500)")
    p.add_argument("--footprint-agents", type=int, default=1000, help="resources of the footprint runs")
    p.add_argument("--reps", type=int, default=3, help="convergence repetitions (default 3)")
    p.add_argument("--footprint-reps", type=int, default=3, help="footprint repetitions (default 3)")
    p.add_argument("--latency", type=float, default=0.05, help="simulated Blaxel latency L (default 0.05 s)")
    p.add_argument("--step", type=float, default=1.0, help="simulated deployment step (3 per deploy; 1 s)")
    p.add_argument("--footprint-step", type=float, default=0.2, help="deployment step of footprint runs")
    p.add_argument("--max-inflight", type=int, default=10, help="the operator's C (default 10)")
    p.add_argument("--poll-interval", type=float, default=5.0, help="settled poll interval (default 5 s)")
    p.add_argument("--deploy-poll-interval", type=float, default=1.0, help="deploying poll interval (1 s)")
    p.add_argument("--idle-polls", type=int, default=4, help="poll intervals in the idle window (default 4)")
    p.add_argument("--budget", type=float, default=570.0, help="seconds the whole bench may take")
    p.add_argument("--quick", action="store_true", help="a smoke run: 100 agents, 1 repetition, no files")
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md and the PNG")
    p.add_argument("--skip-convergence", action="store_true")
    p.add_argument("--skip-footprint", action="store_true")
    p.add_argument(
        "--skip-daemon-floor", action="store_true", help="skip the reference run of Kopf with idle daemons"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.agents, args.footprint_agents, args.reps, args.footprint_reps = 100, 200, 1, 1
        args.idle_polls, args.no_write = 2, True
    return args


async def bench(args: argparse.Namespace) -> Summary:
    params = Params(
        agents=args.agents,
        footprint_agents=args.footprint_agents,
        latency=args.latency,
        step=args.step,
        footprint_step=args.footprint_step,
        idle_polls=args.idle_polls,
        operator=OperatorSettings(
            max_inflight=args.max_inflight,
            poll_interval=args.poll_interval,
            deploy_poll_interval=args.deploy_poll_interval,
            rate_limit=0.0,
        ),
    )
    started = time.monotonic()
    notes: list[str] = []
    conv: list[ConvergenceResult] = []
    foot: list[FootprintResult] = []
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)

    # one pass of each first, then further repetitions while the budget allows
    plan: list[tuple[str, int]] = []
    kinds = [
        k
        for k, skip in (("convergence", args.skip_convergence), ("footprint", args.skip_footprint))
        if not skip
    ]
    wanted = {"convergence": args.reps, "footprint": args.footprint_reps}
    for rep in range(max(wanted.values())):
        plan += [(kind, rep) for kind in kinds if rep < wanted[kind]]
    if not args.skip_footprint and not args.skip_daemon_floor:
        plan.append(("daemon-floor", 0))
    daemon_floor: Footprint | None = None
    took: dict[str, float] = {}
    for kind, rep in plan:
        elapsed = time.monotonic() - started
        estimate = took.get(kind, 0.0) * 1.15
        if kind == "daemon-floor":
            estimate = took.get("footprint", 0.0)
        if (rep > 0 or kind == "daemon-floor") and elapsed + estimate > args.budget:
            notes.append(
                f"{kind} run {rep + 1} of {wanted.get(kind, 1)} skipped: {elapsed:.0f} s spent, another would take "
                f"~{estimate:.0f} s and the budget is {args.budget:.0f} s"
            )
            print(f"[bench] {notes[-1]}", flush=True)
            continue
        t = time.monotonic()
        print(f"[bench] {kind} run {rep + 1}/{wanted.get(kind, 1)} ...", flush=True)
        if kind == "convergence":
            r = await convergence_run(params, rep, OUT / f"convergence-{rep + 1}")
            conv.append(r)
            print(
                f"[bench]   all {r.agents} Ready after {r.seconds_to_all_ready:.2f} s (bound {r.bound:.2f} s); "
                f"idle GETs/agent/poll {r.idle_gets_per_agent_per_poll:.3f}",
                flush=True,
            )
        elif kind == "daemon-floor":
            daemon_floor = await daemon_floor_run(params, OUT / "daemon-floor")
            print(f"[bench]   peak RSS {daemon_floor.peak_rss / 2**20:.1f} MB", flush=True)
        else:
            f = await footprint_run(params, rep, OUT / f"footprint-{rep + 1}")
            foot.append(f)
            print(
                f"[bench]   peak RSS {f.operator.peak_rss / 2**20:.1f} MB vs Kopf floor "
                f"{f.floor.peak_rss / 2**20:.1f} MB; CPU {f.operator.cpu_total:.1f} s vs {f.floor.cpu_total:.1f} s",
                flush=True,
            )
        took[kind] = max(took.get(kind, 0.0), time.monotonic() - t)
    return Summary(params, conv, foot, time.monotonic() - started, notes, daemon_floor)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = asyncio.run(bench(args))
    except KeyboardInterrupt:
        print("\n[bench] interrupted; stopping the processes", file=sys.stderr)
        return 130
    finally:
        stop_all()
    print_summary(summary)
    results = {
        "params": dataclasses.asdict(summary.params),
        "runtime_seconds": summary.runtime,
        "notes": summary.notes,
        "convergence": [dataclasses.asdict(r) for r in summary.conv],
        "footprint": [dataclasses.asdict(r) for r in summary.foot],
        "daemon_floor": dataclasses.asdict(summary.daemon_floor) if summary.daemon_floor else None,
    }
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    if summary.conv:
        plot(summary, OUT / "convergence.png")
    if not args.no_write and summary.conv and summary.foot:
        shutil.copy(OUT / "convergence.png", REPO / "bench" / "convergence.png")
        write_markdown(summary, REPO / "BENCHMARKS.md", " ".join(sys.argv[1:]))
        print("[bench] wrote BENCHMARKS.md and bench/convergence.png")
    missed = [t for t in summary.targets() if not t.met]
    print(f"[bench] targets met: {len(summary.targets()) - len(missed)}/{len(summary.targets())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`make bench`: blaxel-operator next to a near-ideal client and a do-nothing Kopf operator, on the same
test bed; `make bench-scale` (--scale): 10,000 BlaxelAgents on one replica.

Every run starts fresh processes on loopback: the Kubernetes API emulator (`python -m blaxel_devkit.kube
--counters-port 0`), the Blaxel API simulator (`python -m blaxel_operator.simulator`, latency L, a fast
deployment clock) and what is measured: the operator (`blaxel-operator run`), the near-ideal client
(bench/ideal.py), the Kopf floor (bench/kopf_floor.py).

make bench, side by side in one run, at C calls in flight and latency L:
  (a) convergence of N agents applied at once: the operator and the near-ideal client, alternating;
  (b) the operator's idle cost right after (calls per resource per poll interval, writes);
  (c) footprint at 1,000 resources next to the Kopf floor (peak RSS, growth per resource, CPU);
  (d) a restart of the operator over those 1,000: time to steady state, calls, writes;
  (e) shards: 2 shards on 2,000 resources (C per shard) against one shard, and whether their work is
      disjoint (calls per agent and Kubernetes writes per object, by shard);
  (f) where the memory goes: the operator under tracemalloc, what it keeps per resource and how long.
Prints the figures, writes BENCHMARKS.md, bench/convergence.png and bench/out/results.json; keeps within
--budget seconds by dropping repetitions (said in the output).

make bench-scale: 10,000 agents, --max-inflight 20 --rate-limit 0, the Kopf floor beside: all Ready,
idle, restart, peak RSS; writes BENCHMARKS-scale.md and bench/out-scale/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from procs import REPO, OperatorSettings, stop_all
from report import Summary, plot, print_summary, scale_sections
from scenarios import (
    ConvergenceResult,
    FootprintResult,
    MemoryResult,
    Params,
    ShardResult,
    convergence_run,
    footprint_run,
    memory_run,
    scale_run,
    shard_run,
)
from write_md import write_markdown, write_scale_markdown


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=500, help="N of the convergence runs (default 500)")
    p.add_argument("--reps", type=int, default=3, help="convergence pairs, operator + ideal (default 3)")
    p.add_argument("--footprint-agents", type=int, default=1000, help="resources of the footprint runs")
    p.add_argument("--footprint-reps", type=int, default=2, help="footprint + restart runs (default 2)")
    p.add_argument(
        "--shard-agents", type=int, default=2000, help="resources of the shard runs (default 2000)"
    )
    p.add_argument("--shards", type=int, default=2, help="shards of the shard run (default 2)")
    p.add_argument(
        "--shard-latency",
        type=float,
        default=0.5,
        help="L of the second shard pair, where the API rather than the machine bounds a shard (0.5 s; 0: none)",
    )
    p.add_argument("--memory-agents", type=int, default=200, help="resources of the tracemalloc run")
    p.add_argument("--latency", type=float, default=0.05, help="simulated Blaxel latency L (default 0.05 s)")
    p.add_argument("--step", type=float, default=1.0, help="simulated deployment step (3 per deploy; 1 s)")
    p.add_argument("--footprint-step", type=float, default=0.2, help="deployment step of footprint runs")
    p.add_argument("--max-inflight", type=int, default=10, help="C, per operator (default 10)")
    p.add_argument("--poll-interval", type=float, default=5.0, help="settled poll interval (default 5 s)")
    p.add_argument("--deploy-poll-interval", type=float, default=1.0, help="deploying poll interval (1 s)")
    p.add_argument("--idle-polls", type=int, default=4, help="poll intervals in the idle window (default 4)")
    p.add_argument("--budget", type=float, default=840.0, help="seconds the whole bench may take (840)")
    p.add_argument("--quick", action="store_true", help="a smoke run: small N, one repetition, no files")
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md and the PNG")
    for part in ("convergence", "footprint", "shards", "memory"):
        p.add_argument(f"--skip-{part}", action="store_true")
    p.add_argument(
        "--operator-path",
        help="PYTHONPATH of another copy of the operator to measure (e.g. `git archive` of an older commit)",
    )
    p.add_argument("--out", type=Path, help="where results.json and the logs go (default bench/out)")
    p.add_argument("--scale", action="store_true", help="make bench-scale: thousands of agents, one replica")
    p.add_argument("--scale-agents", type=int, default=10000, help="agents of --scale (default 10000)")
    p.add_argument("--scale-poll-interval", type=float, default=30.0, help="poll interval of --scale (30 s)")
    p.add_argument("--scale-max-inflight", type=int, default=20, help="C of --scale (default 20)")
    args = p.parse_args(argv)
    if args.quick:
        args.agents, args.footprint_agents, args.shard_agents, args.memory_agents = 100, 200, 300, 60
        args.reps, args.footprint_reps, args.idle_polls, args.no_write = 1, 1, 2, True
        args.scale_agents = min(args.scale_agents, 1000)
    return args


def params_of(args: argparse.Namespace) -> Params:
    return Params(
        agents=args.agents,
        footprint_agents=args.footprint_agents,
        shard_agents=args.shard_agents,
        shards=args.shards,
        latency=args.latency,
        shard_latency=args.shard_latency,
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


Step = tuple[str, int, bool, Any]  # (what, repetition, optional, the coroutine factory)


async def bench(args: argparse.Namespace, out: Path) -> Summary:
    params = params_of(args)
    started = time.monotonic()
    notes: list[str] = []
    conv: list[ConvergenceResult] = []
    foot: list[FootprintResult] = []
    shards: list[ShardResult] = []
    memory: list[MemoryResult] = []
    load0 = os.getloadavg()
    n2 = params.shard_agents

    plan: list[Step] = []
    for rep in range(args.reps if not args.skip_convergence else 0):
        order = ("ideal", "operator") if rep % 2 == 0 else ("operator", "ideal")  # drift cancels out
        for who in order:
            plan.append(
                (
                    f"convergence ({who})",
                    rep,
                    rep > 0,
                    lambda w=who, r=rep: convergence_run(params, r, out / f"convergence-{w}-{r + 1}", w),
                )
            )
    for rep in range(args.footprint_reps if not args.skip_footprint else 0):
        plan.append(
            (
                "footprint + restart",
                rep,
                rep > 0,
                lambda r=rep: footprint_run(params, r, out / f"footprint-{r + 1}"),
            )
        )
    if not args.skip_shards:
        half = n2 // params.shards
        plan += [
            (
                f"{params.shards} shards on {n2}",
                0,
                False,
                lambda: shard_run(params, params.shards, n2, out / "shards"),
            ),
            (f"1 shard on {half}", 0, False, lambda: shard_run(params, 1, half, out / "shard-1-share")),
        ]
        slow = params.shard_latency
        if slow > 0:
            plan += [
                (
                    f"{params.shards} shards on {n2}, L = {slow} s",
                    0,
                    False,
                    lambda: shard_run(params, params.shards, n2, out / "shards-slow", slow),
                ),
                (
                    f"1 shard on {half}, L = {slow} s",
                    0,
                    False,
                    lambda: shard_run(params, 1, half, out / "shard-1-share-slow", slow),
                ),
            ]
    if not args.skip_memory:
        plan.append(
            ("memory (tracemalloc)", 0, False, lambda: memory_run(params, args.memory_agents, out / "memory"))
        )
    if not args.skip_shards:  # one shard on all of them too, if the budget allows
        plan.append((f"1 shard on {n2}", 0, True, lambda: shard_run(params, 1, n2, out / "shard-1-all")))

    took: dict[str, float] = {}
    for what, rep, optional, make in plan:
        elapsed = time.monotonic() - started
        guess = (
            2 * took.get(f"1 shard on {n2 // params.shards}", 60.0) if what == f"1 shard on {n2}" else 60.0
        )
        estimate = took.get(what, guess) * 1.1
        if optional and elapsed + estimate > args.budget:
            notes.append(
                f"{what} run {rep + 1} skipped: {elapsed:.0f} s spent, it would take ~{estimate:.0f} s, "
                f"budget {args.budget:.0f} s"
            )
            print(f"[bench] {notes[-1]}", flush=True)
            continue
        t = time.monotonic()
        print(f"[bench] {what} run {rep + 1} ({elapsed:.0f} s so far) ...", flush=True)
        result = await make()
        took[what] = max(took.get(what, 0.0), time.monotonic() - t)
        if isinstance(result, ConvergenceResult):
            conv.append(result)
            line = f"all {result.agents} Ready after {result.seconds_to_all_ready:.2f} s"
            if result.controller == "operator":
                line += f"; idle calls/resource/interval {result.idle_calls_per_resource_per_poll:.4f}"
        elif isinstance(result, FootprintResult):
            foot.append(result)
            r = result.restart
            line = (
                f"peak RSS {result.operator.peak_rss / 2**20:.1f} MB vs floor {result.floor.peak_rss / 2**20:.1f} MB"
                + (f"; restart: steady after {r.seconds_to_steady:.1f} s, calls {r.calls}" if r else "")
            )
        elif isinstance(result, ShardResult):
            shards.append(result)
            line = f"all {result.agents} Ready after {result.seconds_to_all_ready:.2f} s; POSTs per shard {result.posts_per_shard}"
        else:
            memory.append(result)
            line = f"{len(result.snapshots)} heap snapshots in {result.seconds:.0f} s"
        print(f"[bench]   {line}", flush=True)
    return Summary(
        params,
        conv,
        foot,
        shards,
        memory[0] if memory else None,
        time.monotonic() - started,
        notes,
        load=(load0, os.getloadavg()),
    )


async def bench_scale(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    params = params_of(args)
    params.operator = OperatorSettings(
        max_inflight=args.scale_max_inflight,
        poll_interval=args.scale_poll_interval,
        deploy_poll_interval=args.deploy_poll_interval,
        rate_limit=0.0,
    )
    started = time.monotonic()
    load0 = os.getloadavg()
    print(f"[bench] {args.scale_agents} agents on one replica ...", flush=True)
    result = await scale_run(params, args.scale_agents, out / "scale")
    return {
        "params": dataclasses.asdict(params),
        "result": dataclasses.asdict(result),
        "runtime_seconds": time.monotonic() - started,
        "load": [load0, os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.operator_path:
        os.environ["BENCH_OPERATOR_PYTHONPATH"] = str(Path(args.operator_path).resolve())
    out = args.out or (REPO / "bench" / ("out-scale" if args.scale else "out"))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    try:
        if args.scale:
            results = asyncio.run(bench_scale(args, out))
        else:
            summary = asyncio.run(bench(args, out))
    except KeyboardInterrupt:
        print("\n[bench] interrupted; stopping the processes", file=sys.stderr)
        return 130
    finally:
        stop_all()
    if args.scale:
        (out / "results.json").write_text(json.dumps(results, indent=1))
        for line in scale_sections(results):
            print(line)
        if not args.no_write:
            write_scale_markdown(results, REPO / "BENCHMARKS-scale.md", " ".join(sys.argv[1:]))
            print("[bench] wrote BENCHMARKS-scale.md")
        return 0
    print_summary(summary)
    (out / "results.json").write_text(json.dumps(summary.to_json(), indent=1))
    if summary.conv:
        plot(summary, out / "convergence.png")
    if not args.no_write and summary.conv and summary.foot:
        shutil.copy(out / "convergence.png", REPO / "bench" / "convergence.png")
        write_markdown(summary, REPO / "BENCHMARKS.md", " ".join(sys.argv[1:]))
        print("[bench] wrote BENCHMARKS.md and bench/convergence.png")
    targets = summary.targets()
    print(f"[bench] targets met: {sum(t.met for t in targets)}/{len(targets)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

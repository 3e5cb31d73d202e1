"""``blaxel-operator simulate`` / ``python -m blaxel_operator.simulator``: run the simulator standalone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import TextIO

from .config import (
    ALL_FAULT_KINDS,
    DEFAULT_API_KEY,
    DEFAULT_WORKSPACE,
    FAULT_KINDS,
    FAULT_PHASES,
    PUT_SEMANTICS,
    FaultConfig,
    SimulatorConfig,
    fault_rules_from_json,
)
from .server import BlaxelSimulator


def _api_key(value: str) -> tuple[str, list[str]]:
    key, sep, workspaces = value.rpartition(":")
    if not sep or not key:
        raise argparse.ArgumentTypeError("expected KEY:WORKSPACE[,WORKSPACE...]")
    names = [ws.strip() for ws in workspaces.split(",") if ws.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected at least one workspace after ':'")
    return key, names


def _kinds(value: str) -> tuple[str, ...]:
    kinds = tuple(kind.strip().lower() for kind in value.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in ALL_FAULT_KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown fault kinds {unknown}; known: {','.join(ALL_FAULT_KINDS)}")
    return kinds


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _fault_rules(value: str) -> list[FaultConfig]:
    try:
        return fault_rules_from_json(json.loads(Path(value).read_text()))
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {value}: {error.strerror}") from None
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value}: {error}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to ``parser`` (the project CLI's ``simulate`` sub-command)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port to listen on, 0 for any (default: 8787)")
    parser.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        type=_api_key,
        metavar="KEY:WS1,WS2",
        help=f"an accepted API key and its workspaces (first = default); repeatable "
        f"(default: {DEFAULT_API_KEY}:{DEFAULT_WORKSPACE})",
    )
    parser.add_argument(
        "--step-seconds", type=float, default=1.0, help="seconds per deployment phase (default: 1)"
    )
    parser.add_argument(
        "--delete-seconds", type=float, default=2.0, help="seconds an agent stays DELETING (default: 2)"
    )
    parser.add_argument(
        "--stale-failed-seconds",
        type=float,
        default=0.0,
        help="after a PUT, keep showing a previous FAILED for this long (the documented quirk; default: 0 = off)",
    )
    parser.add_argument(
        "--image-skips-build", action="store_true", help="image-only deploys go straight to DEPLOYING"
    )
    parser.add_argument(
        "--fail-image-marker",
        default="sim-fail",
        help="deployments of images containing this text end FAILED ('' to disable; default: sim-fail)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API call")
    parser.add_argument(
        "--latency-jitter", type=float, default=0.0, help="extra random latency in [0, J] seconds"
    )
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="probability 0..1 of a fault per API call"
    )
    parser.add_argument(
        "--fault-kinds",
        type=_kinds,
        default=FAULT_KINDS,
        metavar="K1,K2",
        help=f"fault kinds to draw from (default: {','.join(FAULT_KINDS)}; also hostile answers: "
        f"{','.join(k for k in ALL_FAULT_KINDS if k not in FAULT_KINDS)})",
    )
    parser.add_argument(
        "--fault-phase",
        choices=FAULT_PHASES,
        default="before",
        help="inject before the call takes effect, after it (the write happened), or randomly",
    )
    parser.add_argument(
        "--fault-methods",
        default=None,
        metavar="M1,M2",
        help="only these HTTP methods get faults (e.g. PUT,POST)",
    )
    parser.add_argument(
        "--fault-collections",
        type=_csv,
        default=None,
        metavar="C1,C2",
        help="only calls on these collections get faults (e.g. functions,integrations/connections)",
    )
    parser.add_argument(
        "--fault-names",
        type=_csv,
        default=None,
        metavar="PATTERN,...",
        help="only calls on objects whose name matches one of these glob patterns get faults (e.g. 'hostile-*')",
    )
    parser.add_argument(
        "--fault-max-count",
        type=int,
        default=None,
        help="stop injecting faults after this many (default: no limit)",
    )
    parser.add_argument(
        "--fault-delay-seconds", type=float, default=5.0, help="how late a 'slow' answer comes (default: 5)"
    )
    parser.add_argument(
        "--fault-rules",
        type=_fault_rules,
        default=None,
        metavar="FILE.json",
        help="more fault rules (a JSON list of fault configs, as PUT /_sim/fault-rules takes), tried first",
    )
    parser.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After seconds on 429/503 faults (-1: none)"
    )
    parser.add_argument("--retry-after-ms", type=int, default=None, help="Retry-After-Ms on 429/503 faults")
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=30.0,
        help="how long a 'timeout' fault holds a request (default: 30)",
    )
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="token bucket: requests/second per API key"
    )
    parser.add_argument("--rate-limit-burst", type=int, default=20, help="token bucket size (default: 20)")
    parser.add_argument(
        "--put-semantics",
        choices=PUT_SEMANTICS,
        default="replace",
        help="a PUT replaces spec and metadata, or deep-merges into them (fields absent keep their value)",
    )
    parser.add_argument(
        "--admin-key",
        dest="admin_keys",
        action="append",
        default=None,
        metavar="KEY",
        help="an API key with the workspace admin role (may read secrets with show_secrets=true); "
        "repeatable; when none is given every key is an admin",
    )
    parser.add_argument(
        "--require-workspace",
        action="store_true",
        help="refuse (400) API calls without X-Blaxel-Workspace (or ?workspace=), as Blaxel's SDKs never make them",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (ids, faults, jitter)")
    parser.add_argument(
        "--url-file", type=Path, default=None, help="write the API base URL to this file when ready"
    )
    parser.add_argument("--log-level", default=None, help="log level of the simulator's logger (e.g. DEBUG)")


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    api_keys = dict(args.api_keys) if args.api_keys else {DEFAULT_API_KEY: [DEFAULT_WORKSPACE]}
    methods = (
        tuple(m.strip().upper() for m in args.fault_methods.split(",") if m.strip())
        if args.fault_methods
        else None
    )
    faults = FaultConfig(
        rate=args.fault_rate,
        kinds=tuple(args.fault_kinds),
        phase=args.fault_phase,
        retry_after=None if args.retry_after is not None and args.retry_after < 0 else args.retry_after,
        retry_after_ms=args.retry_after_ms,
        timeout_seconds=args.timeout_seconds,
        methods=methods,
        collections=args.fault_collections,
        names=args.fault_names,
        max_count=args.fault_max_count,
        delay_seconds=args.fault_delay_seconds,
    )
    return SimulatorConfig(
        api_keys=api_keys,
        step_seconds=args.step_seconds,
        delete_seconds=args.delete_seconds,
        stale_failed_seconds=args.stale_failed_seconds,
        image_skips_build=args.image_skips_build,
        fail_image_marker=args.fail_image_marker or None,
        latency=args.latency,
        latency_jitter=args.latency_jitter,
        faults=faults,
        rate_limit=args.rate_limit,
        rate_limit_burst=args.rate_limit_burst,
        seed=args.seed,
        fault_rules=list(args.fault_rules or []),
        put_semantics=args.put_semantics,
        admin_keys=tuple(args.admin_keys) if args.admin_keys else None,
        require_workspace=args.require_workspace,
    )


def banner(sim: BlaxelSimulator, out: TextIO) -> None:
    config = sim.config
    print(f"Blaxel API simulator listening on {sim.url}", file=out)
    for key, workspaces in config.api_keys.items():
        # only the built-in demo key is printed; a key given on the command line is not echoed back
        shown = key if key == DEFAULT_API_KEY else "<the key given with --api-key>"
        print(f"  API key {shown}: workspaces {', '.join(workspaces)} (default {workspaces[0]})", file=out)
    print(f"  export BL_API_URL={sim.url} BL_WORKSPACE={config.default_workspace}", end="", file=out)
    print(f" BL_API_KEY={DEFAULT_API_KEY}" if config.default_api_key == DEFAULT_API_KEY else "", file=out)
    print(f"  admin endpoints: {sim.root_url}/_sim/ (no auth)", file=out)
    faults = config.faults
    if faults.rate > 0:
        print(f"  faults: rate {faults.rate} kinds {','.join(faults.kinds)} phase {faults.phase}", file=out)
    if config.fault_rules:
        print(f"  fault rules: {len(config.fault_rules)}", file=out)
    if config.put_semantics != "replace":
        print(f"  PUT semantics: {config.put_semantics}", file=out)
    if config.admin_keys is not None:
        print(f"  workspace admins: {len(config.admin_keys)} of the keys", file=out)
    if config.require_workspace:
        print("  calls without X-Blaxel-Workspace are refused", file=out)
    out.flush()


async def serve(args: argparse.Namespace) -> None:
    """Run the simulator until cancelled, SIGINT or SIGTERM."""
    if args.log_level:
        logging.getLogger("blaxel_operator.simulator").setLevel(args.log_level.upper())
    config = config_from_args(args)
    sim = BlaxelSimulator(config)
    await sim.start(host=args.host, port=args.port)
    try:
        banner(sim, sys.stdout)
        if args.url_file is not None:
            tmp = args.url_file.with_name(args.url_file.name + ".tmp")
            tmp.write_text(sim.url + "\n")
            tmp.replace(args.url_file)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, stop.set)
                installed.append(signum)
        try:
            await stop.wait()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)
    finally:
        await sim.stop()


def run(args: argparse.Namespace) -> int:
    """Blocking entry point; returns the process exit code."""
    try:
        config_from_args(args)  # report a bad option before starting anything
    except ValueError as error:
        print(f"simulator: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"simulator: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m blaxel_operator.simulator",
        description="A local simulator of Blaxel's control-plane API, for trying manifests offline.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(args)

"""`blaxel-operator`: run the operator, render payloads, run the Blaxel API simulator."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from . import __version__
from .blaxel.client import DEFAULT_API_URL, Credentials
from .config import OperatorConfig


class CliError(Exception):
    """A user error: printed on stderr, exit code 2."""


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[], metavar="NS",
                       help="watch this namespace (repeatable)")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch all namespaces")
    p.add_argument("--poll-interval", type=float, default=_env_float("BLAXEL_OPERATOR_POLL_INTERVAL", 600),
                   metavar="SECONDS", help="re-read settled agents this often, with jitter (default 600)")
    p.add_argument("--deploy-poll-interval", type=float, default=5.0, metavar="SECONDS",
                   help="re-read agents while Blaxel deploys them (default 5)")
    p.add_argument("--cluster-id", default=os.environ.get("BLAXEL_OPERATOR_CLUSTER_ID", "default"),
                   help="identifies this cluster in the owner labels of remote agents "
                        "(env BLAXEL_OPERATOR_CLUSTER_ID; default 'default')")
    p.add_argument("--credentials-secret", metavar="NS/NAME",
                   help="default credentials from this Secret (keys apiKey, optional workspace) "
                        "instead of BL_API_KEY/BL_WORKSPACE")
    p.add_argument("--no-default-credentials", action="store_true",
                   help="start without default credentials: every resource must set spec.credentialsRef")
    p.add_argument("--api-url", default=os.environ.get("BL_API_URL", DEFAULT_API_URL),
                   help=f"Blaxel API base URL (env BL_API_URL; default {DEFAULT_API_URL})")
    p.add_argument("--max-inflight", type=int, default=10, metavar="N",
                   help="most Blaxel calls in flight at once (default 10)")
    p.add_argument("--rate-limit", type=float, default=10.0, metavar="PER_SECOND",
                   help="Blaxel calls per second, token bucket (default 10; 0 = unlimited)")
    p.add_argument("--rate-burst", type=int, default=20, metavar="N", help="token bucket burst (default 20)")
    p.add_argument("--request-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="timeout of one Blaxel call (default 30)")
    p.add_argument("--metrics-port", type=int, default=8080, metavar="PORT",
                   help="serve /metrics and /readyz on this port (default 8080; 0 disables)")
    p.add_argument("--health-port", type=int, default=8081, metavar="PORT",
                   help="serve Kopf's liveness probe /healthz on this port (default 8081; 0 disables)")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    p.add_argument("--peering", metavar="NAME",
                   help="enable Kopf HA peering under this name (default: standalone, one replica)")


def config_from_args(args: argparse.Namespace) -> OperatorConfig:
    if not args.namespace and not args.all_namespaces:
        raise CliError("choose what to watch: --namespace NS (repeatable) or --all-namespaces")
    for name, value in (("--poll-interval", args.poll_interval), ("--deploy-poll-interval", args.deploy_poll_interval)):
        if value <= 0:
            raise CliError(f"{name} must be positive")
    creds_secret = None
    if args.credentials_secret:
        ns, _, name = args.credentials_secret.partition("/")
        if not ns or not name:
            raise CliError("--credentials-secret must be NAMESPACE/NAME")
        creds_secret = (ns, name)
    default_creds = None
    api_key = os.environ.get("BL_API_KEY")
    if api_key:
        default_creds = Credentials(api_key, os.environ.get("BL_WORKSPACE") or None)
    if default_creds is None and creds_secret is None and not args.no_default_credentials:
        raise CliError(
            "no Blaxel credentials: set BL_API_KEY (and BL_WORKSPACE), or --credentials-secret NS/NAME, "
            "or --no-default-credentials if every resource sets spec.credentialsRef"
        )
    return OperatorConfig(
        api_url=args.api_url,
        default_credentials=default_creds,
        credentials_secret=creds_secret,
        namespaces=list(args.namespace),
        all_namespaces=bool(args.all_namespaces),
        poll_interval=args.poll_interval,
        deploy_poll_interval=args.deploy_poll_interval,
        cluster_id=args.cluster_id,
        max_inflight=args.max_inflight,
        rate_limit=args.rate_limit,
        rate_burst=args.rate_burst,
        request_timeout=args.request_timeout,
        metrics_port=args.metrics_port,
        health_port=args.health_port,
        log_format=args.log_format,
        log_level=args.log_level,
        peering=args.peering,
    )


def find_cluster() -> str:
    """Where the Kubernetes credentials come from, or a CliError when there are none."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and Path(
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    ).exists():
        return "in-cluster service account"
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if not paths:
        paths = [str(Path.home() / ".kube" / "config")]
    found = [p for p in paths if Path(p).is_file()]
    if not found:
        raise CliError(
            f"no Kubernetes cluster: no in-cluster service account and no kubeconfig at {', '.join(paths)} "
            "(set KUBECONFIG)"
        )
    return f"kubeconfig {found[0]}"


def cmd_run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    find_cluster()
    from .operator_main import run_operator

    return asyncio.run(run_operator(config))


# ---- render -------------------------------------------------------------------------------------------


def iter_manifest_files(path: str, recursive: bool) -> Iterator[Path]:
    if path == "-":
        yield Path("-")
        return
    p = Path(path)
    if p.is_dir():
        pattern = "**/*" if recursive else "*"
        for f in sorted(p.glob(pattern)):
            if f.is_file() and f.suffix in (".yaml", ".yml", ".json"):
                yield f
    elif p.is_file():
        yield p
    else:
        raise CliError(f"{path}: no such file or directory")


def load_documents(files: list[str], recursive: bool) -> Iterator[tuple[str, int, dict[str, Any]]]:
    for path in files:
        for f in iter_manifest_files(path, recursive):
            text = sys.stdin.read() if str(f) == "-" else f.read_text()
            try:
                docs = list(yaml.safe_load_all(text))
            except yaml.YAMLError as exc:
                raise CliError(f"{f}: not valid YAML: {exc}") from None
            for index, doc in enumerate(docs):
                if doc is None:
                    continue
                if not isinstance(doc, dict):
                    raise CliError(f"{f}: document {index + 1} is not a mapping")
                if doc.get("kind") == "List":
                    for item in doc.get("items") or []:
                        yield str(f), index + 1, item
                else:
                    yield str(f), index + 1, doc


def cmd_render(args: argparse.Namespace) -> int:
    from .render import render_documents

    payloads = render_documents(
        load_documents(args.filename, args.recursive), cluster_id=args.cluster_id, validate=not args.no_validate
    )
    if args.output == "json":
        print(json.dumps(payloads[0] if len(payloads) == 1 else payloads, indent=2))
    else:
        print(yaml.safe_dump_all(payloads, sort_keys=False), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blaxel-operator",
        description="Run Blaxel AI agents from Kubernetes: the operator, and tools around it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run the operator against the current cluster",
                         description="Run the operator. Kubernetes access: KUBECONFIG or in-cluster config. "
                                     "Blaxel: BL_API_URL, BL_API_KEY, BL_WORKSPACE.")
    add_run_arguments(run)
    run.set_defaults(func=cmd_run)

    render = sub.add_parser("render", help="print the Blaxel API payload(s) of BlaxelAgent manifests (no network)",
                            description="Validate BlaxelAgent manifests against the CRD schema (the rules the "
                                        "apiserver applies) and print the Blaxel API payloads. Secret values are "
                                        "not read: they show as <secret NAME/KEY>.")
    render.add_argument("-f", "--filename", action="append", required=True, metavar="FILE|DIR",
                        help="manifest file or directory ('-' for stdin; repeatable)")
    render.add_argument("-R", "--recursive", action="store_true", help="descend into directories")
    render.add_argument("-o", "--output", choices=["json", "yaml"], default="json")
    render.add_argument("--cluster-id", default=os.environ.get("BLAXEL_OPERATOR_CLUSTER_ID", "default"),
                        help="cluster id for the owner labels (default 'default')")
    render.add_argument("--no-validate", action="store_true", help="skip the CRD schema validation")
    render.set_defaults(func=cmd_render)

    from .simulator import cli as sim_cli

    simulate = sub.add_parser("simulate", help="run the local Blaxel API simulator",
                              description="A local, in-memory Blaxel control-plane API for trying manifests "
                                          "offline and for tests.")
    sim_cli.add_arguments(simulate)
    simulate.set_defaults(func=sim_cli.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except CliError as exc:
        print(f"blaxel-operator: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

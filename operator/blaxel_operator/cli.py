"""`blaxel-operator`: run the operator; the GitOps tools render, diff, import and convert; the simulator.

Argument parsing and dispatch; the tools' logic lives in `tools/`, the operator's in `operator_main`, the
simulator (an optional extra) in `simulator/`. Each is imported by its own sub-command only, so that
`blaxel-operator run` loads neither the tools nor the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from . import __version__, kubenames
from .blaxel.client import Credentials
from .cliargs import CliError, add_api_arguments, api_settings
from .config import (
    API_URL_HELP,
    DEFAULT_MAX_INFLIGHT,
    DEFAULT_RATE_BURST,
    DEFAULT_RATE_LIMIT,
    DEFAULT_REQUEST_TIMEOUT,
    OperatorConfig,
)

__all__ = ["CliError", "build_parser", "main"]


# The one place defaults live: OperatorConfig's fields (flags and `OperatorConfig()` agree by construction).
DEFAULTS = OperatorConfig()


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch this namespace (repeatable)",
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="watch all namespaces (the default without -n)"
    )
    p.add_argument(
        "--poll-interval",
        type=float,
        default=_env_float("BLAXEL_OPERATOR_POLL_INTERVAL", DEFAULTS.poll_interval),
        metavar="SECONDS",
        help="observe settled objects this often, through list pages, with jitter (default %(default)s)",
    )
    p.add_argument(
        "--deploy-poll-interval",
        type=float,
        default=DEFAULTS.deploy_poll_interval,
        metavar="SECONDS",
        help="re-read objects while Blaxel deploys them (default %(default)s)",
    )
    p.add_argument(
        "--status-progress-interval",
        type=float,
        default=DEFAULTS.status_progress_interval,
        metavar="SECONDS",
        help="show a deployment's progress (Blaxel's status and events) in the resource's status at most "
        "this often; condition changes are written at once; 0 writes every change (default %(default)s)",
    )
    p.add_argument(
        "--cluster-id",
        default=os.environ.get("BLAXEL_OPERATOR_CLUSTER_ID", DEFAULTS.cluster_id),
        help="identifies this cluster in the owner labels of remote agents "
        "(env BLAXEL_OPERATOR_CLUSTER_ID; default 'default')",
    )
    p.add_argument(
        "--credentials-secret",
        metavar="NS/NAME",
        help="default credentials from this Secret (keys apiKey, optional workspace) "
        "instead of BL_API_KEY/BL_WORKSPACE",
    )
    p.add_argument(
        "--no-default-credentials",
        action="store_true",
        help="start without default credentials: every resource must set spec.credentialsRef",
    )
    p.add_argument("--api-url", metavar="URL", help=API_URL_HELP)
    p.add_argument(
        "--max-inflight",
        type=int,
        default=DEFAULTS.max_inflight,
        metavar="N",
        help=f"most Blaxel calls in flight at once (default {DEFAULT_MAX_INFLIGHT})",
    )
    p.add_argument(
        "--rate-limit",
        type=float,
        default=DEFAULTS.rate_limit,
        metavar="PER_SECOND",
        help=f"Blaxel calls per second, token bucket (default {DEFAULT_RATE_LIMIT:g}; 0 = unlimited)",
    )
    p.add_argument(
        "--rate-burst",
        type=int,
        default=DEFAULTS.rate_burst,
        metavar="N",
        help=f"token bucket burst (default {DEFAULT_RATE_BURST})",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULTS.request_timeout,
        metavar="SECONDS",
        help=f"timeout of one Blaxel call (default {DEFAULT_REQUEST_TIMEOUT:g})",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=DEFAULTS.metrics_port,
        metavar="PORT",
        help="serve /metrics and /readyz on this port (default %(default)s; 0 disables)",
    )
    p.add_argument(
        "--health-port",
        type=int,
        default=DEFAULTS.health_port,
        metavar="PORT",
        help="serve Kopf's liveness probe /healthz on this port (default %(default)s; 0 disables)",
    )
    p.add_argument("--log-format", choices=["text", "json"], default=DEFAULTS.log_format)
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=DEFAULTS.log_level)
    p.add_argument(
        "--peering",
        metavar="NAME",
        help="enable Kopf HA peering under this name (default: standalone, one replica)",
    )
    p.add_argument(
        "--shard-index",
        type=int,
        default=int(os.environ.get("BLAXEL_OPERATOR_SHARD_INDEX", DEFAULTS.shard_index)),
        metavar="I",
        help="with --shard-count: reconcile only the resources of shard I (a stable hash of namespace "
        "and name); env BLAXEL_OPERATOR_SHARD_INDEX",
    )
    p.add_argument(
        "--shard-count",
        type=int,
        default=int(os.environ.get("BLAXEL_OPERATOR_SHARD_COUNT", DEFAULTS.shard_count)),
        metavar="N",
        help="split the resources among N operator processes (default 1: all); env BLAXEL_OPERATOR_SHARD_COUNT",
    )
    p.add_argument(
        "--shard-lease",
        default=os.environ.get("BLAXEL_OPERATOR_SHARD_LEASE") or None,
        metavar="NAMESPACE/NAME",
        help="a coordination.k8s.io Lease naming the shard layout (shard count) that acts: when the count "
        "changes, the new layout's processes act on nothing (no finalizer, no reconcile) until the old "
        "layout's have stopped renewing it; env BLAXEL_OPERATOR_SHARD_LEASE (default: none)",
    )
    p.add_argument(
        "--shard-lease-seconds",
        type=float,
        default=DEFAULTS.shard_lease_seconds,
        metavar="S",
        help="how long an unrenewed shard layout lease holds (default %(default)s s; renewed every S/3)",
    )


def config_from_args(args: argparse.Namespace) -> OperatorConfig:
    if args.shard_count < 1 or not 0 <= args.shard_index < args.shard_count:
        raise CliError(f"--shard-index must be in 0..{args.shard_count - 1} and --shard-count >= 1")
    if not args.namespace and not args.all_namespaces:
        # Kopf's own default; said out loud because it needs cluster-wide RBAC
        print("blaxel-operator: no --namespace given: watching all namespaces", file=sys.stderr)
        args.all_namespaces = True
    for name, value in (
        ("--poll-interval", args.poll_interval),
        ("--deploy-poll-interval", args.deploy_poll_interval),
    ):
        if value <= 0:
            raise CliError(f"{name} must be positive")
    if args.status_progress_interval < 0:
        raise CliError("--status-progress-interval must be 0 or more")
    for namespace in args.namespace:
        try:
            kubenames.namespace(namespace)
        except kubenames.InvalidName as exc:
            raise CliError(f"--namespace: {exc}") from None
    creds_secret = None
    if args.credentials_secret:
        ns, _, name = args.credentials_secret.partition("/")
        if not ns or not name:
            raise CliError("--credentials-secret must be NAMESPACE/NAME")
        try:
            creds_secret = (kubenames.namespace(ns), kubenames.secret_name(name))
        except kubenames.InvalidName as exc:
            raise CliError(f"--credentials-secret: {exc}") from None
    shard_lease = None
    if args.shard_lease:
        ns, _, name = args.shard_lease.partition("/")
        try:
            shard_lease = (kubenames.namespace(ns), kubenames.object_name(name))
        except kubenames.InvalidName as exc:
            raise CliError(f"--shard-lease must be NAMESPACE/NAME: {exc}") from None
    if args.shard_lease_seconds < 1:
        raise CliError("--shard-lease-seconds must be at least 1")
    api_url, api_version = api_settings(args)
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
        api_url=api_url,
        api_version=api_version,
        default_credentials=default_creds,
        credentials_secret=creds_secret,
        namespaces=list(args.namespace),
        all_namespaces=bool(args.all_namespaces),
        poll_interval=args.poll_interval,
        deploy_poll_interval=args.deploy_poll_interval,
        status_progress_interval=args.status_progress_interval,
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
        shard_index=args.shard_index,
        shard_count=args.shard_count,
        shard_lease=shard_lease,
        shard_lease_seconds=args.shard_lease_seconds,
    )


def find_cluster() -> str:
    """Where the Kubernetes credentials come from, or a CliError when there are none."""
    if (
        os.environ.get("KUBERNETES_SERVICE_HOST")
        and Path("/var/run/secrets/kubernetes.io/serviceaccount/token").exists()
    ):
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


# ---- the GitOps tools (their logic lives in tools/) ----------------------------------------------


def cmd_render(args: argparse.Namespace) -> int:
    from .tools.common import load_documents
    from .tools.render import render_documents

    payloads = render_documents(
        load_documents(args.filename, args.recursive),
        cluster_id=args.cluster_id,
        validate=not args.no_validate,
    )
    if args.output == "json":
        print(json.dumps(payloads[0] if len(payloads) == 1 else payloads, indent=2))
    else:
        print(yaml.safe_dump_all(payloads, sort_keys=False), end="")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from .tools.diff import run_diff

    return run_diff(args)


def cmd_import(args: argparse.Namespace) -> int:
    from .tools.importer import run_import

    return run_import(args)


def cmd_convert(args: argparse.Namespace) -> int:
    from .tools.convert import run_convert

    return run_convert(args)


# ---- the simulator: an optional extra, imported only by its sub-command -------------------------

SIMULATE_DESCRIPTION = (
    "A local, in-memory Blaxel control-plane API for trying manifests offline and for tests. "
    "Needs the optional dependencies of blaxel-operator[simulator]."
)


def cmd_simulate(args: argparse.Namespace) -> int:
    """Parse the simulator's own options and run it; `run` and the tools never import the simulator."""
    try:
        from .simulator import cli as sim_cli
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] == __package__:
            raise  # a module of ours is missing: a broken install, not a missing extra
        raise CliError(
            f"the simulator needs the optional dependencies of blaxel-operator[simulator] "
            f"(missing: {exc.name}): pip install 'blaxel-operator[simulator]'"
        ) from exc
    parser = argparse.ArgumentParser(prog="blaxel-operator simulate", description=SIMULATE_DESCRIPTION)
    sim_cli.add_arguments(parser)
    result: int = sim_cli.run(parser.parse_args(args.forwarded))
    return result


def cmd_crds(args: argparse.Namespace) -> int:
    from . import crdgen
    from .kinds.registry import KINDS

    files = crdgen.files(KINDS)
    if not args.output_dir:
        print("---\n".join(files.values()), end="")
        return 0
    for directory in args.output_dir:
        path = Path(directory)
        if not path.is_dir():
            raise CliError(f"{directory}: not a directory")
        for name, text in files.items():
            (path / name).write_text(text, encoding="utf-8")
    return 0


def add_input_arguments(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE|DIR",
        help=f"{what}: a file, a directory (its .yaml/.yml/.json files) or '-' for stdin; repeatable",
    )
    p.add_argument(
        "-R", "--recursive", action="store_true", help="descend into subdirectories of directories"
    )


def add_output_arguments(p: argparse.ArgumentParser, *, adopt_flag: bool) -> None:
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write a file per resource (NAME.yaml for an agent, NAME.KIND.yaml for the other kinds, and "
        "the same with .secret.yaml, its Secret skeleton, when needed) into DIR, "
        "each file atomically and only once everything succeeded; files already there are replaced, other files "
        "left alone (default: one multi-document stream on stdout)",
    )
    p.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        help="set metadata.namespace of the manifests (default: unset, so kubectl apply -n decides)",
    )
    p.add_argument(
        "--deletion-policy",
        choices=["Delete", "Orphan"],
        help="set spec.deletionPolicy (default: unset, i.e. Delete: deleting the resource deletes the object "
        "on Blaxel)",
    )
    if adopt_flag:
        p.add_argument(
            "--no-adopt",
            action="store_true",
            help="leave out the blaxel.ai/adoption-policy: adopt annotation (the operator then refuses "
            "objects that already exist)",
        )


def add_tool_parsers(sub: Any) -> None:
    render = sub.add_parser(
        "render",
        help="validate manifests of every kind (BlaxelAgent, BlaxelFunction, ...) and print their Blaxel API "
        "payloads (no network)",
        description="Validate manifests of every kind the operator manages against their CRD (the rules the "
        "apiserver applies: schema, "
        "CEL rules, and unknown fields refused as with kubectl's default --validate=strict) and print the "
        "Blaxel API payloads the operator would send. Secret values are not read: they show as "
        "<secret NAME/KEY>; a reference (policyRefs, ...) shows as the referenced resource's name. Secret, "
        "ConfigMap and Namespace documents are skipped. Exit code 2, with the "
        "file, document and field of every error on stderr, when a manifest is invalid.",
    )
    add_input_arguments(render, "manifests")
    render.add_argument(
        "-o",
        "--output",
        choices=["json", "yaml"],
        default="json",
        help="output format (default json: one object, or a list for several manifests)",
    )
    render.add_argument(
        "--cluster-id",
        default=os.environ.get("BLAXEL_OPERATOR_CLUSTER_ID", "default"),
        help="cluster id for the owner labels (env BLAXEL_OPERATOR_CLUSTER_ID; default 'default')",
    )
    render.add_argument("--no-validate", action="store_true", help="skip the CRD validation")
    render.set_defaults(func=cmd_render)

    diff = sub.add_parser(
        "diff",
        help="compare manifests of every kind with the live Blaxel objects (like kubectl diff)",
        description="Validate the manifests like render, then print a unified diff between each live object "
        "(---) and its manifest (+++), normalised the way the operator compares them: only the fields the "
        "manifest sets, owner labels left out. Secret values are never printed or compared (Blaxel masks "
        "them, and Secrets are not read without a cluster): secret envs are compared by name and "
        "secret: true only (an integration connection's secret values by key). spec.workspace is honoured; "
        "spec.credentialsRef is not read (the CLI's credentials are used). Exit code 0: no differences; 1: "
        "differences, including objects that do not "
        "exist; 2: invalid manifests or an API error.",
    )
    add_input_arguments(diff, "manifests")
    add_api_arguments(diff)
    diff.set_defaults(func=cmd_diff)

    importer = sub.add_parser(
        "import",
        help="write a manifest for every object of a Blaxel workspace (agents, functions, models, jobs, "
        "policies, volumes, integration connections; or --kind)",
        description="Page through the objects of the workspace (every kind, or those of --kind) and write one "
        "resource per object (BlaxelAgent per agent, BlaxelPolicy per policy...), which the operator adopts "
        "without changing the object: annotation blaxel.ai/adoption-policy: adopt, the name field "
        "(spec.agentName, spec.policyName...) and spec.workspace (the object's own) set, its spec copied "
        "(trigger ids kept). Objects imported together that name each other (policies, integration "
        "connections, persistent volumes) name each other by reference (policyRefs...). Secret values cannot "
        "be read (Blaxel masks them): a secret env becomes a secretKeyRef to the Secret NAME-env (key: the env "
        "name), an integration connection's secret value one to NAME-secret (key: the value's key), and a "
        "skeleton of that Secret is written with its keys commented out (the operator waits for them rather "
        "than sending empty values; once they are filled in, it updates such an object once). Fields the CRD "
        "cannot hold are reported as warnings; objects that cannot become a valid resource, or that are being "
        "deleted, are skipped with a warning. A progress bar on stderr when it is a terminal, a summary line "
        "at the end. Exit code 0: all imported; 1: some skipped; 2: an error (nothing written).",
    )
    add_api_arguments(importer)
    importer.add_argument(
        "-k",
        "--kind",
        action="append",
        metavar="KIND",
        help="only objects of this kind (BlaxelAgent, Agent, agents... any case); repeatable "
        "(default: every kind)",
    )
    importer.add_argument(
        "-q",
        "--query",
        metavar="Q",
        help="only objects whose name, display name or labels contain Q (the API's q filter)",
    )
    add_output_arguments(importer, adopt_flag=False)
    importer.set_defaults(func=cmd_import)

    convert = sub.add_parser(
        "convert",
        help="turn Blaxel `bl apply` manifests (Agent, Function, Model, Job, Policy, Volume, "
        "IntegrationConnection) into our manifests (no network)",
        description="Convert `bl apply` manifests into resources (BlaxelAgent, BlaxelFunction, ...) that adopt the "
        "existing objects (annotation blaxel.ai/adoption-policy: adopt unless --no-adopt; the name field, e.g. "
        "spec.agentName, set); converted resources that name each other do so by reference (policyRefs, "
        "integrationConnectionRefs, volumes[].volumeRef). Input is read as `bl apply` "
        "reads it: YAML or JSON (also the array of `bl get -o json`), several documents and kinds per file, "
        "matched on kind (apiVersion blaxel.ai/..., blaxel/..., beamlit.com/... or none). References are "
        "substituted across the whole file first: $VAR, ${VAR} and ${VAR:default} from the environment, the "
        ".env files (--env-file; default .env of the current directory) or the default, anywhere; one that "
        "nothing resolves is an error naming file, document and field (--keep-unresolved keeps it as written, "
        "as bl does). A secret (${secrets.X}, ${secrets.X:default}, $secrets.X) in an env value becomes a "
        "secretKeyRef to the Secret NAME-env (key = the env's name) plus a skeleton of that Secret; an "
        "integration connection's secret values, whatever they are, come from the Secret NAME-secret; elsewhere "
        "a secret is substituted like bl does, with a warning. Fields at the wrong level (e.g. volumes under "
        "spec.runtime) are moved, with a warning. Other kinds (Sandbox, ...) are reported as not supported and "
        "skipped; fields the CRD cannot hold are reported. "
        "Exit code 0 on success (warnings allowed); 2 on malformed input, with nothing written.",
    )
    add_input_arguments(convert, "bl apply manifests")
    add_output_arguments(convert, adopt_flag=True)
    convert.add_argument(
        "--workspace",
        metavar="WS",
        help="set spec.workspace (default: unset, i.e. the operator's default workspace)",
    )
    convert.add_argument(
        "-e",
        "--env-file",
        action="append",
        metavar="PATH",
        help="a .env file (as `bl apply -e`) whose values resolve references; repeatable "
        "(default: .env of the current directory, when it exists)",
    )
    convert.add_argument(
        "--keep-unresolved",
        action="store_true",
        help="keep references that nothing resolves as written, as `bl apply` does (a warning each), "
        "instead of failing",
    )
    convert.set_defaults(func=cmd_convert)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blaxel-operator",
        description="Run Blaxel AI agents from Kubernetes: the operator, and tools around it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser(
        "run",
        help="run the operator against the current cluster",
        description="Run the operator. Kubernetes access: KUBECONFIG or in-cluster config. "
        "Blaxel: BL_API_URL or BL_ENV, BL_API_VERSION, BL_API_KEY, BL_WORKSPACE.",
    )
    add_run_arguments(run)
    run.set_defaults(func=cmd_run)

    add_tool_parsers(sub)

    crds = sub.add_parser(
        "crds",
        help="print the CustomResourceDefinitions of every kind (generated from the kinds' models)",
        description="Print the CRD of every kind the operator manages as YAML, generated from the kinds' "
        "models (the same CRDs that ship in crds/ and in the chart). With -d, write one file per kind, "
        "GROUP_PLURAL.yaml, into each directory instead.",
    )
    crds.add_argument(
        "-d",
        "--output-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="write the files into DIR (repeatable; existing files of the same name are replaced)",
    )
    crds.set_defaults(func=cmd_crds)

    simulate = sub.add_parser(
        "simulate",
        help="run the local Blaxel API simulator (the extra blaxel-operator[simulator])",
        description=SIMULATE_DESCRIPTION,
        add_help=False,  # -h/--help reach the simulator's own parser, which knows its options
    )
    simulate.set_defaults(func=cmd_simulate, forwards_arguments=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "forwards_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.forwarded = rest
    try:
        result: int = args.func(args)
        return result
    except CliError as exc:
        for line in str(exc).splitlines() or [""]:
            print(f"blaxel-operator: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

"""`import`: every agent of a Blaxel workspace -> BlaxelAgent manifests that adopt it without a change.

Design:

* one BlaxelAgent per agent, named after it, with `spec.agentName` always set (to the same name): the
  resource keeps managing that agent if it is renamed later, and `agentName` can only be set at creation
  (a CEL rule makes its presence immutable). `blaxel.ai/adoption-policy: adopt` lets the operator take the
  agent over; `spec.workspace` is the agent's workspace, so the operator's default workspace cannot send
  the manifests elsewhere.
* The spec is the agent's, field for field (trigger ids kept so that triggers keep their identity and
  URLs on later updates; generated callback secrets left out). Applying the manifest therefore adopts the
  agent with no write: each manifest is checked against the agent it came from with the operator's own
  comparison, and any difference is reported.
* Secret env values cannot be read (Blaxel masks them). A secret env becomes a `secretKeyRef` to the
  Secret `<name>-env` (key: the env name) and a skeleton of that Secret is written with its keys commented
  out: an empty value would be sent to Blaxel as the new secret value, a missing key makes the operator
  wait (SecretNotFound) without writing. Once the values are filled in, the operator compares them with
  the agent's where its key may read them (show_secrets, workspace admins) and writes nothing if they
  match; otherwise (or where Blaxel refuses) it updates the agent once.
* Fields the CRD cannot hold are reported (warnings), agents that cannot become a valid BlaxelAgent or
  that are being deleted are skipped (warnings, exit code 1); everything else is written. Output is
  written only once every agent has been listed and mapped, each file atomically.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from ..blaxel.client import BlaxelApi, Credentials
from ..blaxel.errors import BlaxelError
from ..core.decide import make_desired, owner_labels
from ..core.diff import subset_diff
from .common import (
    CliError,
    Progress,
    SecretKey,
    comment_block,
    credentials_from_args,
    make_api,
    note,
    secret_skeleton,
    to_yaml,
    warn,
    write_files,
    yaml_stream,
)
from .mapping import KIND, Mapped, MappingError, map_agent, secret_ref

SECRET_WHY = [
    "Blaxel returns secret env values masked: blaxel-operator import could not copy them.",
]


def import_env(
    env: dict[str, Any], path: str, secret_name: str
) -> tuple[dict[str, Any], SecretKey | None, list[str]]:
    if env.get("secret") is True:
        name = str(env["name"])
        return secret_ref(name, secret_name), SecretKey(name, f"secret env {name} (masked by Blaxel)"), []
    return env, None, []


async def fetch_agents(
    api: BlaxelApi, creds: Credentials, query: str | None, progress: Progress
) -> tuple[list[dict[str, Any]], int]:
    """Every agent (cursor paging), sorted by name; and the number of pages."""
    agents: dict[str, dict[str, Any]] = {}
    pages = 0
    async for page in api.list_pages(KIND.api_collection, creds, query=query):
        pages += 1
        for item in page:
            name = (item.get("metadata") or {}).get("name")
            if isinstance(name, str) and name:
                agents[name] = item  # a later page wins if the listing moved under us
        progress.update(len(agents), None, f"(page {pages})")
    return [agents[name] for name in sorted(agents)], pages


def self_check(mapped: Mapped, remote: dict[str, Any]) -> list[str]:
    """Paths where the operator would find the agent different from the manifest (so it would PUT)."""
    spec = KIND.parse_spec(mapped.manifest["spec"])
    payload = KIND.build_payload(
        spec, mapped.name, {}, owner_labels("import", mapped.namespace or "default", mapped.name)
    )
    desired = make_desired(mapped.name, payload, KIND.comparable_desired(payload), has_secrets=False)
    return subset_diff(desired.comparable, KIND.comparable_observed(remote, payload))


def agent_document(mapped: Mapped, workspace: str | None) -> str:
    lines = [
        f"Blaxel agent {mapped.name!r}"
        + (f" of workspace {workspace!r}" if workspace else "")
        + ", imported by `blaxel-operator import`.",
        "Applying it adopts the agent (blaxel.ai/adoption-policy: adopt) without changing it.",
    ]
    if mapped.secret_keys:
        lines += [
            f"Its secret envs come from Secret {mapped.secret_name} ({mapped.name}.secret.yaml): fill it in; the",
            "operator compares them with the agent's where its API key may read them (workspace admin) and",
            "writes nothing if they match; otherwise it updates the agent once with them.",
        ]
    lines += mapped.notes
    return comment_block(lines) + to_yaml(mapped.manifest)


def run_import(args: argparse.Namespace) -> int:
    creds = credentials_from_args(args)
    listing = Progress("listing agents:")

    async def fetch() -> tuple[list[dict[str, Any]], int]:
        api = make_api(args)
        try:
            return await fetch_agents(api, creds, args.query, listing)
        finally:
            await api.close()

    try:
        agents, pages = asyncio.run(fetch())
    except BlaxelError as exc:
        listing.done()
        raise CliError(f"listing agents failed: {exc}") from None
    listing.done()

    progress = Progress("importing:")
    mapped_all: list[Mapped] = []
    skipped: list[tuple[str, list[str]]] = []
    messages: list[tuple[str, str]] = []  # (level, text), printed once the bar is gone
    for number, remote in enumerate(agents, 1):
        progress.update(number, len(agents))
        name = str(remote["metadata"]["name"])
        status = str(remote.get("status") or "")
        if status == "DELETING":
            skipped.append((name, [f"it is {status}"]))
            continue
        workspace = (remote.get("metadata") or {}).get("workspace") or creds.workspace
        try:
            mapped = map_agent(
                remote,
                env_mapper=import_env,
                namespace=args.namespace,
                workspace=workspace if isinstance(workspace, str) else None,
                adopt=True,
                deletion_policy=args.deletion_policy,
            )
        except MappingError as exc:
            skipped.append((name, ["it cannot be a valid BlaxelAgent: " + "; ".join(exc.errors)]))
            continue
        drift = self_check(mapped, remote)
        if drift:
            mapped.warnings.append(
                "applying the manifest will update the agent: it differs at " + ", ".join(drift[:10])
            )
        for text in mapped.warnings:
            messages.append(("warning", f"agent {name}: {text}"))
        for text in mapped.notes:
            messages.append(("note", f"agent {name}: {text}"))
        mapped_all.append(mapped)
    progress.done()
    for name, reasons in skipped:
        messages.append(("warning", f"agent {name}: skipped: {'; '.join(reasons)}"))
    for level, text in messages:
        (warn if level == "warning" else note)(text)

    files: dict[str, str] = {}
    documents: list[str] = []
    for mapped in mapped_all:
        ws = mapped.manifest["spec"].get("workspace")
        if mapped.secret_keys:
            skeleton = secret_skeleton(
                mapped.secret_name, mapped.namespace, mapped.name, mapped.secret_keys, SECRET_WHY
            )
            files[f"{mapped.name}.secret.yaml"] = skeleton
            documents.append(skeleton)
        text = agent_document(mapped, ws)
        files[f"{mapped.name}.yaml"] = text
        documents.append(text)
    if args.output:
        write_files(Path(args.output), files)
    elif documents:
        sys.stdout.write(yaml_stream(documents))
        sys.stdout.flush()

    with_secrets = sum(1 for m in mapped_all if m.secret_keys)
    summary = f"imported {len(mapped_all)} of {len(agents)} agents ({pages} page{'s' if pages != 1 else ''})"
    if args.output:
        summary += f" into {args.output}"
    extras = []
    if with_secrets:
        extras.append(f"{with_secrets} with secret envs: fill in their <name>-env Secrets")
    if skipped:
        extras.append(f"{len(skipped)} skipped")
    warnings = sum(1 for level, _ in messages if level == "warning") - len(skipped)
    if warnings:
        extras.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    if extras:
        summary += "; " + ", ".join(extras)
    print(summary, file=sys.stderr)
    return 1 if skipped else 0

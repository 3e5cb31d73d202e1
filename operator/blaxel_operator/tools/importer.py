"""`import`: every object of a Blaxel workspace (all kinds, or `--kind`) -> manifests that adopt it without a
change.

Design:

* one resource per object (a BlaxelAgent per agent, a BlaxelPolicy per policy...), named after it, with its
  name field (`spec.agentName`, `spec.policyName`...) always set (to the same name): the resource keeps
  managing that object if it is renamed later, and the name field can only be set at creation (a CEL rule
  makes its presence immutable). `blaxel.ai/adoption-policy: adopt` lets the operator take the object
  over; `spec.workspace` is the object's workspace, so the operator's default workspace cannot send the
  manifests elsewhere.
* The spec is the object's, field for field (trigger ids kept so that triggers keep their identity and
  URLs on later updates; generated callback secrets left out). Applying the manifest therefore adopts the
  object with no write: each manifest is checked against the object it came from with the operator's own
  comparison, and any difference is reported. Objects that name each other (an agent's policies, a
  function's integration connections, an agent's persistent volumes) and are imported together name each
  other by reference (`policyRefs`, ...), so that applying the output creates them in dependency order.
* Secret values cannot be read (Blaxel masks them). A secret env becomes a `secretKeyRef` to the Secret
  `<name>-env` (key: the env name), an integration connection's secret value one to `<name>-secret` (key:
  the value's key), and a skeleton of that Secret is written with its keys commented out: an empty value
  would be sent to Blaxel as the new secret value, a missing key makes the operator wait (SecretNotFound)
  without writing. Once the values are filled in, the operator compares them with the object's where its
  key may read them (show_secrets, workspace admins) and writes nothing if they match; otherwise (or where
  Blaxel refuses) it updates the object once.
* Fields the CRD cannot hold are reported (warnings), objects that cannot become a valid resource or that
  are being deleted are skipped (warnings, exit code 1); everything else is written. Output is written only
  once every object has been listed and mapped, each file atomically; the referenced kinds come first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
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
from .mapping import MAPPINGS, KindMapping, Mapped, MappingError, link_references, map_resource, secret_ref

SECRET_WHY = [
    "Blaxel returns secret values masked: blaxel-operator import could not copy them.",
]


def import_env(
    env: dict[str, Any], path: str, secret_name: str
) -> tuple[dict[str, Any], SecretKey | None, list[str]]:
    if env.get("secret") is True:
        name = str(env["name"])
        return secret_ref(name, secret_name), SecretKey(name, f"secret env {name} (masked by Blaxel)"), []
    return env, None, []


def mappings_for(names: list[str] | None) -> list[KindMapping]:
    """The kinds `--kind` names (BlaxelAgent, Agent, blaxelagents, agent, bla... any case), in the order
    of MAPPINGS; every kind without `--kind`."""
    if not names:
        return list(MAPPINGS.values())
    chosen: set[str] = set()
    for name in names:
        wanted = name.strip().lower()
        found = [
            m
            for m in MAPPINGS.values()
            if wanted
            in {
                m.bl_kind.lower(),
                m.kind.kind.lower(),
                m.kind.plural,
                m.kind.singular,
                m.noun.replace(" ", ""),
                m.nouns.replace(" ", ""),
                *m.kind.short_names,
            }
        ]
        if not found:
            kinds = ", ".join(sorted(m.kind.kind for m in MAPPINGS.values()))
            raise CliError(f"--kind {name}: not a kind blaxel-operator manages ({kinds})")
        chosen.add(found[0].bl_kind)
    return [m for m in MAPPINGS.values() if m.bl_kind in chosen]


@dataclass
class Listing:
    """The objects of one kind (sorted by name) and the number of pages read."""

    mapping: KindMapping
    objects: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0


async def fetch_objects(
    api: BlaxelApi, creds: Credentials, mapping: KindMapping, query: str | None, progress: Progress
) -> Listing:
    """Every object of a kind (cursor paging), sorted by name."""
    found: dict[str, dict[str, Any]] = {}
    listing = Listing(mapping)
    async for page in api.list_pages(mapping.kind.api_collection, creds, query=query):
        listing.pages += 1
        for item in page:
            name = (item.get("metadata") or {}).get("name")
            if isinstance(name, str) and name:
                found[name] = item  # a later page wins if the listing moved under us
        progress.update(len(found), None, f"(page {listing.pages})")
    listing.objects = [found[name] for name in sorted(found)]
    return listing


def self_check(mapping: KindMapping, mapped: Mapped, remote: dict[str, Any]) -> list[str]:
    """Paths where the operator would find the object different from the manifest (so it would PUT)."""
    kind = mapping.kind
    spec = kind.parse_spec(mapped.manifest["spec"])
    payload = kind.build_payload(
        spec, mapped.name, {}, owner_labels("import", mapped.namespace or "default", mapped.name)
    )
    desired = make_desired(mapped.name, payload, kind.comparable_desired(payload), has_secrets=False)
    return subset_diff(desired.comparable, kind.comparable_observed(remote, payload))


def resource_document(mapping: KindMapping, mapped: Mapped, workspace: str | None) -> str:
    noun = mapping.noun
    lines = [
        f"Blaxel {noun} {mapped.name!r}"
        + (f" of workspace {workspace!r}" if workspace else "")
        + ", imported by `blaxel-operator import`.",
        f"Applying it adopts the {noun} (blaxel.ai/adoption-policy: adopt) without changing it.",
    ]
    if mapped.secret_keys:
        what = "secret values" if mapping.secrets.secret_map else "secret envs"
        lines += [
            f"Its {what} come from Secret {mapped.secret_name} "
            f"({mapping.file_name(mapped.name, '.secret.yaml')}): fill it in; the",
            f"operator compares them with the {noun}'s where its API key may read them (workspace admin) and",
            "writes nothing if they match; otherwise it updates it once with them.",
        ]
    lines += mapped.notes
    return comment_block(lines) + to_yaml(mapped.manifest)


def count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def run_import(args: argparse.Namespace) -> int:
    creds = credentials_from_args(args)
    mappings = mappings_for(getattr(args, "kind", None))
    listings: list[Listing] = []

    async def fetch() -> None:
        api = make_api(args)
        try:
            for mapping in mappings:
                progress = Progress(f"listing {mapping.nouns}:")
                try:
                    listings.append(await fetch_objects(api, creds, mapping, args.query, progress))
                except BlaxelError as exc:
                    raise CliError(f"listing {mapping.nouns} failed: {exc}") from None
                finally:
                    progress.done()
        finally:
            await api.close()

    asyncio.run(fetch())

    total = sum(len(listing.objects) for listing in listings)
    progress = Progress("importing:")
    mapped_all: list[tuple[KindMapping, Mapped]] = []
    skipped: list[tuple[KindMapping, str, list[str]]] = []
    messages: list[tuple[str, str]] = []  # (level, text), printed once the bar is gone
    number = 0
    for listing in listings:
        mapping = listing.mapping
        for remote in listing.objects:
            number += 1
            progress.update(number, total)
            name = str(remote["metadata"]["name"])
            status = str(remote.get("status") or "")
            if status == "DELETING" or remote.get("terminatedAt"):
                skipped.append((mapping, name, [f"it is {status or 'terminated'}"]))
                continue
            workspace = (remote.get("metadata") or {}).get("workspace") or creds.workspace
            try:
                mapped = map_resource(
                    mapping,
                    remote,
                    env_mapper=import_env,
                    namespace=args.namespace,
                    workspace=workspace if isinstance(workspace, str) else None,
                    adopt=True,
                    deletion_policy=args.deletion_policy,
                )
            except MappingError as exc:
                reason = f"it cannot be a valid {mapping.kind.kind}: " + "; ".join(exc.errors)
                skipped.append((mapping, name, [reason]))
                continue
            drift = self_check(mapping, mapped, remote)
            if drift:
                mapped.warnings.append(
                    f"applying the manifest will update the {mapping.noun}: it differs at "
                    + ", ".join(drift[:10])
                )
            for text in mapped.warnings:
                messages.append(("warning", f"{mapping.noun} {name}: {text}"))
            mapped_all.append((mapping, mapped))
    progress.done()
    for mapping, mapped in mapped_all:
        messages.extend(("note", f"{mapping.noun} {mapped.name}: {text}") for text in mapped.notes)
    link_notes = link_references(mapped_all)
    by_id = {id(one): m for m, one in mapped_all}
    messages.extend(("note", f"{by_id[id(one)].noun} {one.name}: {text}") for one, text in link_notes)
    for mapping, name, reasons in skipped:
        messages.append(("warning", f"{mapping.noun} {name}: skipped: {'; '.join(reasons)}"))
    for level, text in messages:
        (warn if level == "warning" else note)(text)

    files: dict[str, str] = {}
    documents: list[str] = []
    for mapping, mapped in mapped_all:
        ws = mapped.manifest["spec"].get("workspace")
        if mapped.secret_keys:
            skeleton = secret_skeleton(
                mapped.secret_name,
                mapped.namespace,
                mapped.name,
                mapped.secret_keys,
                SECRET_WHY,
                noun=mapping.noun,
            )
            files[mapping.file_name(mapped.name, ".secret.yaml")] = skeleton
            documents.append(skeleton)
        text = resource_document(mapping, mapped, ws)
        files[mapping.file_name(mapped.name)] = text
        documents.append(text)
    if args.output:
        write_files(Path(args.output), files)
    elif documents:
        sys.stdout.write(yaml_stream(documents))
        sys.stdout.flush()
    print(summary(listings, mapped_all, skipped, messages, args.output), file=sys.stderr)
    return 1 if skipped else 0


def summary(
    listings: list[Listing],
    mapped_all: list[tuple[KindMapping, Mapped]],
    skipped: list[tuple[KindMapping, str, list[str]]],
    messages: list[tuple[str, str]],
    output: str | None,
) -> str:
    """`imported 3 of 3 policies (1 page), 250 of 250 agents (2 pages) into DIR; ...`: each kind listed
    explicitly or with objects."""
    parts = []
    for listing in listings:
        found = len(listing.objects)
        if found or len(listings) == 1:
            done = sum(1 for m, _ in mapped_all if m is listing.mapping)
            noun = listing.mapping.noun if found == 1 else listing.mapping.nouns
            parts.append(f"{done} of {found} {noun} ({count(listing.pages, 'page', 'pages')})")
    text = f"imported {', '.join(parts) or 'nothing'}"
    if output:
        text += f" into {output}"
    extras = []
    for what, suffix, is_map in (("secret envs", "env", False), ("secret values", "secret", True)):
        n = sum(1 for m, one in mapped_all if one.secret_keys and bool(m.secrets.secret_map) == is_map)
        if n:
            extras.append(f"{n} with {what}: fill in their <name>-{suffix} Secrets")
    if skipped:
        extras.append(f"{len(skipped)} skipped")
    warnings = sum(1 for level, _ in messages if level == "warning") - len(skipped)
    if warnings:
        extras.append(count(warnings, "warning", "warnings"))
    if extras:
        text += "; " + ", ".join(extras)
    return text

"""`diff`: manifests of every kind against the live Blaxel objects, like `kubectl diff` (exit 0 / 1 / 2).

Each manifest is validated like `render`, turned into the payload the operator would send, and compared
with the live object the way the operator compares them (`comparable_desired` / `comparable_observed`,
desired as a subset of the live object, owner labels left out). The output is a unified diff of YAML
dumps: `---` the live object, projected onto the fields the manifest sets (server defaults and read-only
fields are not differences), `+++` the manifest. Secret values are never shown: Blaxel masks them and the
operator never compares them, so secret envs (`valueFrom.secretKeyRef` or `secret: true`) are compared by
name and `secret: true` only and printed with a masked value (as are an integration connection's `secret`
values). References (`policyRefs`, ...) stand for the referenced resource's name: without a cluster,
neither they nor Secrets and `spec.credentialsRef` can be read: the CLI's credentials are used, with
`spec.workspace` honoured.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import difflib
import sys
from typing import Any

from ..blaxel.client import BlaxelApi, Credentials, ExternalClient
from ..blaxel.errors import BlaxelError
from ..config import ADOPTION_POLICY
from ..core.decide import OWNER_LABELS, make_desired, owner_labels
from ..core.diff import subset_diff
from .common import CliError, credentials_from_args, load_documents, make_api, note, to_yaml
from .render import Resource, load_resources

MASK = "********"


def project(observed: Any, desired: Any) -> Any:
    """`observed` restricted to the shape of `desired`: what the subset comparison looks at."""
    if isinstance(desired, dict) and isinstance(observed, dict):
        out: dict[str, Any] = {}
        for key, want in desired.items():
            if key in observed and observed[key] is not None:
                out[key] = project(observed[key], want)
            elif want in (None, {}, []):
                out[key] = want  # "not set" equals empty, as in subset_diff
        return out
    if isinstance(desired, list) and isinstance(observed, list):
        return [project(have, desired[i]) if i < len(desired) else have for i, have in enumerate(observed)]
    return observed


def mask_secret_envs(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy where secret envs and secret maps show a masked value (neither side holds the real one)."""
    result = copy.deepcopy(obj)
    spec = result.get("spec") or {}
    envs = (spec.get("runtime") or {}).get("envs") if isinstance(spec, dict) else None
    for env in envs if isinstance(envs, list) else []:
        if isinstance(env, dict) and env.get("secret") is True:
            env["value"] = MASK
    secret = spec.get("secret") if isinstance(spec, dict) else None
    if isinstance(secret, dict):
        spec["secret"] = dict.fromkeys(secret, MASK)
    return result


def desired_of(res: Resource) -> tuple[dict[str, Any], dict[str, Any]]:
    """(payload, comparable) of a resource, as the operator builds them, secrets unresolved."""
    payload = res.kind.build_payload(
        res.spec, res.remote_name, {}, owner_labels("diff", res.namespace, res.name)
    )
    desired = make_desired(res.remote_name, payload, res.kind.comparable_desired(payload), has_secrets=False)
    return payload, desired.comparable


def diff_one(res: Resource, remote: dict[str, Any] | None, workspace: str | None) -> tuple[str, bool]:
    """(unified diff text, whether they differ) of one resource and its live object (None: absent)."""
    payload, want = desired_of(res)
    label = f"{res.namespace}/{res.name}"
    ws = f"{workspace}/" if workspace else ""
    if remote is None:
        have_text = ""
        differs = True
        old = f"live/{ws}{res.kind.api_collection}/{res.remote_name} (does not exist)"
    else:
        have = res.kind.comparable_observed(remote, payload)
        labels = (have.get("metadata") or {}).get("labels")
        if isinstance(labels, dict):
            for key in OWNER_LABELS:
                labels.pop(key, None)
        differs = bool(subset_diff(want, have))
        # projected onto the masked manifest, so that a live env shows its value where the manifest has one
        have_text = to_yaml(mask_secret_envs(project(have, mask_secret_envs(want))), sort_keys=True)
        old = f"live/{ws}{res.kind.api_collection}/{res.remote_name}"
    if not differs:
        return "", False
    want_text = to_yaml(mask_secret_envs(want), sort_keys=True)
    new = f"manifest/{label} ({res.source}, document {res.index})"
    lines = difflib.unified_diff(
        have_text.splitlines(keepends=True), want_text.splitlines(keepends=True), fromfile=old, tofile=new
    )
    text = "".join(lines)
    if not text:  # differs only where the projection hides it (should not happen): name the paths
        text = f"--- {old}\n+++ {new}\n# differs at: {', '.join(subset_diff(want, have))}\n"
    return text, True


def _workspace(res: Resource, creds: Credentials) -> str | None:
    return getattr(res.spec, "workspace", None) or creds.workspace


async def observe_all(
    api: BlaxelApi, creds: Credentials, resources: list[Resource]
) -> list[dict[str, Any] | None]:
    clients: dict[str, ExternalClient] = {}

    async def observe(res: Resource) -> dict[str, Any] | None:
        client = clients.setdefault(res.kind.api_collection, ExternalClient(api, res.kind.api_collection))
        return await client.observe(Credentials(creds.api_key, _workspace(res, creds)), res.remote_name)

    return list(await asyncio.gather(*(observe(res) for res in resources)))


def run_diff(args: argparse.Namespace) -> int:
    resources = load_resources(load_documents(args.filename, args.recursive))
    creds = credentials_from_args(args)

    async def fetch() -> list[dict[str, Any] | None]:
        api = make_api(args)
        try:
            return await observe_all(api, creds, resources)
        finally:
            await api.close()

    try:
        remotes = asyncio.run(fetch())
    except BlaxelError as exc:
        raise CliError(f"reading the live objects failed: {exc}") from None
    changed = 0
    for res, remote in zip(resources, remotes, strict=True):
        if getattr(res.spec, "credentials_ref", None) is not None:
            note(
                f"{res.where}: spec.credentialsRef is not read without a cluster; compared with the CLI's credentials"
            )
        if remote is not None:
            labels = (remote.get("metadata") or {}).get("labels") or {}
            adopt = str(
                ((res.doc.get("metadata") or {}).get("annotations") or {}).get(ADOPTION_POLICY, "")
            ).lower()
            if not any(k in labels for k in OWNER_LABELS) and adopt != "adopt":
                note(
                    f"{res.where}: {res.kind.noun} {res.remote_name} exists and is not managed by blaxel-operator: the "
                    f"operator refuses it unless the resource has the annotation {ADOPTION_POLICY}: adopt"
                )
        text, differs = diff_one(res, remote, _workspace(res, creds))
        if differs:
            changed += 1
            sys.stdout.write(text)
    sys.stdout.flush()
    return 1 if changed else 0

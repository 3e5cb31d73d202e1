"""`convert`: Blaxel `bl apply` manifests -> BlaxelAgent manifests.

`kind: Agent` documents (`apiVersion: blaxel.ai/...`; multi-document files, directories, `kind: List`)
become BlaxelAgents that adopt the existing agent (annotation `blaxel.ai/adoption-policy: adopt`, unless
`--no-adopt`), named after the agent, with `spec.agentName` always set. Other Blaxel kinds (Function,
Model, Job, Sandbox, Policy, Volume, ...) are reported as not yet supported and skipped, as are documents
that are not Blaxel manifests.

References that `bl apply` resolves when it runs cannot be resolved by the operator, so an env value
holding one comes from a Secret instead: `value: ${secrets.X}`, `value: ${VAR}`, `value: $VAR` (or a text
containing them) becomes `valueFrom.secretKeyRef` to the Secret `<name>-env`, key = the env's own name
(unique per agent), and a skeleton of that Secret is written whose comments record what each key held
(`${secrets.X}`: the secret X of `bl`'s .env file; `$VAR`: the variable VAR of `bl apply`'s environment).
Envs read from a Secret are secret envs on Blaxel. References anywhere else (an image tag, a URL) are kept
as is, with a warning. Masked secret values (`********` with `secret: true`, as `bl get` prints them) are
treated like references.

Malformed input (not YAML, a document that is not a mapping or has no kind, an Agent that cannot become a
valid BlaxelAgent, two Agents of the same name) is an error: exit code 2 and nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import (
    CliError,
    SecretKey,
    comment_block,
    load_documents,
    note,
    secret_skeleton,
    to_yaml,
    warn,
    where,
    write_files,
    yaml_stream,
)
from .mapping import MASK_RE, Mapped, MappingError, map_agent, references, secret_ref

# Kinds `bl apply` knows besides Agent (reported as not yet supported).
OTHER_BLAXEL_KINDS = (
    "Function",
    "Model",
    "Job",
    "Sandbox",
    "Policy",
    "Volume",
    "VolumeTemplate",
    "Application",
    "IntegrationConnection",
)
SECRET_WHY = [
    "The `bl apply` manifest took these values from references that `bl` resolved when it ran",
    "(see each key); the operator cannot resolve them, so they come from this Secret.",
]


def _describe(kind: str, name: str) -> str:
    if kind == "secret":
        return f"the secret {name} of `bl` (its .env file)"
    return f"the variable {name} of `bl apply`'s environment"


def convert_env(
    env: dict[str, Any], path: str, secret_name: str
) -> tuple[dict[str, Any], SecretKey | None, list[str]]:
    name = str(env["name"])
    value = env.get("value")
    if not isinstance(value, str):
        return env, None, []
    refs = references(value)
    if refs:
        sources = ", ".join(_describe(kind, ref) for kind, ref in refs)
        text = (
            f"{path} ({name}): {value!r} now comes from Secret {secret_name}, key {name} "
            f"(`bl apply` substituted {sources})"
        )
        if any(kind == "env" for kind, _ in refs) and env.get("secret") is not True:
            text += "; it becomes a secret env on Blaxel (the CRD reads non-literal values from Secrets only)"
        return secret_ref(name, secret_name), SecretKey(name, f"was {value!r}: {sources}"), [text]
    if env.get("secret") is True and MASK_RE.match(value):
        return secret_ref(name, secret_name), SecretKey(name, f"secret env {name} (masked in the input)"), []
    return env, None, []


def is_blaxel(doc: dict[str, Any]) -> bool:
    api_version = doc.get("apiVersion")
    return api_version is None or str(api_version).startswith("blaxel.ai/")


def run_convert(args: argparse.Namespace) -> int:
    errors: list[str] = []
    warnings: list[str] = []
    notes: list[str] = []
    converted: list[tuple[Mapped, str]] = []  # (mapped, where it came from)
    seen: dict[str, str] = {}
    documents = 0
    for source, index, doc in load_documents(args.filename, args.recursive):
        documents += 1
        at = where(source, index, doc)
        kind = doc.get("kind")
        if not isinstance(kind, str) or not kind:
            errors.append(f"{at}: kind: Required value: not a Kubernetes-style manifest")
            continue
        if kind != "Agent" or not is_blaxel(doc):
            if kind == "BlaxelAgent":
                warnings.append(f"{at}: already a BlaxelAgent; skipped")
            elif is_blaxel(doc):
                known = " (known to `bl apply`)" if kind in OTHER_BLAXEL_KINDS else ""
                warnings.append(f"{at}: kind {kind}{known} is not yet supported, only Agent; skipped")
            else:
                warnings.append(f"{at}: {doc.get('apiVersion')}/{kind} is not a Blaxel manifest; skipped")
            continue
        try:
            mapped = map_agent(
                doc,
                env_mapper=convert_env,
                namespace=args.namespace,
                workspace=args.workspace,
                adopt=not args.no_adopt,
                deletion_policy=args.deletion_policy,
                check_references=True,
            )
        except MappingError as exc:
            errors.extend(f"{at}: {e}" for e in exc.errors)
            continue
        if mapped.name in seen:
            errors.append(f"{at}: Agent {mapped.name} is already defined by {seen[mapped.name]}")
            continue
        seen[mapped.name] = at
        warnings.extend(f"{at}: {w}" for w in mapped.warnings)
        notes.extend(f"{at}: {n}" for n in mapped.notes)
        converted.append((mapped, at))
    if errors:
        raise CliError("\n".join(errors))
    if documents == 0:
        raise CliError("no manifests found")

    files: dict[str, str] = {}
    stream: list[str] = []
    for mapped, at in converted:
        if mapped.secret_keys:
            skeleton = secret_skeleton(
                mapped.secret_name, mapped.namespace, mapped.name, mapped.secret_keys, SECRET_WHY
            )
            files[f"{mapped.name}.secret.yaml"] = skeleton
            stream.append(skeleton)
        lines = [f"Converted by `blaxel-operator convert` from the `bl apply` manifest {at}."]
        if not args.no_adopt:
            lines.append("Applying it adopts the existing agent (blaxel.ai/adoption-policy: adopt).")
        if mapped.secret_keys:
            lines.append(
                f"Env values that `bl` resolved come from Secret {mapped.secret_name} ({mapped.name}.secret.yaml)."
            )
        text = comment_block(lines + mapped.notes) + to_yaml(mapped.manifest)
        files[f"{mapped.name}.yaml"] = text
        stream.append(text)
    for text in warnings:
        warn(text)
    for text in notes:
        note(text)
    if args.output:
        write_files(Path(args.output), files)
    elif stream:
        sys.stdout.write(yaml_stream(stream))
        sys.stdout.flush()
    with_secrets = sum(1 for m, _ in converted if m.secret_keys)
    skipped = sum(1 for w in warnings if w.endswith("; skipped"))
    summary = (
        f"converted {len(converted)} Agent{'s' if len(converted) != 1 else ''} from {documents} documents"
    )
    if args.output:
        summary += f" into {args.output}"
    extras = []
    if with_secrets:
        extras.append(f"{with_secrets} with values from a Secret: fill in their <name>-env Secrets")
    if skipped:
        extras.append(f"{skipped} document{'s' if skipped != 1 else ''} skipped")
    if extras:
        summary += "; " + ", ".join(extras)
    if not converted:
        warn("no Blaxel Agent manifest found")
    print(summary, file=sys.stderr)
    return 0

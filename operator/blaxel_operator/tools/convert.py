"""`convert`: Blaxel `bl apply` manifests -> our resources (Agent -> BlaxelAgent, Function ->
BlaxelFunction, Model, Job, Policy, Volume, IntegrationConnection -> BlaxelIntegrationConnection).

Input is read as `bl apply` reads it (see `bl_manifests`): references substituted across the whole file
before parsing, YAML or JSON (also the JSON array of `bl get ... -o json`, and `kind: List`), several
documents and kinds per file, and a document matched on its `kind` alone: `apiVersion` may be
`blaxel.ai/...`, `blaxel/...`, `beamlit.com/...` or absent. A kind with an entry in `mapping.MAPPINGS`
becomes our resource, which adopts the existing Blaxel object (annotation `blaxel.ai/adoption-policy:
adopt`, unless `--no-adopt`), named after it, with its name field (`spec.agentName`, `spec.policyName`...)
always set. Other kinds that `bl` knows (Sandbox, ...) are reported as not supported and skipped, as are
documents that are not `bl` manifests. Converted resources that name each other (an agent's `policies: [x]` where the policy
`x` is converted too; `integrationConnections`, a persistent volume's `name`) name each other by reference
(`policyRefs`, `integrationConnectionRefs`, `volumeRef`), so that `kubectl apply -f` of the output creates
them in dependency order.

References:

* A plain variable (`$VAR`, `${VAR}`, `${VAR:default}`) is substituted from the environment, else the
  .env files (`--env-file`; by default `.env` of the current directory, as `bl` does), else its default,
  wherever it is (a number stays a number). One that nothing resolves is an error naming the file, the
  document and the field, unless `--keep-unresolved` keeps it as written, as `bl` does (a warning).
* A secret (`${secrets.X}`, `${secrets.X:default}`, `$secrets.X`) in an env value never gets its value
  written: the env reads `valueFrom.secretKeyRef` of the Secret `<name>-env` (key = the env's name) and a
  skeleton of that Secret is written whose comments record what each key held. So does an env marked
  `secret: true` whose value holds any reference, and a masked value (`********` with `secret: true`, as
  `bl get` prints it). On Blaxel, envs read from a Secret are secret envs.
* An integration connection's `secret` values never get written either, whatever they are (a reference, a
  literal, a masked value): each is read from the Secret `<name>-secret` (key = the value's key), of which a
  skeleton is written.
* A secret anywhere else (a field that cannot read a Kubernetes Secret) is substituted as `bl` does, with a
  warning that its value is now in the manifest in plain text; if nothing resolves it, it is an error.

Fields written where Blaxel does not read them (e.g. `volumes` under `spec.runtime`, `envs` directly under
`spec`, spec fields at the top level) are moved to where it does, with a warning naming the field and
what was done. Malformed input (not YAML/JSON, a document that is not a mapping or has no kind, an object
that cannot become a valid resource, two of the same kind and name, an unresolved reference) is an error:
exit code 2 and nothing written.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

from .bl_manifests import (
    BL_KINDS,
    BlDocument,
    Reference,
    is_bl_api_version,
    load_bl_documents,
    load_variables,
    restore,
    restore_all,
    sentinel_numbers,
)
from .common import (
    CliError,
    SecretKey,
    comment_block,
    note,
    secret_skeleton,
    to_yaml,
    warn,
    write_files,
    yaml_stream,
)
from .mapping import (
    MAPPINGS,
    MASK_RE,
    EnvMapper,
    KindMapping,
    Mapped,
    MappingError,
    SecretMapper,
    link_references,
    map_resource,
    relocate_fields,
    secret_ref,
)

SECRET_WHY = [
    "The `bl apply` manifest gave these secret values (or references that `bl` resolved when it ran,",
    "see each key); they are never copied into a manifest, so they come from this Secret.",
]


def mapping_for(doc: dict[str, Any]) -> KindMapping | None:
    kind = doc.get("kind")
    if not isinstance(kind, str) or not is_bl_api_version(doc.get("apiVersion")):
        return None
    return MAPPINGS.get(kind)


def skip_reason(doc: dict[str, Any], refs: list[Reference]) -> str:
    """Why a document without a mapping is skipped (ends with `; skipped`)."""
    kind = restore(str(doc.get("kind")), refs)
    api_version = doc.get("apiVersion")
    ours = {m.kind.kind for m in MAPPINGS.values()}
    if kind in ours:
        return f"already a {kind}; skipped"
    if not is_bl_api_version(api_version):
        bl_note = (
            f" (`bl apply` would take it for a Blaxel {kind}: it matches on kind alone)"
            if kind in BL_KINDS
            else ""
        )
        return f"{restore(str(api_version), refs)}/{kind} is not a Blaxel manifest{bl_note}; skipped"
    if kind in BL_KINDS:
        supported = ", ".join(sorted(MAPPINGS))
        return f"kind {kind} (known to `bl apply`) is not supported (only {supported}); skipped"
    near = [k for k in BL_KINDS if k.lower() == kind.lower()]
    hint = f"did you mean {near[0]}? " if near else ""
    return f"kind {kind} is not a kind `bl apply` knows ({hint}`bl` compares kinds exactly and ignores it); skipped"


def kept_references(doc: dict[str, Any], refs: list[Reference]) -> set[int]:
    """The references of `doc` that must stay references: those in env values that become secret envs
    (any secret reference in the value, or any reference in an env marked `secret: true`)."""
    mapping = mapping_for(doc)
    if mapping is None:
        return set()
    probe = copy.deepcopy(doc)
    relocate_fields(mapping, probe)  # where the envs will be once moved (warnings come later)
    kept: set[int] = set()
    for _, env in mapping.secrets.envs(probe.get("spec")):
        value = env.get("value")
        numbers = sentinel_numbers(value) if isinstance(value, str) else []
        if any(refs[n].secret for n in numbers) or (numbers and env.get("secret") is True):
            kept.update(numbers)
    for _, _, value in mapping.secrets.secret_values(probe.get("spec")):
        if isinstance(value, str):
            kept.update(sentinel_numbers(value))  # a secret map's values all come from the Secret
    return kept


def env_mapper_for(refs: list[Reference]) -> EnvMapper:
    """The env mapping of `convert`: kept references and masked secret values -> the resource's Secret."""

    def convert_env(
        env: dict[str, Any], path: str, secret_name: str
    ) -> tuple[dict[str, Any], SecretKey | None, list[str]]:
        name = str(env["name"])
        value = env.get("value")
        if not isinstance(value, str):
            return env, None, []
        used: list[Reference] = []
        for number in sentinel_numbers(value):
            if refs[number] not in used:
                used.append(refs[number])
        if used:
            written = restore(value, refs)
            sources = ", ".join(ref.describe() for ref in used)
            text = (
                f"{path} ({name}): {written!r} now comes from Secret {secret_name}, key {name} "
                f"(`bl apply` substituted {sources})"
            )
            if env.get("secret") is not True:
                text += "; it becomes a secret env on Blaxel (an env read from a Secret is secret)"
            return secret_ref(name, secret_name), SecretKey(name, f"was {written!r}: {sources}"), [text]
        if env.get("secret") is True and MASK_RE.match(value):
            return (
                secret_ref(name, secret_name),
                SecretKey(name, f"secret env {name} (masked in the input)"),
                [],
            )
        return env, None, []

    return convert_env


def secret_value_mapper_for(refs: list[Reference]) -> SecretMapper:
    """The secret values of `convert`: each comes from the resource's Secret; its comment in the skeleton
    says what the manifest held (the references as written, never a value)."""

    def convert_value(key: str, value: Any, path: str) -> tuple[SecretKey, list[str]]:
        text = value if isinstance(value, str) else ""
        used: list[Reference] = []
        for number in sentinel_numbers(text):
            if refs[number] not in used:
                used.append(refs[number])
        if used:
            written = restore(text, refs)
            sources = ", ".join(ref.describe() for ref in used)
            return SecretKey(key, f"was {written!r}: {sources}"), []
        if MASK_RE.match(text):
            return SecretKey(key, f"secret value {key} (masked in the input)"), []
        note_text = f"{path}: the value in the manifest is not copied; it comes from the Secret"
        return SecretKey(key, f"secret value {key} (written in the manifest, not copied)"), [note_text]

    return convert_value


def unresolved_error(ref: Reference) -> str:
    what = f"the secret {ref.name}" if ref.secret else f"the variable {ref.name}"
    default = f"${{{'secrets.' if ref.secret else ''}{ref.name}:VALUE}}"
    text = (
        f"{ref.text} cannot be resolved: {what} is not set in the environment or a .env file and has no "
        f"default (set it, give a default as {default}, or pass --keep-unresolved to keep it as written, as "
        "`bl apply` does)"
    )
    if ref.name[:1].isdigit():
        text += f"; `bl` has no escape for `$`: it reads {ref.text} as a variable"
    return text


def check_references(bl: BlDocument, keep_unresolved: bool) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the document's references outside secret envs; with `keep_unresolved`,
    unresolved ones are put back as written in `bl.doc`."""
    errors: list[str] = []
    warnings: list[str] = []
    unresolved: set[int] = set()
    for ref in bl.references():
        if ref.number in bl.kept:
            continue
        for path in bl.paths[ref.number]:
            if ref.value is None and keep_unresolved:
                unresolved.add(ref.number)
                warnings.append(f"{path}: {ref.text} is not resolved; kept as written, as `bl apply` does")
            elif ref.value is None:
                errors.append(f"{path}: {unresolved_error(ref)}")
            elif ref.secret:
                warnings.append(
                    f"{path}: {ref.text} substituted from {ref.origin}, as `bl apply` does: the secret's value is "
                    "now in the manifest in plain text (only env values can come from a Kubernetes Secret); keep "
                    "the output out of Git, or move the value into an env"
                )
    if unresolved:
        bl.doc = restore_all(bl.doc, bl.refs, unresolved)
    return errors, warnings


def run_convert(args: argparse.Namespace) -> int:
    variables, warnings = load_variables(getattr(args, "env_file", None))
    keep_unresolved = bool(getattr(args, "keep_unresolved", False))
    errors: list[str] = []
    notes: list[str] = [f"read variables from {path}" for path, _ in variables.files]
    converted: list[tuple[KindMapping, Mapped, str]] = []  # (mapping, mapped, where it came from)
    seen: dict[tuple[str, str], str] = {}
    documents = 0
    for bl in load_bl_documents(args.filename, args.recursive, variables, kept_references):
        documents += 1
        at = bl.where()
        kind = bl.doc.get("kind")
        if not isinstance(kind, str) or not kind:
            errors.append(f"{at}: kind: Required value: not a Kubernetes-style manifest")
            continue
        mapping = mapping_for(bl.doc)
        if mapping is None:
            warnings.append(f"{at}: {skip_reason(bl.doc, bl.refs)}")
            continue
        ref_errors, ref_warnings = check_references(bl, keep_unresolved)
        if ref_errors:
            errors.extend(f"{at}: {e}" for e in ref_errors)
            continue
        doc_warnings = ref_warnings + relocate_fields(mapping, bl.doc)
        try:
            mapped = map_resource(
                mapping,
                bl.doc,
                env_mapper=env_mapper_for(bl.refs),
                secret_mapper=secret_value_mapper_for(bl.refs),
                namespace=args.namespace,
                workspace=args.workspace,
                adopt=not args.no_adopt,
                deletion_policy=args.deletion_policy,
            )
        except MappingError as exc:
            errors.extend(f"{at}: {e}" for e in exc.errors)
            continue
        key = (mapping.kind.kind, mapped.name)
        if key in seen:
            errors.append(f"{at}: {mapping.bl_kind} {mapped.name} is already defined by {seen[key]}")
            continue
        seen[key] = at
        warnings.extend(f"{at}: {w}" for w in doc_warnings + mapped.warnings)
        notes.extend(f"{at}: {n}" for n in mapped.notes)
        converted.append((mapping, mapped, at))
    if errors:
        raise CliError("\n".join(errors))
    if documents == 0:
        raise CliError("no manifests found")
    where_of = {id(mapped): at for _, mapped, at in converted}
    for mapped, text in link_references([(mapping, mapped) for mapping, mapped, _ in converted]):
        notes.append(f"{where_of[id(mapped)]}: {text}")

    files, stream = render_outputs(converted, adopt=not args.no_adopt)
    for text in warnings:
        warn(text)
    for text in notes:
        note(text)
    if args.output:
        write_files(Path(args.output), files)
    elif stream:
        sys.stdout.write(yaml_stream(stream))
        sys.stdout.flush()
    if not converted:
        warn(f"no manifest of a kind that converts ({', '.join(sorted(MAPPINGS))}) found")
    print(summary(converted, documents, warnings, args.output), file=sys.stderr)
    return 0


def render_outputs(
    converted: list[tuple[KindMapping, Mapped, str]], *, adopt: bool
) -> tuple[dict[str, str], list[str]]:
    """(file name -> text, the documents in order) of the converted resources and their Secrets."""
    files: dict[str, str] = {}
    stream: list[str] = []
    order = list(MAPPINGS)  # referenced kinds first: `kubectl apply -f -` creates them first
    for mapping, mapped, at in sorted(converted, key=lambda c: order.index(c[0].bl_kind)):
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
            stream.append(skeleton)
        lines = [f"Converted by `blaxel-operator convert` from the `bl apply` manifest {at}."]
        if adopt:
            lines.append(
                f"Applying it adopts the existing {mapping.noun} (blaxel.ai/adoption-policy: adopt)."
            )
        if mapped.secret_keys:
            what = "Secret values" if mapping.secrets.secret_map else "Env values that `bl` resolved"
            lines.append(
                f"{what} come from Secret {mapped.secret_name} "
                f"({mapping.file_name(mapped.name, '.secret.yaml')})."
            )
        text = comment_block(lines + mapped.notes) + to_yaml(mapped.manifest)
        files[mapping.file_name(mapped.name)] = text
        stream.append(text)
    return files, stream


def summary(
    converted: list[tuple[KindMapping, Mapped, str]], documents: int, warnings: list[str], output: str | None
) -> str:
    counts = []
    for mapping in MAPPINGS.values():
        n = sum(1 for m, _, _ in converted if m.bl_kind == mapping.bl_kind)
        if n:
            counts.append(f"{n} {mapping.bl_kind if n == 1 else mapping.plural}")
    text = (
        f"converted {', '.join(counts) or 'nothing'} from {documents} document{'s' if documents != 1 else ''}"
    )
    if output:
        text += f" into {output}"
    extras = []
    with_secrets = sum(1 for _, m, _ in converted if m.secret_keys)
    if with_secrets:
        suffixes = sorted({f"<name>-{m.secret_suffix}" for m, one, _ in converted if one.secret_keys})
        extras.append(
            f"{with_secrets} with values from a Secret: fill in their {', '.join(suffixes)} Secrets"
        )
    skipped = sum(1 for w in warnings if w.endswith("; skipped"))
    if skipped:
        extras.append(f"{skipped} document{'s' if skipped != 1 else ''} skipped")
    if extras:
        text += "; " + ", ".join(extras)
    return text

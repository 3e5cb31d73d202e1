"""Shared by the tools: manifest input, YAML output, atomic writes, Blaxel credentials and progress."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from ..blaxel.client import BlaxelApi, Credentials
from ..cliargs import CliError, api_settings

# libyaml's loader and dumper when PyYAML has them (same documents, several times faster)
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# ---- input --------------------------------------------------------------------------------------------

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def iter_manifest_files(path: str, recursive: bool) -> Iterator[Path]:
    """`path` itself, or the manifest files of a directory (sorted; subdirectories with `recursive`)."""
    if path == "-":
        yield Path("-")
        return
    p = Path(path)
    if p.is_dir():
        pattern = "**/*" if recursive else "*"
        for f in sorted(p.glob(pattern)):
            if f.is_file() and f.suffix in MANIFEST_SUFFIXES:
                yield f
    elif p.is_file():
        yield p
    else:
        raise CliError(f"{path}: no such file or directory")


def read_source(f: Path) -> str:
    if str(f) == "-":
        return sys.stdin.read()
    try:
        return f.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{f}: not a UTF-8 text file") from None
    except OSError as exc:
        raise CliError(f"{f}: cannot read: {exc.strerror or exc}") from None


def load_documents(files: list[str], recursive: bool) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(file, document number from 1, document) of every non-empty YAML/JSON document; `kind: List` is
    flattened. Malformed input is a CliError naming the file (and document)."""
    for path in files:
        for f in iter_manifest_files(path, recursive):
            text = read_source(f)
            try:
                docs = list(yaml.load_all(text, Loader=YAML_LOADER))
            except yaml.YAMLError as exc:
                raise CliError(f"{f}: not valid YAML: {exc}") from None
            for index, doc in enumerate(docs):
                if doc is None:
                    continue
                if not isinstance(doc, dict):
                    raise CliError(f"{f}: document {index + 1} is not a mapping")
                if doc.get("kind") == "List":
                    items = doc.get("items") or []
                    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                        raise CliError(f"{f}: document {index + 1}: items of a List must be mappings")
                    for item in items:
                        yield str(f), index + 1, item
                else:
                    yield str(f), index + 1, doc


def where(source: str, index: int, doc: Mapping[str, Any] | None = None, *, item: int | None = None) -> str:
    """`FILE: document N (Kind NAME)`, or `FILE: document N item M (Kind NAME)` for an item of a list:
    how errors and warnings name a document."""
    text = f"{source}: document {index}"
    if item is not None:
        text += f" item {item}"
    if doc is not None:
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        if doc.get("kind") or name:
            text += f" ({doc.get('kind') or '?'} {name or '<no name>'})"
    return text


# ---- output -------------------------------------------------------------------------------------------


def to_yaml(obj: Any, *, sort_keys: bool = False) -> str:
    return yaml.dump(
        obj, Dumper=_Dumper, sort_keys=sort_keys, default_flow_style=False, allow_unicode=True, width=1000
    )


def comment_block(lines: list[str]) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


def yaml_stream(documents: list[str]) -> str:
    """Multi-document YAML from document texts (each may start with comments)."""
    return "".join(("---\n" if i else "") + text for i, text in enumerate(documents))


def write_files(directory: Path, files: Mapping[str, str]) -> None:
    """Write every file of `files` (name -> text) into `directory`, each atomically (temp file + rename).

    Called only once every output has been computed, so malformed input never leaves partial output.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"{directory}: cannot create the output directory: {exc.strerror or exc}") from None
    for name, text in files.items():
        target = directory / name
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise CliError(f"{target}: cannot write: {exc.strerror or exc}") from None


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


class Progress:
    """A plain carriage-return progress bar on stderr, drawn only when stderr is a terminal."""

    WIDTH = 30

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.label = label
        self.drawn = False
        self.width = 0

    def update(self, done: int, total: int | None = None, detail: str = "") -> None:
        if not self.enabled:
            return
        if total:
            filled = int(self.WIDTH * min(done, total) / total)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            text = f"{self.label} [{bar}] {done}/{total}"
        else:
            text = f"{self.label} {done}"
        if detail:
            text += f" {detail}"
        self.stream.write("\r" + text.ljust(self.width))  # spaces wipe a longer previous line
        self.stream.flush()
        self.width = len(text)
        self.drawn = True

    def done(self) -> None:
        if self.enabled and self.drawn:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.drawn = False


# ---- Blaxel credentials (no cluster: the flags of `cliargs.add_api_arguments` and the environment) ---


def credentials_from_args(args: argparse.Namespace) -> Credentials:
    if args.api_key_file:
        try:
            key = Path(args.api_key_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"--api-key-file {args.api_key_file}: cannot read: {exc}") from None
        if not key:
            raise CliError(f"--api-key-file {args.api_key_file}: the file is empty")
    else:
        key = os.environ.get("BL_API_KEY", "").strip()
        if not key:
            raise CliError("no Blaxel API key: set BL_API_KEY or pass --api-key-file PATH")
    return Credentials(key, args.workspace or None)


def make_api(args: argparse.Namespace) -> BlaxelApi:
    url, version = api_settings(args)
    return BlaxelApi(
        url, timeout=args.request_timeout, max_inflight=8, rate=args.rate_limit, burst=20, api_version=version
    )


@dataclass(frozen=True)
class SecretKey:
    """A key of a generated Secret skeleton and where its value must come from."""

    key: str
    origin: str


def secret_skeleton(
    name: str,
    namespace: str | None,
    resource: str,
    keys: list[SecretKey],
    why: list[str],
    *,
    noun: str = "agent",
) -> str:
    """A Secret manifest without values: its keys are commented out, so applying it as is sends nothing.

    A key with an empty value would be read by the operator and sent to Blaxel as the (empty) secret
    value; with the keys absent the operator waits (Ready=False, SecretNotFound) and writes nothing.
    """
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = {
        "app.kubernetes.io/managed-by": "blaxel-operator",
        f"blaxel.ai/{noun.replace(' ', '-')}": resource,
    }
    body = to_yaml({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque"})
    header = comment_block(
        [
            f"Secret values of Blaxel {noun} {resource!r}: {', '.join(k.key for k in keys)}.",
            *why,
            "Fill in every key (uncomment stringData below). Until all keys are present the operator",
            f"waits (Ready=False, reason SecretNotFound) and does not touch the {noun}; once they are, it",
            f"updates the {noun} once, with these values. Keep real values out of Git (create this Secret",
            "with kubectl, Sealed Secrets or External Secrets instead of committing it filled in).",
        ]
    )
    data = "# stringData:\n" + "".join(f'#   {k.key}: ""  # {k.origin}\n' for k in keys)
    return header + body + data

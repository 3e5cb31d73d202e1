"""Reading `bl apply` manifests the way Blaxel's `bl` CLI reads them (blaxel-ai/toolkit, cli/core/utils.go).

`bl apply` reads a file as text and substitutes references across the whole of it before parsing, in
two passes, then decodes the YAML documents and matches each on its `kind` alone (`apiVersion` is
never read):

1. variables: `$VAR` and `${VAR}` / `${VAR:default}` (regex `\\$([A-Za-z0-9_]+)|\\${([A-Za-z0-9_]+)(?::([^}]*))?}`),
   from the environment (set, even if empty), else from its secrets (`-s KEY=VALUE`, then the `-e` files,
   `.env` of the current directory by default; a non-empty value), else the default (non-empty; not
   trimmed); otherwise the reference is left as written.
2. secrets: `$secrets.X`, `$secrets.X:default`, `${secrets.X}`, `${secrets.X:default}` (one optional space
   inside the braces; the default is trimmed), resolved the same way (environment, then secrets, then
   default); `bl` prompts for the rest.

There is no escape: `$$VAR` is a `$` followed by `$VAR`. A bare `$secrets` (not followed by `.X`) is a
variable named `secrets`. The text of a reference's value is inserted as is, so a number stays a number
(`memory: ${MEMORY:2048}`). Comments are substituted too, which is harmless.

Here every reference is first replaced by a sentinel (a private-use character pair around its number) and
the file parsed once, so that the caller can see where each reference sits: references that the caller
keeps (secrets in env values, which become Secret references) stay sentinels, unresolved ones too, and
the others are substituted textually, like `bl` does, before the final parse. Parse errors never quote
the text (it may hold substituted secret values).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .common import YAML_LOADER, CliError, iter_manifest_files, read_source, where

# API groups of `bl` manifests: Blaxel's, its short form, and Beamlit's (Blaxel's former name).
BL_API_GROUPS = frozenset({"blaxel.ai", "blaxel", "beamlit.com"})
# The kinds `bl apply` knows (cli/core/config.go); it compares them exactly, case included.
BL_KINDS = (
    "Agent",
    "Function",
    "Model",
    "Job",
    "Policy",
    "Volume",
    "IntegrationConnection",
    "Sandbox",
    "Application",
    "VolumeTemplate",
    "Image",
    "Drive",
    "Preview",
    "PreviewToken",
)
# The fields of a document that `bl` decodes (its Result struct); it drops anything else at the top level.
BL_TOP_LEVEL = ("apiVersion", "kind", "metadata", "spec", "status")

VARIABLE_RE = re.compile(r"\$([A-Za-z0-9_]+)|\$\{([A-Za-z0-9_]+)(?::([^}]*))?\}")
SECRET_RE = re.compile(
    r"\$secrets\.([A-Za-z0-9_]+)(?::([^\s}]*))?|\$\{\s?secrets\.([A-Za-z0-9_]+)(?::([^}]*))?\s?\}", re.ASCII
)
SENTINEL_RE = re.compile("\ue000([0-9]+)\ue001")


def is_bl_api_version(api_version: Any) -> bool:
    """No apiVersion (`bl` ignores it) or one of a Blaxel group, whatever the version."""
    if api_version is None:
        return True
    return isinstance(api_version, str) and api_version.split("/", 1)[0] in BL_API_GROUPS


# ---- .env files (github.com/joho/godotenv, as `bl` reads them) ---------------------------------------

_DOTENV_SPACE = "\t\v\f\r \x85\xa0"
_DOTENV_EXPAND_RE = re.compile(r"(\\)?(\$)(\()?\{?([A-Z0-9_]+)?\}?")


def _dotenv_expand(value: str, known: Mapping[str, str]) -> str:
    def replace(m: re.Match[str]) -> str:
        if m.group(1) or m.group(3):
            return m.group(0)[1:]
        if m.group(4):
            return known.get(m.group(4), os.environ.get(m.group(4), ""))
        return m.group(0)

    return _DOTENV_EXPAND_RE.sub(replace, value)


def _dotenv_unescape(value: str) -> str:
    value = re.sub(r"\\.", lambda m: {"\\n": "\n", "\\r": "\r"}.get(m.group(0), m.group(0)), value)
    return re.sub(r"\\([^$])", r"\1", value)


def parse_dotenv(text: str) -> dict[str, str]:
    """KEY=VALUE lines (also `export KEY=VALUE` and `KEY: VALUE`), `#` comments, single quotes (literal),
    double quotes (\\n escapes, multi-line) and `$VAR` / `${VAR}` expansion; raises ValueError."""
    text = text.replace("---\n", "\n").replace("\r\n", "\n")
    values: dict[str, str] = {}
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return values
        if text[pos] == "#":
            end = text.find("\n", pos)
            if end < 0:
                return values
            pos = end
            continue
        if text.startswith("export", pos) and pos + 6 < len(text) and text[pos + 6] in _DOTENV_SPACE:
            pos += 6
            while text[pos] in _DOTENV_SPACE:
                pos += 1
        start = pos
        while pos < len(text) and text[pos] not in "=:":
            ch = text[pos]
            if not (ch in _DOTENV_SPACE or ch.isalnum() or ch in "_."):
                line = text.count("\n", 0, pos) + 1
                raise ValueError(f"line {line}: unexpected character {ch!r} in a variable name")
            pos += 1
        if pos >= len(text):
            line = text.count("\n", 0, start) + 1
            raise ValueError(f"line {line}: a variable without '=' or ':'")
        key = text[start:pos].strip(_DOTENV_SPACE)
        pos += 1
        while pos < len(text) and text[pos] in _DOTENV_SPACE:
            pos += 1
        quote = text[pos] if pos < len(text) and text[pos] in "'\"" else ""
        if not quote:
            end = len(text)
            for stop in ("\n", "\r"):
                found = text.find(stop, pos)
                if found >= 0:
                    end = min(end, found)
            line_text = text[pos:end]
            for i in range(len(line_text) - 1, 0, -1):  # the last ` #` starts a comment
                if line_text[i] == "#" and line_text[i - 1] in _DOTENV_SPACE:
                    line_text = line_text[:i]
                    break
            values[key] = _dotenv_expand(line_text.strip(_DOTENV_SPACE), values)
            pos = end
            continue
        end = pos + 1
        while end < len(text) and (text[end] != quote or text[end - 1] == "\\"):
            end += 1
        if end >= len(text):
            line = text.count("\n", 0, pos) + 1
            raise ValueError(f"line {line}: unterminated quoted value")
        value = text[pos:end].strip(quote)
        if quote == '"':
            value = _dotenv_expand(_dotenv_unescape(value), values)
        values[key] = value
        pos = end + 1


def read_dotenv(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return parse_dotenv(text)
    except ValueError as exc:
        raise CliError(f"{path}: not a valid .env file: {exc}") from None


# ---- references -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variables:
    """Where `bl apply` looks a reference up: the environment, then its secrets (the .env files, in
    order), then the reference's default."""

    environ: Mapping[str, str]
    files: tuple[tuple[str, Mapping[str, str]], ...] = ()

    def lookup(self, name: str, default: str) -> tuple[str, str] | None:
        """(value, where it came from), or None."""
        if name in self.environ:
            return self.environ[name], "the environment"
        for path, values in self.files:
            if name in values:  # `bl` takes the first secret of that name, and only a non-empty value
                if values[name]:
                    return values[name], path
                break
        if default:
            return default, "its default"
        return None


@dataclass(frozen=True)
class Reference:
    """One reference of a file: `${VAR...}` / `$VAR` or `${secrets.X...}` / `$secrets.X...`."""

    number: int
    secret: bool
    name: str
    default: str  # "" when none (`bl` ignores an empty default)
    text: str  # as written
    value: str | None  # None: nothing resolves it
    origin: str | None  # where the value came from

    @property
    def sentinel(self) -> str:
        return f"\ue000{self.number}\ue001"

    def describe(self) -> str:
        default = f", default {self.default!r}" if self.default else ""
        if self.secret:
            return f"the secret {self.name} of `bl` (-s, its .env file or the environment{default})"
        return f"the variable {self.name} of `bl apply`'s environment or .env file{default}"


def tokenize(text: str, variables: Variables) -> tuple[str, list[Reference]]:
    """`text` with every reference replaced by its sentinel, and the references (indexed by number)."""
    refs: list[Reference] = []

    def add(secret: bool, name: str, default: str, written: str) -> str:
        found = variables.lookup(name, default)
        value, origin = found if found is not None else (None, None)
        ref = Reference(len(refs), secret, name, default, written, value, origin)
        refs.append(ref)
        return ref.sentinel

    def variable(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        default = m.group(3) or ""
        if m.group(1) == "secrets" and m.string[m.end() : m.end() + 1] == ".":
            if variables.lookup(name, default) is None:
                return m.group(0)  # `$secrets.X`: left to the secrets pass, as in `bl`
        return add(False, name, default, m.group(0))

    def secret(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        raw_default = (m.group(2) if m.group(1) else m.group(4)) or ""
        # `bl` substituted variables first: a default holding one sees its value
        default = SENTINEL_RE.sub(lambda s: _substituted(refs[int(s.group(1))]), raw_default).strip()
        return add(True, name, default, restore(m.group(0), refs))

    text = VARIABLE_RE.sub(variable, text)
    return SECRET_RE.sub(secret, text), refs


def _substituted(ref: Reference) -> str:
    return ref.value if ref.value is not None else ref.text


def restore(text: str, refs: list[Reference]) -> str:
    """`text` with its sentinels back to the references as written (for messages and comments)."""
    return SENTINEL_RE.sub(lambda m: refs[int(m.group(1))].text, text)


def restore_all(value: Any, refs: list[Reference], numbers: set[int] | None = None) -> Any:
    """A copy of `value` (keys too) with sentinels (only those of `numbers`, if given) restored."""

    def one(text: str) -> str:
        return SENTINEL_RE.sub(
            lambda m: (
                refs[int(m.group(1))].text if numbers is None or int(m.group(1)) in numbers else m.group(0)
            ),
            text,
        )

    if isinstance(value, str):
        return one(value)
    if isinstance(value, dict):
        return {
            (one(k) if isinstance(k, str) else k): restore_all(v, refs, numbers) for k, v in value.items()
        }
    if isinstance(value, list):
        return [restore_all(v, refs, numbers) for v in value]
    return value


def sentinel_numbers(text: str) -> list[int]:
    return [int(n) for n in SENTINEL_RE.findall(text)]


def reference_paths(value: Any, path: str = "") -> dict[int, list[str]]:
    """Reference number -> the fields (as `spec.runtime.envs[0].value`) holding it in `value`."""
    found: dict[int, list[str]] = {}

    def walk(v: Any, p: str) -> None:
        if isinstance(v, str):
            for n in sentinel_numbers(v):
                found.setdefault(n, []).append(p or "(document)")
        elif isinstance(v, dict):
            for k, item in v.items():
                child = f"{p}.{k}" if p else str(k)
                if isinstance(k, str):
                    for n in sentinel_numbers(k):
                        found.setdefault(n, []).append(f"{child} (the key)")
                walk(item, child)
        elif isinstance(v, list):
            for i, item in enumerate(v):
                walk(item, f"{p}[{i}]")

    walk(value, path)
    return found


# ---- files and documents ----------------------------------------------------------------------------


@dataclass
class BlDocument:
    """One manifest of a `bl apply` input, after substitution."""

    source: str
    index: int  # document number in the file, from 1
    item: int | None  # item number in a list (JSON array, `kind: List`), from 1
    doc: dict[str, Any]  # sentinels remain for kept and unresolved references
    refs: list[Reference]  # the file's references (sentinel numbers index them)
    paths: dict[int, list[str]] = field(default_factory=dict)  # reference -> fields, as written
    kept: set[int] = field(default_factory=set)

    def where(self) -> str:
        head: dict[str, Any] = {"kind": self.doc.get("kind")}
        meta = self.doc.get("metadata")
        if isinstance(meta, dict):
            head["metadata"] = {"name": meta.get("name")}
        return where(self.source, self.index, restore_all(head, self.refs), item=self.item)

    def references(self) -> list[Reference]:
        return [self.refs[n] for n in sorted(self.paths)]


# (a document as first parsed, sentinels in place; the file's references) -> references to keep
Keep = Callable[[dict[str, Any], list[Reference]], set[int]]


def _problem(exc: Exception) -> str:
    """A parse error without the text it quotes (which may hold substituted secret values)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.context, exc.problem) if p]
        mark = exc.problem_mark or exc.context_mark
        text = ", ".join(parts) or "syntax error"
        if mark is not None:
            text += f" (line {mark.line + 1}, column {mark.column + 1})"
        return text
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def parse_text(source: str, text: str, after: str = "") -> list[tuple[int, int | None, dict[str, Any]]]:
    """(document number, item number, manifest) of a YAML or JSON text; CliError when malformed."""
    docs: list[Any]
    if text.lstrip()[:1] in ("{", "["):
        try:
            docs = [json.loads(text)]
        except json.JSONDecodeError as exc:
            try:  # a YAML flow mapping, or JSON with an unquoted reference
                docs = list(yaml.load_all(text, Loader=YAML_LOADER))
            except yaml.YAMLError:
                raise CliError(f"{source}: not valid JSON{after}: {_problem(exc)}") from None
    else:
        try:
            docs = list(yaml.load_all(text, Loader=YAML_LOADER))
        except yaml.YAMLError as exc:
            raise CliError(f"{source}: not valid YAML{after}: {_problem(exc)}") from None
    out: list[tuple[int, int | None, dict[str, Any]]] = []
    for index, doc in enumerate(docs, 1):
        if doc is None:
            continue
        items: list[Any] | None = None
        if isinstance(doc, list):
            items = doc  # `bl get ... -o json` prints a JSON array
            strays = [n for n, item in enumerate(items, 1) if not isinstance(item, dict)]
            if strays:
                raise CliError(
                    f"{source}: document {index} is not a mapping (nor a list of manifests: item {strays[0]} "
                    "is not a mapping)"
                )
        elif isinstance(doc, dict) and doc.get("kind") == "List":
            items = doc.get("items") or []
            if not isinstance(items, list):
                raise CliError(f"{source}: document {index}: items of a List must be a list of mappings")
        elif isinstance(doc, dict):
            out.append((index, None, doc))
            continue
        else:
            raise CliError(f"{source}: document {index} is not a mapping (nor a list of manifests)")
        for number, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise CliError(f"{source}: document {index}: item {number} is not a mapping")
            out.append((index, number, item))
    return out


def read_bl_text(source: str, text: str, variables: Variables, keep: Keep) -> list[BlDocument]:
    """The manifests of one file, substituted like `bl apply` substitutes them."""
    tokenized, refs = tokenize(text, variables)
    first = parse_text(source, tokenized)
    kept: set[int] = set()
    for _, _, doc in first:
        kept |= keep(doc, refs)

    def substitute(m: re.Match[str]) -> str:
        ref = refs[int(m.group(1))]
        return m.group(0) if ref.number in kept or ref.value is None else ref.value

    final_text = SENTINEL_RE.sub(substitute, tokenized)
    final = (
        first
        if final_text == tokenized
        else parse_text(source, final_text, " once variables are substituted")
    )
    if [(i, j) for i, j, _ in final] != [(i, j) for i, j, _ in first]:
        raise CliError(
            f"{source}: substituting variables changes the documents of the file (a value holds a line "
            "break, `---` or list items?); substitute them yourself and convert the result"
        )
    docs: list[BlDocument] = []
    for (index, item, before), (_, _, after) in zip(first, final, strict=True):
        paths = {n: [restore(p, refs) for p in found] for n, found in reference_paths(before).items()}
        docs.append(BlDocument(source, index, item, after, refs, paths, kept & set(paths)))
    return docs


def load_bl_documents(
    files: list[str], recursive: bool, variables: Variables, keep: Keep
) -> Iterator[BlDocument]:
    for path in files:
        for f in iter_manifest_files(path, recursive):
            yield from read_bl_text(str(f), read_source(f), variables, keep)


def load_variables(
    env_files: list[str] | None, environ: Mapping[str, str] | None = None
) -> tuple[Variables, list[str]]:
    """The environment and the .env files: those given, or else `.env` of the current directory when it
    exists (the default of `bl apply -e`); and warnings. A given file that cannot be read is an error; the
    implicit `.env` is skipped with a warning instead, as `bl` skips it."""
    files: list[tuple[str, Mapping[str, str]]] = []
    warnings: list[str] = []
    if env_files:
        files = [(p, read_dotenv(Path(p))) for p in env_files]
    elif Path(".env").is_file():
        try:
            files = [(".env", read_dotenv(Path(".env")))]
        except CliError as exc:
            warnings.append(f"{exc}; ignored, as `bl apply` ignores it (pass --env-file to require it)")
    return Variables(dict(os.environ if environ is None else environ), tuple(files)), warnings

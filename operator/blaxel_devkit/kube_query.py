"""Label selectors, field selectors, kubectl-style JSONPath and Table helpers of the Kubernetes test bed."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from blaxel_operator.k8snames import LABEL_KEY, LABEL_VALUE


class SelectorError(ValueError):
    pass


# ------------------------------------------------------------------------------------------------------
# Label selectors (k8s.io/apimachinery/pkg/labels)
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("gt", "lt"):
            try:
                actual = int(str(value))
                bound = int(self.values[0])
            except (TypeError, ValueError):
                return False
            return present and (actual > bound if self.op == "gt" else actual < bound)
        return False


_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|>|<|[^\s(),!=<>]+)")


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1`."""
    if not text or not text.strip():
        return []
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip() == "":
                break
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos} in {text!r}")
        tokens.append(match.group(1))
        pos = match.end()
        if text[pos:].strip() == "":
            break
    requirements: list[Requirement] = []
    i = 0

    def expect_key(tok: str) -> str:
        if not LABEL_KEY.match(tok) or len(tok.split("/")[-1]) > 63:
            raise SelectorError(
                f"unable to parse requirement: invalid label key {tok!r}: name part must consist of alphanumeric "
                "characters, '-', '_' or '.', and must start and end with an alphanumeric character"
            )
        return tok

    def check_value(tok: str) -> str:
        if len(tok) > 63 or not LABEL_VALUE.match(tok):
            raise SelectorError(
                f"unable to parse requirement: invalid label value: {tok!r}: a valid label must be an empty string "
                "or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character"
            )
        return tok

    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            if i + 1 >= len(tokens):
                raise SelectorError("unable to parse requirement: found '', expected: identifier")
            requirements.append(Requirement(expect_key(tokens[i + 1]), "!"))
            i += 2
        else:
            key = expect_key(tok)
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ","
            if nxt == ",":
                requirements.append(Requirement(key, "exists"))
                i += 1
            elif nxt in ("=", "==", "!="):
                value = tokens[i + 2] if i + 2 < len(tokens) and tokens[i + 2] != "," else ""
                requirements.append(Requirement(key, "!=" if nxt == "!=" else "=", (check_value(value),)))
                i += 3 if value else 2
            elif nxt in (">", "<"):
                if i + 2 >= len(tokens):
                    raise SelectorError("unable to parse requirement: found '', expected: integer")
                try:
                    int(tokens[i + 2])
                except ValueError:
                    raise SelectorError(
                        f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: "
                        f"{tokens[i + 2]}"
                    ) from None
                requirements.append(Requirement(key, "gt" if nxt == ">" else "lt", (tokens[i + 2],)))
                i += 3
            elif nxt in ("in", "notin"):
                if i + 2 >= len(tokens) or tokens[i + 2] != "(":
                    raise SelectorError(f"unable to parse requirement: found '{nxt}', expected: '('")
                j = i + 3
                values: list[str] = []
                while j < len(tokens) and tokens[j] != ")":
                    if tokens[j] != ",":
                        values.append(check_value(tokens[j]))
                    j += 1
                if j >= len(tokens):
                    raise SelectorError("unable to parse requirement: found '', expected: ')'")
                requirements.append(Requirement(key, nxt, tuple(values)))
                i = j + 1
            else:
                raise SelectorError(
                    f"unable to parse requirement: found '{nxt}', expected: ',' or 'end of string'"
                )
        if i < len(tokens):
            if tokens[i] != ",":
                raise SelectorError(
                    f"unable to parse requirement: found '{tokens[i]}', expected: ',' or 'end of string'"
                )
            i += 1
    return requirements


def labels_match(requirements: list[Requirement], obj: Mapping[str, Any]) -> bool:
    if not requirements:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(req.matches(labels) for req in requirements)


# ------------------------------------------------------------------------------------------------------
# Field selectors (k8s.io/apimachinery/pkg/fields)
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(text: str | None) -> list[FieldRequirement]:
    if not text or not text.strip():
        return []
    result: list[FieldRequirement] = []
    for term in _split_unescaped(text, ","):
        term = term.strip()
        if not term:
            continue
        for op in ("!=", "==", "="):
            if op in term:
                field, _, value = term.partition(op)
                result.append(FieldRequirement(field.strip(), _unescape(value.strip()), op == "!="))
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
    return result


def fields_match(requirements: list[FieldRequirement], values: Mapping[str, str]) -> bool:
    for req in requirements:
        actual = values.get(req.field, "")
        if (actual == req.value) == req.negate:
            return False
    return True


# ------------------------------------------------------------------------------------------------------
# JSONPath (the k8s.io/client-go/util/jsonpath subset used by printer columns and selectable fields)
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    kind: str  # "field", "index", "slice", "wildcard", "filter", "recursive"
    arg: Any = None


_FILTER = re.compile(r"^\?\(\s*@((?:\.[^\s=!<>]+)*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*\)$")


def _parse_literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _parse_path(path: str) -> list[_Step]:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[_Step] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == ".":
            if i + 1 < n and text[i + 1] == ".":
                steps.append(_Step("recursive"))
                i += 2
                continue
            i += 1
            start = i
            name: list[str] = []
            while i < n and text[i] not in ".[":
                if text[i] == "\\" and i + 1 < n:
                    name.append(text[i + 1])
                    i += 2
                    continue
                name.append(text[i])
                i += 1
            token = "".join(name)
            if token == "*":
                steps.append(_Step("wildcard"))
            elif token or i > start:
                steps.append(_Step("field", token))
        elif ch == "[":
            depth = 0
            j = i
            while j < n:
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            inner = text[i + 1 : j].strip()
            i = j + 1
            if inner == "*":
                steps.append(_Step("wildcard"))
            elif inner.startswith("?"):
                match = _FILTER.match(inner)
                if match is None:
                    raise SelectorError(f"unrecognized filter: {inner}")
                sub = [s.arg for s in _parse_path(match.group(1) or "") if s.kind == "field"]
                literal = _parse_literal(match.group(3)) if match.group(2) else None
                steps.append(_Step("filter", (tuple(sub), match.group(2), literal)))
            elif len(inner) >= 2 and inner[0] in "'\"" and inner[-1] == inner[0]:
                steps.append(_Step("field", inner[1:-1]))
            elif ":" in inner:
                start_s, _, end_s = inner.partition(":")
                steps.append(
                    _Step("slice", (int(start_s) if start_s else None, int(end_s) if end_s else None))
                )
            else:
                try:
                    steps.append(_Step("index", int(inner)))
                except ValueError:
                    steps.append(_Step("field", inner))
        else:
            start = i
            while i < n and text[i] not in ".[":
                i += 1
            steps.append(_Step("field", text[start:i]))
    return steps


_PATH_CACHE: dict[str, list[_Step]] = {}


def _lookup(node: Any, keys: tuple[str, ...]) -> tuple[bool, Any]:
    for key in keys:
        if isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return False, None
    return True, node


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "==":
        return bool(
            actual == expected or (isinstance(actual, str | int | float) and str(actual) == str(expected))
        )
    if op == "!=":
        return not _compare(actual, "==", expected)
    try:
        a = float(actual)
        b = float(expected)
    except (TypeError, ValueError):
        return False
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}.get(op, False)


def _recursive(node: Any) -> list[Any]:
    out = [node]
    if isinstance(node, dict):
        for value in node.values():
            out.extend(_recursive(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_recursive(value))
    return out


def jsonpath(obj: Any, path: str) -> list[Any]:
    """All results of a kubectl JSONPath expression (missing keys give no result, never an error)."""
    steps = _PATH_CACHE.get(path)
    if steps is None:
        steps = _parse_path(path)
        _PATH_CACHE[path] = steps
    nodes = [obj]
    for step in steps:
        out: list[Any] = []
        for node in nodes:
            if step.kind == "field":
                if isinstance(node, dict) and step.arg in node:
                    out.append(node[step.arg])
            elif step.kind == "index":
                if isinstance(node, list) and -len(node) <= step.arg < len(node):
                    out.append(node[step.arg])
            elif step.kind == "slice":
                if isinstance(node, list):
                    out.extend(node[step.arg[0] : step.arg[1]])
            elif step.kind == "wildcard":
                if isinstance(node, list):
                    out.extend(node)
                elif isinstance(node, dict):
                    out.extend(node.values())
            elif step.kind == "recursive":
                out.extend(_recursive(node))
            elif step.kind == "filter":
                keys, op, literal = step.arg
                candidates = node if isinstance(node, list) else []
                for item in candidates:
                    found, value = _lookup(item, keys)
                    if op is None:
                        if found:
                            out.append(item)
                    elif found and _compare(value, op, literal):
                        out.append(item)
        nodes = out
    return nodes


def print_value(value: Any) -> str:
    """How kubectl's jsonpath printer renders a value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


# ------------------------------------------------------------------------------------------------------
# Tables (meta.k8s.io/v1 Table)
# ------------------------------------------------------------------------------------------------------

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended for "
    "creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It "
    "is represented in RFC3339 form and is in UTC."
)


def parse_time(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: Any, now: datetime.datetime | None = None) -> str:
    if not isinstance(timestamp, str):
        return "<unknown>"
    when = parse_time(timestamp)
    if when is None:
        return "<invalid>"
    now = now or datetime.datetime.now(datetime.UTC)
    return human_duration((now - when).total_seconds())


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    json_path: str = ""
    description: str = ""
    priority: int = 0
    format: str = ""
    # for built-in types: a function of the object giving the cell
    func: Callable[[dict[str, Any]], Any] | None = None

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }

    def cell(self, obj: dict[str, Any]) -> Any:
        if self.func is not None:
            return self.func(obj)
        results = jsonpath(obj, self.json_path)
        if not results:
            return None
        value = results[0]
        if value is None:
            return None
        if self.type == "string":
            return print_value(value)
        if self.type == "integer":
            return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        if self.type == "number":
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        if self.type == "boolean":
            return value if isinstance(value, bool) else None
        if self.type == "date":
            return age(value) if isinstance(value, str) else None
        return None


NAME_COLUMN = Column(
    "Name", "string", format="name", description=NAME_DESCRIPTION, func=lambda o: o["metadata"]["name"]
)


def age_column(name: str = "Age") -> Column:
    return Column(
        name, "date", description=AGE_DESCRIPTION, func=lambda o: age(o["metadata"].get("creationTimestamp"))
    )


def crd_columns(printer_columns: list[dict[str, Any]] | None) -> list[Column]:
    columns = [NAME_COLUMN]
    specs = printer_columns or [
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    for spec in specs:
        path = str(spec.get("jsonPath", ""))
        columns.append(
            Column(
                name=str(spec.get("name", "")),
                type=str(spec.get("type", "string")),
                json_path=path,
                description=str(
                    spec.get("description")
                    or f"Custom resource definition column (in JSONPath format): {path}"
                ),
                priority=int(spec.get("priority", 0) or 0),
                format=str(spec.get("format", "") or ""),
            )
        )
    return columns


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def table(
    columns: list[Column],
    objects: list[dict[str, Any]],
    *,
    resource_version: str,
    include_object: str = "Metadata",
    with_definitions: bool = True,
    continue_token: str = "",
    remaining: int | None = None,
) -> dict[str, Any]:
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [col.cell(obj) for col in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [col.definition() for col in columns] if with_definitions else None,
        "rows": rows,
    }

"""Patch formats of the Kubernetes API test bed.

JSON merge patch (RFC 7386), JSON patch (RFC 6902, with the error texts of evanphx/json-patch that
kube-apiserver returns), an approximation of strategic merge patch for the built-in types we serve, and the
simple merge used for server-side apply.
"""

from __future__ import annotations

from typing import Any

from blaxel_operator.crdschema import deep_copy


class PatchError(Exception):
    """A patch that cannot be applied: `status` is 422 (does not apply) or 400 (malformed)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = merge_patch(result.get(key), value)
        else:
            result[key] = deep_copy(value)
    return result


# ------------------------------------------------------------------------------------------------------
# RFC 6902
# ------------------------------------------------------------------------------------------------------


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchError(f"path is not a string: {path!r}")
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'add operation does not apply: doc is missing path: "{path}": missing value')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], token: str, path: str, op: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index > limit:
        raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return index


def _parent(doc: Any, parts: list[str], path: str, op: str) -> Any:
    node = doc
    for token in parts[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    if not isinstance(node, dict | list):
        raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return node


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    node = doc
    for token in parts:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise PatchError(f"{op} operation does not apply: doc is missing key: {path}: missing value")
    return node


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    parts = _pointer(path)
    if not parts:
        return deep_copy(value)
    parent = _parent(doc, parts, path, op)
    token = parts[-1]
    if isinstance(parent, dict):
        parent[token] = deep_copy(value)
    else:
        parent.insert(_index(parent, token, path, op, allow_end=True), deep_copy(value))
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise PatchError(f"{op} operation does not apply: doc is missing key: {path}: missing value")
    parent = _parent(doc, parts, path, op)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing key: {path}: missing value")
        return doc, parent.pop(token)
    index = _index(parent, token, path, op, allow_end=False)
    return doc, parent.pop(index)


def json_patch(doc: Any, operations: Any) -> Any:
    """Apply an RFC 6902 patch to a copy of `doc`; raises PatchError (422 when it does not apply)."""
    if not isinstance(operations, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", status=400)
    result = deep_copy(doc)
    for operation in operations:
        if not isinstance(operation, dict):
            raise PatchError("json: cannot unmarshal into Go value of type jsonpatch.Operation", status=400)
        op = operation.get("op")
        path = operation.get("path")
        if op == "add":
            if "value" not in operation:
                raise PatchError("add operation does not apply: value is missing")
            result = _add(result, str(path), operation["value"])
        elif op == "remove":
            result, _ = _remove(result, str(path))
        elif op == "replace":
            if "value" not in operation:
                raise PatchError("replace operation does not apply: value is missing")
            parts = _pointer(path)
            if parts:
                _get(result, str(path), "replace")
                result, _ = _remove(result, str(path), "replace")
            result = _add(result, str(path), operation["value"], "replace")
        elif op == "move":
            source = operation.get("from")
            result, value = _remove(result, str(source), "move")
            result = _add(result, str(path), value, "move")
        elif op == "copy":
            source = operation.get("from")
            value = _get(result, str(source), "copy")
            result = _add(result, str(path), value, "copy")
        elif op == "test":
            expected = operation.get("value")
            try:
                actual = _get(result, str(path), "test")
            except PatchError:
                if expected is None:
                    continue
                raise PatchError(f"testing value {path} failed: test failed") from None
            if actual != expected or (type(actual) is not type(expected) and not _numbers(actual, expected)):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {op}")
    return result


def _numbers(a: Any, b: Any) -> bool:
    numeric = isinstance(a, int | float) and isinstance(b, int | float)
    return numeric and not isinstance(a, bool) and not isinstance(b, bool) and a == b


# ------------------------------------------------------------------------------------------------------
# Strategic merge patch (an approximation for the built-in types served by the test bed)
# ------------------------------------------------------------------------------------------------------

# path (dotted, lists as `[]`) -> the merge key of a list of maps, or "" for a merged list of primitives
STRATEGIC_LISTS: dict[str, str] = {
    "metadata.finalizers": "",
    "metadata.ownerReferences": "uid",
    "spec.finalizers": "",
}


def strategic_merge_patch(target: Any, patch: Any, path: str = "") -> Any:
    """Strategic merge: dicts merge, known lists merge by key, directives `$patch`, `$retainKeys`,
    `$deleteFromPrimitiveList/<f>` and `$setElementOrder/<f>` are honoured; other lists replace."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: deep_copy(v) for k, v in patch.items() if k != "$patch"}
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list) and isinstance(value, list):
                result[name] = [v for v in result[name] if v not in value]
            continue
        child = f"{path}.{key}" if path else key
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value, child)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and child in STRATEGIC_LISTS and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, STRATEGIC_LISTS[child])
        else:
            result[key] = deep_copy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    result = [deep_copy(v) for v in current]
    if not key:
        for value in patch:
            if value not in result:
                result.append(deep_copy(value))
        return result
    for item in patch:
        if not isinstance(item, dict):
            continue
        match = next(
            (i for i, v in enumerate(result) if isinstance(v, dict) and v.get(key) == item.get(key)), None
        )
        if item.get("$patch") == "delete":
            if match is not None:
                result.pop(match)
        elif match is None:
            result.append({k: deep_copy(v) for k, v in item.items() if k != "$patch"})
        else:
            result[match] = strategic_merge_patch(result[match], item)
    return result


# ------------------------------------------------------------------------------------------------------
# Server-side apply (a simple merge: no managed fields, no field ownership, no conflicts)
# ------------------------------------------------------------------------------------------------------


def apply_merge(target: Any, applied: Any, schema: dict[str, Any] | None = None) -> Any:
    """Merge an applied configuration: maps merge, list-type=map lists merge by keys, others replace."""
    if not isinstance(applied, dict) or not isinstance(target, dict):
        return deep_copy(applied)
    result = dict(target)
    props = (schema or {}).get("properties") if isinstance(schema, dict) else None
    props = props if isinstance(props, dict) else {}
    extra = (schema or {}).get("additionalProperties") if isinstance(schema, dict) else None
    for key, value in applied.items():
        sub = props.get(key) if key in props else (extra if isinstance(extra, dict) else None)
        keys = sub.get("x-kubernetes-list-map-keys") if isinstance(sub, dict) else None
        if (
            isinstance(value, list)
            and isinstance(result.get(key), list)
            and isinstance(sub, dict)
            and sub.get("x-kubernetes-list-type") == "map"
            and isinstance(keys, list)
        ):
            merged = [deep_copy(v) for v in result[key]]
            for item in value:
                ident = [item.get(k) for k in keys] if isinstance(item, dict) else None
                pos = next(
                    (
                        i
                        for i, v in enumerate(merged)
                        if isinstance(v, dict) and ident is not None and [v.get(k) for k in keys] == ident
                    ),
                    None,
                )
                items_schema = sub.get("items") if isinstance(sub.get("items"), dict) else None
                if pos is None:
                    merged.append(deep_copy(item))
                else:
                    merged[pos] = apply_merge(merged[pos], item, items_schema)
            result[key] = merged
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = apply_merge(result[key], value, sub)
        else:
            result[key] = deep_copy(value)
    return result

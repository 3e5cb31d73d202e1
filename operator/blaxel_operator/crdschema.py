"""CRD structural schemas: pruning, defaulting, validation and CEL, as kube-apiserver applies them.

It mimics what kube-apiserver (apiextensions-apiserver) does with a CRD's `openAPIV3Schema` when a custom
resource is written: unknown fields are pruned, `default`s are applied, the object is validated against the
schema (types, enums, required, pattern, bounds, lengths, item/property counts, formats, list types) and
the `x-kubernetes-validations` CEL rules (including transition rules with `oldSelf`), with validation
ratcheting on updates (errors of unchanged values are ignored), and the errors are rendered like the
apiserver's `field.Error`s (`spec.x: Unsupported value: "a": supported values: "b", "c"`).

`blaxel-operator render` validates manifests with it; the development test bed (`blaxel_devkit`) serves
custom resources with it, so the tests prove it against the apiserver's behaviour. cel-python is imported
only when a CEL rule is compiled or evaluated: the operator itself (`blaxel-operator run`) never loads it.
"""

from __future__ import annotations

import base64
import binascii
import collections
import functools
import ipaddress
import itertools
import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import celpy

# Fields of metav1.ObjectMeta: the root `metadata` of a custom resource is pruned to these.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)

# Error types of k8s.io/apimachinery/pkg/util/validation/field: (cause reason, rendered prefix).
REQUIRED = ("FieldValueRequired", "Required value")
INVALID = ("FieldValueInvalid", "Invalid value")
NOT_SUPPORTED = ("FieldValueNotSupported", "Unsupported value")
TOO_LONG = ("FieldValueTooLong", "Too long")
TOO_MANY = ("FieldValueTooMany", "Too many")
DUPLICATE = ("FieldValueDuplicate", "Duplicate value")
FORBIDDEN = ("FieldValueForbidden", "Forbidden")
TYPE_INVALID = ("FieldValueTypeInvalid", "Invalid value")

_NO_VALUE = object()  # the bad value is omitted from the message (Required, Forbidden, TooLong)
_ABSENT = object()  # no old value to correlate with


def go_value(value: Any) -> str:
    """Render a bad value like Go's `%v`/`%q` in field.Error.ErrorBody()."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return format_number(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def format_number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class FieldError:
    """One field error, rendered like the apiserver's `field.Error`."""

    kind: tuple[str, str]
    field: str
    value: Any = _NO_VALUE
    detail: str = ""

    @property
    def reason(self) -> str:
        return self.kind[0]

    def body(self) -> str:
        text = self.kind[1]
        if self.value is not _NO_VALUE and self.kind not in (REQUIRED, FORBIDDEN, TOO_LONG):
            text = f"{text}: {go_value(self.value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def message(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.body(), "field": self.field}


def aggregate_message(errors: list[FieldError]) -> str:
    """Like utilerrors.NewAggregate(...).Error(): one message, or `[m1, m2]` (deduplicated)."""
    messages: list[str] = []
    for err in errors:
        msg = err.message()
        if msg not in messages:
            messages.append(msg)
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def index_path(path: str, index: int | str) -> str:
    if isinstance(index, str):
        return f"{path}[{index}]"
    return f"{path}[{index}]"


def field_name(path: str) -> str:
    """The path of an error as the apiserver renders it: `<nil>` for the root."""
    return path or "<nil>"


def json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def deep_copy(value: Any) -> Any:
    """A fast deep copy of JSON-like data."""
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------------------
# Formats (the subset of k8s.io/kube-openapi/pkg/validation/strfmt that apiextensions validates).
# ------------------------------------------------------------------------------------------------------

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$",
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_HOSTNAME = re.compile(
    r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_DURATION = re.compile(r"^([-+]?\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+$|^0$")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$")
_HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def _is_ip(value: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(value).version == version
    except ValueError:
        return False


def _is_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _is_byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": lambda v: bool(_DATE_TIME.match(v)),
    "datetime": lambda v: bool(_DATE_TIME.match(v)),
    "date": lambda v: bool(_DATE.match(v)),
    "uuid": lambda v: bool(_UUID.match(v)),
    "uuid3": lambda v: bool(_UUID.match(v)),
    "uuid4": lambda v: bool(_UUID.match(v)),
    "uuid5": lambda v: bool(_UUID.match(v)),
    "hostname": lambda v: bool(_HOSTNAME.match(v)) and len(v) <= 255,
    "email": lambda v: bool(_EMAIL.match(v)),
    "ipv4": lambda v: _is_ip(v, 4),
    "ipv6": lambda v: _is_ip(v, 6),
    "cidr": _is_cidr,
    "mac": lambda v: bool(_MAC.match(v)),
    "byte": _is_byte,
    "duration": lambda v: bool(_DURATION.match(v)),
    "uri": lambda v: bool(_URI.match(v)),
    "hexcolor": lambda v: bool(_HEXCOLOR.match(v)),
}


# ------------------------------------------------------------------------------------------------------
# CEL (x-kubernetes-validations) with cel-python.
# ------------------------------------------------------------------------------------------------------


@functools.cache
def _celpy() -> Any:
    """cel-python, imported on first use (see the module's docstring)."""
    import celpy
    import celpy.celtypes
    import celpy.evaluation

    return celpy


def _celtypes() -> Any:
    return _celpy().celtypes


def _eval_error() -> type[Exception]:
    """cel-python's CELEvalError (the result of a rule that failed to evaluate)."""
    error: type[Exception] = _celpy().evaluation.CELEvalError
    return error


class CelCompileError(ValueError):
    pass


@dataclass
class CelProgram:
    source: str
    runner: Any


class _Cel:
    """Compiles CEL rules once per process (cached by text) and memoizes evaluations.

    cel-python's interpreter is used: its transpiling runner mishandles `!has(...)`. Evaluations are
    memoized by (rule, JSON of self and oldSelf) in a bounded LRU, since objects of one resource mostly
    repeat the same sub-values (benchmarks create thousands of near-identical objects).
    """

    def __init__(self, memo_size: int = 8192) -> None:
        self._cache: dict[str, CelProgram] = {}
        self._env: celpy.Environment | None = None
        self._memo: collections.OrderedDict[tuple[str, str, str], Any] = collections.OrderedDict()
        self._memo_size = memo_size
        self._lock = threading.RLock()  # emulators may run in several threads (ThreadedKubeEmulator)

    def compile(self, source: str) -> CelProgram:
        with self._lock:
            return self._compile(source)

    def _compile(self, source: str) -> CelProgram:
        cached = self._cache.get(source)
        if cached is not None:
            return cached
        if self._env is None:
            self._env = _celpy().Environment()
        try:
            ast = self._env.compile(source)
            runner = self._env.program(ast, functions=CEL_FUNCTIONS)
        except Exception as exc:  # CELParseError and lark errors
            raise CelCompileError(str(exc).strip()) from exc
        program = CelProgram(source=source, runner=runner)
        self._cache[source] = program
        return program

    def evaluate(self, source: str, self_value: Any, old_value: Any = None, transition: bool = False) -> Any:
        """The rule's result (a CEL value or a CELEvalError); raises CelCompileError."""
        with self._lock:
            return self._evaluate(source, self_value, old_value, transition)

    def _evaluate(self, source: str, self_value: Any, old_value: Any, transition: bool) -> Any:
        self_value = _project(self_value, _member_keys(source, "self"))
        if transition:
            old_value = _project(old_value, _member_keys(source, "oldSelf"))
        key = (
            source,
            json.dumps(self_value, sort_keys=True, separators=(",", ":")),
            json.dumps(old_value, sort_keys=True, separators=(",", ":")) if transition else "",
        )
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        program = self._compile(source)
        cel = _celpy()
        activation: dict[str, Any] = {"self": cel.json_to_cel(self_value)}
        if transition:
            activation["oldSelf"] = cel.json_to_cel(old_value)
        try:
            result = program.runner.evaluate(activation)
        except cel.evaluation.CELEvalError as exc:
            result = exc
        except Exception as exc:
            result = cel.evaluation.CELEvalError(str(exc))
        self._memo[key] = result
        if len(self._memo) > self._memo_size:
            self._memo.popitem(last=False)
        return result

    def message(self, source: str, self_value: Any, old_value: Any, transition: bool) -> str | None:
        result = self.evaluate(source, self_value, old_value, transition)
        return str(result) if isinstance(result, str) else None


_MEMBER_KEYS: dict[tuple[str, str], frozenset[str] | None] = {}


def _member_keys(source: str, variable: str) -> frozenset[str] | None:
    """The top-level keys a rule reads from a variable (`self.a`, `has(self.b)`), or None if it uses the
    variable otherwise (`self == oldSelf`, `size(self)`, `self[...]`): then the whole value is needed."""
    cache_key = (source, variable)
    if cache_key not in _MEMBER_KEYS:
        # strip string literals so that their contents do not count as uses
        code = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "''", source)
        uses = list(re.finditer(rf"(?<![\w.]){variable}\b(\.[A-Za-z_][A-Za-z0-9_]*)?(\s*\()?", code))
        fields_only = bool(uses) and all(m.group(1) and not m.group(2) for m in uses)  # no `self.all(...)`
        keys = frozenset(m.group(1)[1:] for m in uses if m.group(1))
        _MEMBER_KEYS[cache_key] = keys if fields_only else None
    return _MEMBER_KEYS[cache_key]


def _project(value: Any, keys: frozenset[str] | None) -> Any:
    if keys is None or not isinstance(value, dict):
        return value
    return {k: v for k, v in value.items() if k in keys}


def _cel_error_text(exc: Any) -> str:
    """The innermost message of a (nested) CELEvalError."""
    eval_error = _eval_error()
    seen = 0
    while isinstance(exc, eval_error) and seen < 10:
        seen += 1
        args = exc.args
        if len(args) >= 3 and isinstance(args[2], tuple) and args[2] and isinstance(args[2][0], str):
            inner = args[2]
            if len(inner) >= 1 and not isinstance(inner[0], eval_error):
                if args[0] == "evaluation error":
                    return str(inner[0])
                return str(args[0])
        if args and isinstance(args[0], str) and args[0] != "evaluation error":
            return args[0]
        if len(args) >= 3 and isinstance(args[2], eval_error):
            exc = args[2]
            continue
        break
    return str(exc)


# A few functions of the Kubernetes CEL libraries (k8s.io/apiserver/pkg/cel/library) that cel-python lacks.
def _lower_ascii(s: Any) -> Any:
    return _celtypes().StringType(str(s).lower())


def _upper_ascii(s: Any) -> Any:
    return _celtypes().StringType(str(s).upper())


def _trim(s: Any) -> Any:
    return _celtypes().StringType(str(s).strip())


def _split(s: Any, sep: Any) -> Any:
    types = _celtypes()
    return types.ListType([types.StringType(p) for p in str(s).split(str(sep))])


def _join(items: Any, sep: Any = "") -> Any:
    return _celtypes().StringType(str(sep).join(str(i) for i in items))


def _replace(s: Any, old: Any, new: Any) -> Any:
    return _celtypes().StringType(str(s).replace(str(old), str(new)))


def _index_of(s: Any, sub: Any) -> Any:
    if isinstance(s, list):
        return _celtypes().IntType(s.index(sub) if sub in s else -1)
    return _celtypes().IntType(str(s).find(str(sub)))


def _last_index_of(s: Any, sub: Any) -> Any:
    if isinstance(s, list):
        return _celtypes().IntType(len(s) - 1 - s[::-1].index(sub) if sub in s else -1)
    return _celtypes().IntType(str(s).rfind(str(sub)))


def _substring(s: Any, start: Any, end: Any = None) -> Any:
    text = str(s)
    return _celtypes().StringType(text[int(start) :] if end is None else text[int(start) : int(end)])


def _is_sorted(items: Any) -> Any:
    values = list(items)
    return _celtypes().BoolType(all(a <= b for a, b in itertools.pairwise(values)))


def _sum(items: Any) -> Any:
    values = list(items)
    if not values:
        return _celtypes().IntType(0)
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def _min(items: Any) -> Any:
    return min(items)


def _max(items: Any) -> Any:
    return max(items)


CEL_FUNCTIONS: dict[str, Any] = {
    "lowerAscii": _lower_ascii,
    "upperAscii": _upper_ascii,
    "trim": _trim,
    "split": _split,
    "join": _join,
    "replace": _replace,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "substring": _substring,
    "isSorted": _is_sorted,
    "sum": _sum,
    "min": _min,
    "max": _max,
}

CEL = _Cel()
_OLD_SELF = re.compile(r"\boldSelf\b")


def compile_rules(schema: Any, path: str = "openAPIV3Schema") -> list[FieldError]:
    """Compile every CEL rule of a schema (at CRD write time), returning errors for the broken ones."""
    errors: list[FieldError] = []
    if not isinstance(schema, dict):
        return errors
    for i, rule in enumerate(schema.get("x-kubernetes-validations") or []):
        for key in ("rule", "messageExpression"):
            source = rule.get(key) if isinstance(rule, dict) else None
            if source is None:
                continue
            try:
                CEL.compile(str(source))
            except CelCompileError as exc:
                errors.append(
                    FieldError(
                        INVALID,
                        f"{path}.x-kubernetes-validations[{i}].{key}",
                        str(source),
                        f"compilation failed: {exc}",
                    )
                )
    for key, sub in (schema.get("properties") or {}).items():
        errors.extend(compile_rules(sub, f"{path}.properties[{key}]"))
    if isinstance(schema.get("items"), dict):
        errors.extend(compile_rules(schema["items"], f"{path}.items"))
    if isinstance(schema.get("additionalProperties"), dict):
        errors.extend(compile_rules(schema["additionalProperties"], f"{path}.additionalProperties"))
    return errors


# ------------------------------------------------------------------------------------------------------
# The schema walker.
# ------------------------------------------------------------------------------------------------------


def _props(schema: dict[str, Any]) -> dict[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def _additional(schema: dict[str, Any]) -> dict[str, Any] | None:
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _preserves(schema: dict[str, Any]) -> bool:
    return (
        bool(schema.get("x-kubernetes-preserve-unknown-fields")) or schema.get("additionalProperties") is True
    )


def prune(value: Any, schema: dict[str, Any] | None, path: str = "", *, root: bool = False) -> list[str]:
    """Structural pruning in place; returns the paths of the dropped fields (for fieldValidation)."""
    dropped: list[str] = []
    if schema is None:
        return dropped
    if isinstance(value, dict):
        props = _props(schema)
        extra = _additional(schema)
        preserve = _preserves(schema)
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        for key in list(value):
            sub = value[key]
            child_path = join_path(path, key)
            if (root or embedded) and key in ("apiVersion", "kind"):
                continue
            if (root or embedded) and key == "metadata":
                if isinstance(sub, dict):
                    for meta_key in list(sub):
                        if meta_key not in OBJECT_META_FIELDS:
                            del sub[meta_key]
                            dropped.append(join_path(child_path, meta_key))
                continue
            if key in props:
                prop = props[key] if isinstance(props[key], dict) else {}
                if sub is None and not prop.get("nullable"):
                    if "default" not in prop:
                        del value[key]
                    continue
                dropped.extend(prune(sub, prop, child_path))
            elif extra is not None:
                if sub is None and not extra.get("nullable") and "default" not in extra:
                    continue  # a null map value without default: validation reports it
                dropped.extend(prune(sub, extra, child_path))
            elif not preserve:
                del value[key]
                dropped.append(child_path)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                dropped.extend(prune(item, items, index_path(path, i)))
    return dropped


def apply_defaults(value: Any, schema: dict[str, Any] | None) -> None:
    """Structural defaulting in place (also for nulls of non-nullable fields), top-down."""
    if schema is None:
        return
    if isinstance(value, dict):
        props = _props(schema)
        for key, prop in props.items():
            if not isinstance(prop, dict):
                continue
            if "default" in prop and (key not in value or (value[key] is None and not prop.get("nullable"))):
                value[key] = deep_copy(prop["default"])
            if key in value:
                apply_defaults(value[key], prop)
        extra = _additional(schema)
        if extra is not None:
            for key in value:
                if key not in props:
                    apply_defaults(value[key], extra)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in value:
                apply_defaults(item, items)


def _list_keys(schema: dict[str, Any]) -> list[str] | None:
    if schema.get("x-kubernetes-list-type") == "map":
        keys = schema.get("x-kubernetes-list-map-keys")
        if isinstance(keys, list) and keys:
            return [str(k) for k in keys]
    return None


def _map_key(item: Any, keys: list[str]) -> tuple[Any, ...] | None:
    if not isinstance(item, dict):
        return None
    return tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)


class ValueChecks:
    """The checks of one value against its own schema node (type, formats, bounds, enums, list rules)."""

    errors: list[FieldError]

    def _check_scalar(self, value: Any, schema: dict[str, Any], path: str) -> bool:
        fld = field_name(path)
        errors = self.errors
        if not _type_ok(value, schema):
            expected = schema.get("type")
            errors.append(
                FieldError(
                    INVALID,
                    fld,
                    json_type_name(value),
                    f"{fld} in body must be of type {expected}: {json.dumps(json_type_name(value))}",
                )
            )
            return False
        enum = schema.get("enum")
        if isinstance(enum, list) and value not in enum:
            supported = ", ".join(go_value(v) for v in enum)
            errors.append(FieldError(NOT_SUPPORTED, fld, value, f"supported values: {supported}"))
        if isinstance(value, str):
            self._check_string(value, schema, fld)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._check_number(value, schema, fld)
        elif isinstance(value, list):
            self._check_array(value, schema, fld)
        elif isinstance(value, dict):
            n = len(value)
            if "maxProperties" in schema and n > int(schema["maxProperties"]):
                errors.append(
                    FieldError(TOO_MANY, fld, n, f"must have at most {int(schema['maxProperties'])} items")
                )
            if "minProperties" in schema and n < int(schema["minProperties"]):
                errors.append(
                    FieldError(
                        INVALID,
                        fld,
                        n,
                        f"{fld} in body should have at least {int(schema['minProperties'])} properties",
                    )
                )
        return True

    def _check_string(self, value: str, schema: dict[str, Any], fld: str) -> None:
        errors = self.errors
        if schema.get("x-kubernetes-int-or-string"):
            return
        length = len(value)
        if "maxLength" in schema and length > int(schema["maxLength"]):
            limit = int(schema["maxLength"])
            errors.append(
                FieldError(
                    TOO_LONG, fld, value, f"may not be more than {limit} byte{'s' if limit != 1 else ''}"
                )
            )
        if "minLength" in schema and length < int(schema["minLength"]):
            errors.append(
                FieldError(
                    INVALID,
                    fld,
                    value,
                    f"{fld} in body should be at least {int(schema['minLength'])} chars long",
                )
            )
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and _compiled_pattern(pattern).search(value) is None:
            errors.append(FieldError(INVALID, fld, value, f"{fld} in body should match '{pattern}'"))
        fmt = schema.get("format")
        if isinstance(fmt, str):
            check = FORMATS.get(fmt)
            if check is not None and not check(value):
                errors.append(
                    FieldError(
                        INVALID, fld, value, f"{fld} in body must be of type {fmt}: {json.dumps(value)}"
                    )
                )

    def _check_number(self, value: float, schema: dict[str, Any], fld: str) -> None:
        errors = self.errors
        shown = format_number(value)
        if "minimum" in schema:
            low = schema["minimum"]
            if schema.get("exclusiveMinimum") is True:
                if value <= low:
                    errors.append(
                        FieldError(
                            INVALID, fld, value, f"{fld} in body should be greater than {format_number(low)}"
                        )
                    )
            elif value < low:
                errors.append(
                    FieldError(
                        INVALID,
                        fld,
                        value,
                        f"{fld} in body should be greater than or equal to {format_number(low)}",
                    )
                )
        if "maximum" in schema:
            high = schema["maximum"]
            if schema.get("exclusiveMaximum") is True:
                if value >= high:
                    errors.append(
                        FieldError(
                            INVALID, fld, value, f"{fld} in body should be less than {format_number(high)}"
                        )
                    )
            elif value > high:
                errors.append(
                    FieldError(
                        INVALID,
                        fld,
                        value,
                        f"{fld} in body should be less than or equal to {format_number(high)}",
                    )
                )
        multiple = schema.get("multipleOf")
        if (
            isinstance(multiple, int | float)
            and multiple
            and not math.isclose(value / multiple, round(value / multiple))
        ):
            errors.append(
                FieldError(
                    INVALID, fld, value, f"{fld} in body should be a multiple of {format_number(multiple)}"
                )
            )
        fmt = schema.get("format")
        if fmt == "int32" and isinstance(value, int) and not -(2**31) <= value < 2**31:
            errors.append(
                FieldError(INVALID, fld, value, f"{fld} in body must be of type int32: {json.dumps(shown)}")
            )
        if fmt == "int64" and isinstance(value, int) and not -(2**63) <= value < 2**63:
            errors.append(
                FieldError(INVALID, fld, value, f"{fld} in body must be of type int64: {json.dumps(shown)}")
            )

    def _check_array(self, value: list[Any], schema: dict[str, Any], fld: str) -> None:
        errors = self.errors
        n = len(value)
        if "maxItems" in schema and n > int(schema["maxItems"]):
            errors.append(FieldError(TOO_MANY, fld, n, f"must have at most {int(schema['maxItems'])} items"))
        if "minItems" in schema and n < int(schema["minItems"]):
            errors.append(
                FieldError(
                    INVALID, fld, n, f"{fld} in body should have at least {int(schema['minItems'])} items"
                )
            )
        list_type = schema.get("x-kubernetes-list-type")
        keys = _list_keys(schema)
        if keys is not None:
            seen: set[Any] = set()
            for i, item in enumerate(value):
                mk = _map_key(item, keys)
                if mk is None:
                    continue
                if mk in seen:
                    dup = {k: item.get(k) for k in keys if isinstance(item, dict)}
                    errors.append(FieldError(DUPLICATE, f"{fld}[{i}]", dup))
                seen.add(mk)
        elif list_type == "set" or schema.get("uniqueItems"):
            seen_set: set[str] = set()
            for i, item in enumerate(value):
                key = json.dumps(item, sort_keys=True)
                if key in seen_set:
                    errors.append(FieldError(DUPLICATE, f"{fld}[{i}]", item))
                seen_set.add(key)


class Validator(ValueChecks):
    """Validates one object against a structural schema, with CEL rules and ratcheting."""

    def __init__(self, *, update: bool) -> None:
        self.update = update
        self.errors: list[FieldError] = []
        self.cel_errors: list[FieldError] = []

    # -- entry points

    def validate_root(self, obj: dict[str, Any], old: dict[str, Any] | None, schema: dict[str, Any]) -> None:
        self._node(obj, old if old is not None else _ABSENT, schema, "", root=True, ratchet=False)

    # -- the walk

    def _node(
        self, value: Any, old: Any, schema: dict[str, Any], path: str, *, root: bool, ratchet: bool
    ) -> None:
        unchanged = self.update and old is not _ABSENT and old == value
        skip = ratchet or unchanged  # validation ratcheting: an unchanged value keeps its errors to itself
        if value is None and schema.get("nullable"):
            return
        if not skip:
            if not self._check_scalar(value, schema, path):
                return  # a wrong type: nested checks and CEL rules would only add noise
        elif not _type_ok(value, schema):
            return
        self._children(value, old, schema, path, root=root, ratchet=skip)
        self._cel(value, old, schema, path, root=root, ratchet=skip)

    def _children(
        self, value: Any, old: Any, schema: dict[str, Any], path: str, *, root: bool, ratchet: bool
    ) -> None:
        if isinstance(value, dict):
            props = _props(schema)
            extra = _additional(schema)
            old_map = old if isinstance(old, dict) else None
            if not ratchet:
                for key in schema.get("required") or []:
                    if key not in value:
                        self.errors.append(FieldError(REQUIRED, join_path(path, key)))
            for key, sub in value.items():
                if (root or schema.get("x-kubernetes-embedded-resource")) and key in (
                    "metadata",
                    "apiVersion",
                    "kind",
                ):
                    continue
                prop = props.get(key)
                if prop is None:
                    prop = extra
                if not isinstance(prop, dict):
                    continue
                old_sub = old_map.get(key, _ABSENT) if old_map is not None else _ABSENT
                self._node(sub, old_sub, prop, join_path(path, key), root=False, ratchet=ratchet)
        elif isinstance(value, list):
            items = schema.get("items")
            if not isinstance(items, dict):
                return
            keys = _list_keys(schema)
            old_items: dict[Any, Any] = {}
            if isinstance(old, list):
                if keys is not None:
                    for item in old:
                        mk = _map_key(item, keys)
                        if mk is not None:
                            old_items[mk] = item
                elif schema.get("x-kubernetes-list-type") == "set":
                    for item in old:
                        old_items[json.dumps(item, sort_keys=True)] = item
            for i, item in enumerate(value):
                old_item: Any = _ABSENT
                if keys is not None:
                    mk = _map_key(item, keys)
                    old_item = old_items.get(mk, _ABSENT) if mk is not None else _ABSENT
                elif schema.get("x-kubernetes-list-type") == "set":
                    old_item = old_items.get(json.dumps(item, sort_keys=True), _ABSENT)
                self._node(item, old_item, items, index_path(path, i), root=False, ratchet=ratchet)

    def _cel(
        self, value: Any, old: Any, schema: dict[str, Any], path: str, *, root: bool, ratchet: bool
    ) -> None:
        rules = schema.get("x-kubernetes-validations")
        if not rules:
            return
        self_value = _cel_view(value, root)
        old_value = _cel_view(old, root) if old is not _ABSENT else None
        type_name = _cel_type_name(value, schema)
        fld = field_name(path)
        for rule in rules:
            if not isinstance(rule, dict) or "rule" not in rule:
                continue
            source = str(rule["rule"])
            transition = bool(_OLD_SELF.search(source))
            if transition and (not self.update or old is _ABSENT):
                continue  # transition rules run only on updates with an old value to compare with
            if ratchet and not transition:
                continue
            try:
                result = CEL.evaluate(source, self_value, old_value, transition)
            except CelCompileError as exc:
                self.cel_errors.append(FieldError(INVALID, fld, type_name, f"compilation failed: {exc}"))
                continue
            if isinstance(result, _eval_error()):
                detail = f"{_cel_error_text(result)} evaluating rule: {source}"
                self.cel_errors.append(FieldError(INVALID, fld, type_name, detail))
                continue
            if not isinstance(result, bool | _celtypes().BoolType):
                detail = f"rule did not evaluate to a bool evaluating rule: {source}"
                self.cel_errors.append(FieldError(INVALID, fld, type_name, detail))
                continue
            if result:
                continue
            message = self._rule_message(rule, self_value, old_value, transition, source)
            kind = {
                "FieldValueForbidden": FORBIDDEN,
                "FieldValueRequired": REQUIRED,
                "FieldValueDuplicate": DUPLICATE,
            }.get(str(rule.get("reason") or "FieldValueInvalid"), INVALID)
            self.cel_errors.append(
                FieldError(kind, _rule_field_path(path, rule.get("fieldPath")), type_name, message)
            )

    @staticmethod
    def _rule_message(
        rule: dict[str, Any], self_value: Any, old_value: Any, transition: bool, source: str
    ) -> str:
        expression = rule.get("messageExpression")
        if isinstance(expression, str) and expression:
            try:
                text = CEL.message(expression, self_value, old_value, transition)
            except CelCompileError:
                text = None
            if text and text.strip() and "\n" not in text:
                return text
        message = rule.get("message")
        if isinstance(message, str) and message:
            return message
        return f"failed rule: {source}"


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled_pattern(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        try:
            compiled = re.compile(pattern)
        except re.error:
            compiled = re.compile(re.escape(pattern))
        _PATTERNS[pattern] = compiled
    return compiled


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    expected = schema.get("type")
    if not expected:
        return True
    if value is None:
        return bool(schema.get("nullable"))
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def _cel_view(value: Any, root: bool) -> Any:
    """What `self` is in CEL: at the root, metadata only exposes name and generateName."""
    if root and isinstance(value, dict):
        view = dict(value)
        meta = value.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        view["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
        return view
    return value


def _cel_type_name(value: Any, schema: dict[str, Any]) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return str(schema.get("type") or json_type_name(value))


def _rule_field_path(path: str, field_path: Any) -> str:
    if not isinstance(field_path, str) or not field_path:
        return field_name(path)
    result = path
    for match in re.finditer(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\['([^']*)'\]|\[(\d+)\]", field_path):
        if match.group(1) is not None:
            result = join_path(result, match.group(1))
        elif match.group(2) is not None:
            result = join_path(result, match.group(2))
        else:
            result = index_path(result, int(match.group(3)))
    return field_name(result)


def validate(
    obj: dict[str, Any], old: dict[str, Any] | None, schema: dict[str, Any], *, update: bool
) -> list[FieldError]:
    """Schema errors first, then CEL errors (the apiserver's order)."""
    validator = Validator(update=update)
    validator.validate_root(obj, old, schema)
    return validator.errors + validator.cel_errors


def iter_schema_nodes(schema: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(schema, dict):
        return
    yield schema
    for sub in _props(schema).values():
        yield from iter_schema_nodes(sub)
    if isinstance(schema.get("items"), dict):
        yield from iter_schema_nodes(schema["items"])
    extra = _additional(schema)
    if extra is not None:
        yield from iter_schema_nodes(extra)


def subschema(schema: dict[str, Any] | None, *keys: str) -> dict[str, Any] | None:
    node = schema
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = _props(node).get(key)
    return node if isinstance(node, dict) else None

"""A minimal decoder of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).

kubectl's typed commands (`kubectl create secret|configmap|namespace|serviceaccount`) send protobuf; the
test bed decodes the few built-in kinds it serves into their JSON form. Responses are always JSON (clients
accept it). Unknown kinds are answered with 415 by the caller.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

MAGIC = b"k8s\x00"

# A schema maps a field number to (JSON name, kind, sub-schema); kinds: str, bytes, int, bool, msg, time,
# map_str (map<string,string>), map_bytes (map<string,bytes>), and the "repeated " prefix.
Schema = dict[int, tuple[str, str, Any]]

TIME: Schema = {}
OWNER_REFERENCE: Schema = {
    1: ("kind", "str", None),
    3: ("name", "str", None),
    4: ("uid", "str", None),
    5: ("apiVersion", "str", None),
    6: ("controller", "bool", None),
    7: ("blockOwnerDeletion", "bool", None),
}
OBJECT_META: Schema = {
    1: ("name", "str", None),
    2: ("generateName", "str", None),
    3: ("namespace", "str", None),
    5: ("uid", "str", None),
    6: ("resourceVersion", "str", None),
    7: ("generation", "int", None),
    8: ("creationTimestamp", "time", None),
    9: ("deletionTimestamp", "time", None),
    10: ("deletionGracePeriodSeconds", "int", None),
    11: ("labels", "map_str", None),
    12: ("annotations", "map_str", None),
    13: ("ownerReferences", "repeated msg", OWNER_REFERENCE),
    14: ("finalizers", "repeated str", None),
}
OBJECT_REFERENCE: Schema = {
    1: ("kind", "str", None),
    2: ("namespace", "str", None),
    3: ("name", "str", None),
    4: ("uid", "str", None),
    5: ("apiVersion", "str", None),
}
LOCAL_OBJECT_REFERENCE: Schema = {1: ("name", "str", None)}
KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Secret"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("data", "map_bytes", None),
        3: ("type", "str", None),
        4: ("stringData", "map_str", None),
        5: ("immutable", "bool", None),
    },
    ("v1", "ConfigMap"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("data", "map_str", None),
        3: ("binaryData", "map_bytes", None),
        4: ("immutable", "bool", None),
    },
    ("v1", "Namespace"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("spec", "msg", {1: ("finalizers", "repeated str", None)}),
        3: ("status", "msg", {1: ("phase", "str", None)}),
    },
    ("v1", "ServiceAccount"): {
        1: ("metadata", "msg", OBJECT_META),
        2: ("secrets", "repeated msg", OBJECT_REFERENCE),
        3: ("imagePullSecrets", "repeated msg", LOCAL_OBJECT_REFERENCE),
        4: ("automountServiceAccountToken", "bool", None),
    },
    ("meta.k8s.io/v1", "DeleteOptions"): {
        1: ("gracePeriodSeconds", "int", None),
        2: ("preconditions", "msg", {1: ("uid", "str", None), 2: ("resourceVersion", "str", None)}),
        3: ("orphanDependents", "bool", None),
        4: ("propagationPolicy", "str", None),
        5: ("dryRun", "repeated str", None),
    },
}


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) of a message."""
    fields: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        fields.append((number, wire, value))
    return fields


def _time(data: bytes) -> str | None:
    seconds = 0
    for number, _, value in _fields(data):
        if number == 1:
            seconds = value
    if not seconds:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _map(data: bytes, binary: bool) -> tuple[str, Any]:
    key, value = "", b""
    for number, _, raw in _fields(data):
        if number == 1:
            key = raw.decode()
        elif number == 2:
            value = raw
    return key, (
        base64.b64encode(value).decode() if binary else value.decode() if isinstance(value, bytes) else ""
    )


def _scalar(kind: str, raw: Any, schema: Any) -> Any:
    if kind == "str":
        return raw.decode()
    if kind == "bytes":
        return base64.b64encode(raw).decode()
    if kind == "int":
        return raw - (1 << 64) if raw >= 1 << 63 else raw
    if kind == "bool":
        return bool(raw)
    if kind == "time":
        return _time(raw)
    if kind == "msg":
        return decode_message(raw, schema)
    raise ProtobufError(f"unsupported field kind {kind}")


def decode_message(data: bytes, schema: Schema) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for number, _, raw in _fields(data):
        spec = schema.get(number)
        if spec is None:
            continue
        name, kind, sub = spec
        if kind in ("map_str", "map_bytes"):
            key, value = _map(raw, kind == "map_bytes")
            result.setdefault(name, {})[key] = value
        elif kind.startswith("repeated "):
            result.setdefault(name, []).append(_scalar(kind.split(" ", 1)[1], raw, sub))
        else:
            value = _scalar(kind, raw, sub)
            if value not in ("", None):  # gogo-protobuf writes empty strings and zero times: omitted in JSON
                result[name] = value
    return result


def decode(data: bytes) -> dict[str, Any]:
    """Decode a protobuf-encoded object (the `k8s\\0` envelope holding a runtime.Unknown) into JSON."""
    if not data.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf envelope")
    api_version = kind = ""
    raw = b""
    for number, _, value in _fields(data[len(MAGIC) :]):
        if number == 1:
            for sub_number, _, sub_value in _fields(value):
                if sub_number == 1:
                    api_version = sub_value.decode()
                elif sub_number == 2:
                    kind = sub_value.decode()
        elif number == 2:
            raw = value
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"protobuf is not supported for {api_version}/{kind}")
    obj = decode_message(raw, schema)
    if kind != "DeleteOptions":
        obj = {"apiVersion": api_version, "kind": kind, **obj}
    return obj

"""The state and the semantics of the Kubernetes API test bed, independent of HTTP.

`KubeState` keeps the objects of every served resource, a global resourceVersion, a bounded history of
watch events and the live watchers, and implements create/get/list/update/patch/delete with the
behaviours of kube-apiserver (see `blaxel_devkit.kube` for the list). All writes are synchronous
(no await inside), so each write is atomic with respect to the asyncio event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import datetime
import json
import random
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from blaxel_devkit.kube_patch import (
    PatchError,
    apply_merge,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from blaxel_devkit.kube_query import (
    FieldRequirement,
    Requirement,
    SelectorError,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from blaxel_devkit.kube_resources import (
    DEFAULT_BUILTINS,
    KOPF_PEERING_CRDS,
    ResourceType,
    builtin,
    crd_resource_types,
    version_priority,
)
from blaxel_operator.crdschema import (
    FORBIDDEN,
    INVALID,
    REQUIRED,
    TOO_LONG,
    FieldError,
    aggregate_message,
    apply_defaults,
    compile_rules,
    deep_copy,
    prune,
    validate,
)
from blaxel_operator.k8snames import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    LABEL_MSG,
    LABEL_VALUE_MSG,
    QUALIFIED_NAME_MSG,
    SUBDOMAIN_MSG,
    valid_label_key,
    valid_label_value,
)

JSON = dict[str, Any]

# ------------------------------------------------------------------------------------------------------
# Errors: metav1.Status bodies
# ------------------------------------------------------------------------------------------------------


class KubeApiError(Exception):
    """An API error with an apiserver-style `metav1.Status` body."""

    def __init__(self, code: int, reason: str, message: str, details: JSON | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> JSON:
        body: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(rt: ResourceType, name: str, *, kind: str | None = None) -> JSON:
    details: JSON = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = kind if kind is not None else rt.plural
    return details


def not_found(rt: ResourceType, name: str) -> KubeApiError:
    return KubeApiError(404, "NotFound", f'{rt.group_resource} "{name}" not found', _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> KubeApiError:
    return KubeApiError(
        409, "AlreadyExists", f'{rt.group_resource} "{name}" already exists', _details(rt, name)
    )


def conflict(rt: ResourceType, name: str, why: str | None = None) -> KubeApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return KubeApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.group_resource} "{name}": {why}',
        _details(rt, name),
    )


def invalid(rt: ResourceType, name: str, errors: list[FieldError]) -> KubeApiError:
    details = _details(rt, name, kind=rt.kind)
    details["causes"] = [err.cause() for err in errors]
    return KubeApiError(
        422, "Invalid", f'{rt.group_kind} "{name}" is invalid: {aggregate_message(errors)}', details
    )


def bad_request(message: str) -> KubeApiError:
    return KubeApiError(400, "BadRequest", message)


def expired(message: str) -> KubeApiError:
    return KubeApiError(410, "Expired", message)


def resource_not_found() -> KubeApiError:
    return KubeApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed(method: str) -> KubeApiError:
    return KubeApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method})",
        {},
    )


def unsupported_media_type(content_type: str, accepted: list[str]) -> KubeApiError:
    return KubeApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
        {},
    )


# ------------------------------------------------------------------------------------------------------
# Names
# ------------------------------------------------------------------------------------------------------

GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
SERVER_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")
TERMINATING_FINALIZER = "kubernetes"


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------------------
# Storage and watch events
# ------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Change:
    """One stored change: what watchers receive (filtered) and what the history replays."""

    rv: int
    store: Store
    type: str  # ADDED, MODIFIED, DELETED
    obj: JSON
    old: JSON | None


@dataclass(eq=False)
class Store:
    """Objects of one group/plural (shared by all versions), by namespace ("" if cluster-scoped) and name."""

    key: str
    objects: dict[str, dict[str, JSON]] = field(default_factory=dict)
    watchers: set[Watcher] = field(default_factory=set)

    def get(self, namespace: str, name: str) -> JSON | None:
        return self.objects.get(namespace, {}).get(name)

    def put(self, obj: JSON) -> None:
        meta = obj["metadata"]
        self.objects.setdefault(meta.get("namespace", ""), {})[meta["name"]] = obj

    def remove(self, obj: JSON) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        bucket = self.objects.get(namespace)
        if bucket is not None:
            bucket.pop(meta["name"], None)
            if not bucket:
                del self.objects[namespace]

    def iter(self, namespace: str | None) -> Iterator[JSON]:
        if namespace is None:
            for bucket in self.objects.values():
                yield from bucket.values()
        else:
            yield from self.objects.get(namespace, {}).values()

    def count(self, namespace: str | None = None) -> int:
        if namespace is None:
            return sum(len(b) for b in self.objects.values())
        return len(self.objects.get(namespace, {}))


class Watcher:
    """A live watch: a queue of changes filtered by namespace and selectors when consumed."""

    def __init__(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: list[Requirement],
        fields: list[FieldRequirement],
        limit: int,
    ) -> None:
        self.rt = rt
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.limit = limit
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue()
        self.overflowed = False

    def offer(self, change: Change | None) -> None:
        if self.overflowed:
            return
        if change is not None and self.queue.qsize() >= self.limit:
            self.overflowed = True  # a too slow consumer: end its stream, it re-lists (like the apiserver)
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(change)

    def matches(self, obj: JSON) -> bool:
        if self.namespace is not None and obj["metadata"].get("namespace", "") != self.namespace:
            return False
        if not labels_match(self.labels, obj):
            return False
        if self.fields:
            getters = self.rt.field_getters
            values = {req.field: getters[req.field](obj) for req in self.fields if req.field in getters}
            return fields_match(self.fields, values)
        return True

    def translate(self, change: Change) -> tuple[str, JSON] | None:
        """The event this watcher sees, with the apiserver's selector semantics (leaving = DELETED)."""
        now = self.matches(change.obj)
        if change.type == "MODIFIED":
            before = change.old is not None and self.matches(change.old)
            if now and before:
                return "MODIFIED", change.obj
            if now:
                return "ADDED", change.obj
            if before:
                return "DELETED", change.obj
            return None
        return (change.type, change.obj) if now else None


@dataclass
class WriteResult:
    obj: JSON
    warnings: list[str] = field(default_factory=list)
    removed: bool = False  # the object is gone (DELETE without finalizers, last finalizer removed)
    pending: bool = False  # DELETE did not remove it (finalizers): HTTP 202


class KubeState:
    """Objects, resource versions, history and watchers; the semantics of the apiserver."""

    def __init__(
        self,
        *,
        builtins: tuple[str, ...] = DEFAULT_BUILTINS,
        namespaces: tuple[str, ...] = ("default", "kube-system", "kube-public", "kube-node-lease"),
        kopf_peering: bool = True,
        history_size: int = 10_000,
        watch_queue_limit: int = 100_000,
    ) -> None:
        self.history: collections.deque[Change] = collections.deque(maxlen=history_size)
        self.history_floor = 0  # the rv of the newest change dropped from the history
        self.rv = 1
        self.watch_queue_limit = watch_queue_limit
        # kube-apiserver answers 415 to strategic merge patches of custom resources; True: merge them instead
        self.strategic_merge_on_custom_resources = False
        self.stores: dict[str, Store] = {}
        self.types: dict[tuple[str, str, str], ResourceType] = {}  # (group, version, plural)
        self.crd_types: dict[str, list[ResourceType]] = {}  # CRD name -> served versions
        self._change_waiters: set[asyncio.Future[None]] = set()
        self._rng = random.Random()
        for text in builtins:
            self.register(builtin(text))
        for ns in namespaces:
            self.create(self.type("", "v1", "namespaces"), None, {"metadata": {"name": ns}})
        if kopf_peering:
            crds = self.type("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            for crd in KOPF_PEERING_CRDS:
                self.create(crds, None, deep_copy(crd))

    # -- resource types

    def register(self, rt: ResourceType) -> None:
        self.types[(rt.group, rt.version, rt.plural)] = rt
        self.stores.setdefault(rt.storage_key, Store(rt.storage_key))

    def unregister(self, rt: ResourceType) -> None:
        self.types.pop((rt.group, rt.version, rt.plural), None)

    def type(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.types.get((group, version, plural))
        if rt is None:
            raise KeyError(f"resource {group}/{version}/{plural} is not served")
        return rt

    def find_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.types.get((group, version, plural))

    def store(self, rt: ResourceType) -> Store:
        return self.stores[rt.storage_key]

    def groups(self) -> dict[str, list[str]]:
        """Served API groups (not the core group) and their versions, preferred first."""
        result: dict[str, set[str]] = {}
        for group, version, _ in self.types:
            if group:
                result.setdefault(group, set()).add(version)
        return {g: sorted(vs, key=version_priority) for g, vs in sorted(result.items())}

    def types_of(self, group: str, version: str) -> list[ResourceType]:
        return [rt for (g, v, _), rt in sorted(self.types.items()) if g == group and v == version]

    # -- changes

    def _next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def _record(self, store: Store, kind: str, obj: JSON, old: JSON | None) -> None:
        change = Change(int(obj["metadata"]["resourceVersion"]), store, kind, obj, old)
        if self.history.maxlen is not None and len(self.history) == self.history.maxlen:
            self.history_floor = self.history[0].rv
        self.history.append(change)
        for watcher in store.watchers:
            watcher.offer(change)
        self._notify()

    def _notify(self) -> None:
        waiters, self._change_waiters = self._change_waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def changed(self) -> asyncio.Future[None]:
        """A future resolved by the next stored change or watch (un)registration (no polling)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._change_waiters.add(future)
        return future

    def replay(self, store: Store, since: int) -> list[Change]:
        """Changes of a store after `since`; raises 410 Expired when the history does not reach back."""
        if since < self.history_floor:
            raise expired(f"too old resource version: {since} ({self.history_floor + 1})")
        if not self.history or since >= self.history[-1].rv:
            return []
        return [c for c in self.history if c.rv > since and c.store is store]

    def close_watchers(self) -> None:
        for store in self.stores.values():
            for watcher in list(store.watchers):
                watcher.offer(None)

    # -- reading

    def render(self, rt: ResourceType, obj: JSON) -> JSON:
        """The object as served by this group/version (versions of a CRD share the storage)."""
        if obj.get("apiVersion") == rt.api_version:
            return obj
        rendered = dict(obj)
        rendered["apiVersion"] = rt.api_version
        return rendered

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> JSON:
        obj = self.store(rt).get(namespace or "", name)
        if obj is None:
            raise not_found(rt, name)
        return obj

    def select(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[JSON]:
        labels, fields = self.parse_selectors(rt, label_selector, field_selector)
        result = []
        getters = rt.field_getters
        for obj in self.store(rt).iter(namespace):
            if labels and not labels_match(labels, obj):
                continue
            if fields:
                values = {req.field: getters[req.field](obj) for req in fields}
                if not fields_match(fields, values):
                    continue
            result.append(obj)
        result.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return result

    def parse_selectors(
        self, rt: ResourceType, label_selector: str | None, field_selector: str | None
    ) -> tuple[list[Requirement], list[FieldRequirement]]:
        try:
            labels = parse_label_selector(label_selector)
            fields = parse_field_selector(field_selector)
        except SelectorError as exc:
            raise bad_request(str(exc)) from None
        for req in fields:
            if req.field not in rt.field_getters:
                if rt.custom:
                    known = ", ".join(f'"{k}"' for k in rt.field_getters)
                    raise bad_request(f'"{req.field}" is not a known field selector: only {known}')
                raise bad_request(f"field label not supported: {req.field}")
        return labels, fields

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        since: int | None,
        initial: bool,
    ) -> tuple[Watcher, list[tuple[str, JSON]]]:
        """Register a watcher; return it with the events to send first (initial ADDED or a replay)."""
        labels, fields = self.parse_selectors(rt, label_selector, field_selector)
        watcher = Watcher(rt, namespace, labels, fields, self.watch_queue_limit)
        store = self.store(rt)
        first: list[tuple[str, JSON]] = []
        if initial:
            for obj in self.select(rt, namespace):
                if watcher.matches(obj):
                    first.append(("ADDED", obj))
        elif since is not None:
            for change in self.replay(store, since):
                event = watcher.translate(change)
                if event is not None:
                    first.append(event)
        store.watchers.add(watcher)
        self._notify()
        return watcher, first

    def unwatch(self, watcher: Watcher) -> None:
        store = self.stores.get(watcher.rt.storage_key)
        if store is not None:
            store.watchers.discard(watcher)
        self._notify()

    # -- writing: create

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        field_validation: str = "Warn",
        validate_schema: bool = True,
    ) -> WriteResult:
        if not isinstance(body, dict):
            raise bad_request("the body of the request is not a JSON object")
        obj = deep_copy(body)
        self._check_type_meta(rt, obj)
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if rt.namespaced:
            body_ns = meta.get("namespace") or ""
            if namespace is None:
                namespace = body_ns or None
            if namespace is None:
                raise bad_request("the server could not find the requested resource (namespace is required)")
            if body_ns and body_ns != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
            self._check_namespace_open(namespace)
        else:
            meta.pop("namespace", None)
        for key in (*SERVER_META, "resourceVersion", "selfLink", "managedFields"):
            meta.pop(key, None)
        if rt.has_status:
            obj.pop("status", None)
        warnings = self._normalize(rt, obj, None, field_validation) if validate_schema else []
        if rt.tracks_generation:
            meta["generation"] = 1
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        self._builtin_create_hooks(rt, obj)

        store = self.store(rt)
        generated = not meta.get("name") and meta.get("generateName")
        for _attempt in range(8):
            if generated:
                meta["name"] = f"{meta['generateName']}{''.join(self._rng.choices(GENERATE_CHARS, k=5))}"
            if validate_schema:
                self._validate(rt, obj, None)
            if store.get(meta.get("namespace", ""), meta["name"]) is None:
                break
            if not generated:
                raise already_exists(rt, meta["name"])
        else:
            raise already_exists(rt, meta["name"])
        if rt.plural == "customresourcedefinitions" and rt.group == "apiextensions.k8s.io":
            self._crd_prepare(obj, None)
        obj["apiVersion"] = rt.storage_api_version
        if dry_run:
            meta["resourceVersion"] = str(self.rv)
            return WriteResult(obj, warnings)
        meta["resourceVersion"] = str(self._next_rv())
        store.put(obj)
        self._record(store, "ADDED", obj, None)
        if rt.plural == "customresourcedefinitions" and rt.group == "apiextensions.k8s.io":
            self._crd_activate(obj)
        return WriteResult(obj, warnings)

    def seed(self, rt: ResourceType, namespace: str | None, body: JSON) -> JSON:
        """Store an object as given (no validation/pruning/defaulting); fill missing server fields."""
        obj = deep_copy(body)
        obj["apiVersion"] = rt.storage_api_version
        obj["kind"] = rt.kind
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        store = self.store(rt)
        old = store.get(meta.get("namespace", ""), meta["name"])
        previous = old["metadata"] if old is not None else {}
        meta.setdefault("uid", previous.get("uid") or str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", previous.get("creationTimestamp") or now_rfc3339())
        if rt.tracks_generation:
            meta.setdefault("generation", previous.get("generation", 1))
        meta["resourceVersion"] = str(self._next_rv())
        store.put(obj)
        self._record(store, "MODIFIED" if old is not None else "ADDED", obj, old)
        if rt.plural == "customresourcedefinitions" and rt.group == "apiextensions.k8s.io":
            self._crd_activate(obj)
        return obj

    # -- writing: update / patch

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Warn",
    ) -> WriteResult:
        old = self.get(rt, namespace, name)
        if not isinstance(body, dict):
            raise bad_request("the body of the request is not a JSON object")
        new = deep_copy(body)
        self._check_type_meta(rt, new)
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        if meta.get("name", "") != name:
            raise bad_request(
                f"the name of the object ({meta.get('name', '')}) does not match the name on the URL ({name})"
            )
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        rv = meta.get("resourceVersion")
        if rv:
            if str(rv) != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
        elif not rt.unconditional_update:
            raise invalid(
                rt,
                name,
                [FieldError(INVALID, "metadata.resourceVersion", 0, "must be specified for an update")],
            )
        return self._write(
            rt, old, new, subresource=subresource, dry_run=dry_run, field_validation=field_validation
        )

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch_type: str,
        patch: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Warn",
        field_manager: str | None = None,
    ) -> WriteResult:
        if patch_type == "apply":
            return self._apply(
                rt, namespace, name, patch, subresource, dry_run, field_validation, field_manager
            )
        old = self.render(rt, self.get(rt, namespace, name))  # patches apply to the requested version
        try:
            if patch_type == "json":
                new = json_patch(old, patch)
            elif patch_type == "merge":
                if not isinstance(patch, dict):
                    raise PatchError(
                        "json: cannot unmarshal into Go value of type map[string]interface {}", status=400
                    )
                new = merge_patch(deep_copy(old), patch)
            elif patch_type == "strategic":
                if rt.custom and not self.strategic_merge_on_custom_resources:
                    raise unsupported_media_type(
                        "application/strategic-merge-patch+json",
                        [
                            "application/json-patch+json",
                            "application/merge-patch+json",
                            "application/apply-patch+yaml",
                            "application/apply-patch+cbor",
                        ],
                    )
                if not isinstance(patch, dict):
                    raise PatchError(
                        "json: cannot unmarshal into Go value of type map[string]interface {}", status=400
                    )
                if rt.custom:  # the lenient mode: a JSON merge patch, as for CRs there is no patch metadata
                    new = merge_patch(deep_copy(old), patch)
                else:
                    new = strategic_merge_patch(deep_copy(old), patch)
            else:
                raise bad_request(f"unknown patch type: {patch_type}")
        except PatchError as exc:
            if exc.status == 400:
                raise bad_request(exc.message) from None
            raise KubeApiError(
                422,
                "Invalid",
                "the server rejected our request due to an error in our request",
                {"causes": [{"reason": "UnexpectedServerResponse", "message": exc.message}]},
            ) from None
        if not isinstance(new, dict):
            raise bad_request("the patched object is not a JSON object")
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        if meta.get("name") != name:
            raise bad_request(
                f"the name of the object ({meta.get('name', '')}) does not match the name on the URL ({name})"
            )
        rv = meta.get("resourceVersion")
        if rv and str(rv) != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        self._check_type_meta(rt, new)
        return self._write(
            rt, old, new, subresource=subresource, dry_run=dry_run, field_validation=field_validation
        )

    def _apply(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        subresource: str | None,
        dry_run: bool,
        field_validation: str,
        field_manager: str | None,
    ) -> WriteResult:
        """Server-side apply, simplified: create if absent, else merge (no field ownership)."""
        if not field_manager:
            raise KubeApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
                {
                    "group": "meta.k8s.io",
                    "kind": "PatchOptions",
                    "causes": [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value: is required for apply patch",
                            "field": "fieldManager",
                        }
                    ],
                },
            )
        if not isinstance(patch, dict):
            raise bad_request("the applied configuration is not an object")
        meta = _as_dict(patch.get("metadata"))
        if meta.get("name") and meta["name"] != name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        existing = self.store(rt).get(namespace or "", name)
        if existing is None:
            if subresource:
                raise not_found(rt, name)
            body = deep_copy(patch)
            body.setdefault("metadata", {})["name"] = name
            return self.create(rt, namespace, body, dry_run=dry_run, field_validation=field_validation)
        existing = self.render(rt, existing)
        new = apply_merge(deep_copy(existing), patch, rt.schema)
        rv = (patch.get("metadata") or {}).get("resourceVersion")
        if rv and str(rv) != existing["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        new["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        self._check_type_meta(rt, new)
        return self._write(
            rt, existing, new, subresource=subresource, dry_run=dry_run, field_validation=field_validation
        )

    def _write(
        self,
        rt: ResourceType,
        old: JSON,
        new: JSON,
        *,
        subresource: str | None,
        dry_run: bool,
        field_validation: str,
    ) -> WriteResult:
        """The common part of PUT and PATCH: isolation, server fields, validation, no-op detection, storage."""
        name = old["metadata"]["name"]
        stored = self.store(rt).get(old["metadata"].get("namespace", ""), name)
        old = stored if stored is not None else old  # not the rendered view of another version
        if subresource not in (None, "status") or (subresource == "status" and not rt.has_status):
            raise resource_not_found()
        if subresource == "status":
            final = deep_copy(old)
            if "status" in new:
                final["status"] = new["status"]
            else:
                final.pop("status", None)
        else:
            final = new
            meta = final["metadata"]
            old_meta = old["metadata"]
            for key in SERVER_META:
                if key in old_meta:
                    meta[key] = old_meta[key]
                else:
                    meta.pop(key, None)
            meta.pop("selfLink", None)
            meta.pop("managedFields", None)
            if rt.namespaced:
                meta["namespace"] = old_meta.get("namespace")
            else:
                meta.pop("namespace", None)
            if rt.has_status:
                if "status" in old:
                    final["status"] = deep_copy(old["status"])
                else:
                    final.pop("status", None)
            if old_meta.get("deletionTimestamp"):
                added = [
                    f for f in meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])
                ]
                if added:
                    listed = " ".join(json.dumps(f) for f in added).replace('" "', '", "')
                    raise invalid(
                        rt,
                        name,
                        [
                            FieldError(
                                FORBIDDEN,
                                "metadata.finalizers",
                                detail="no new finalizers can be added if the object is being deleted, "
                                f"found new finalizers []string{{{listed}}}",
                            )
                        ],
                    )
        final["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        final["apiVersion"] = rt.storage_api_version
        warnings = self._normalize(rt, final, old, field_validation)
        if rt.tracks_generation and subresource is None:
            if _without_metadata(final) != _without_metadata(old):
                final["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        self._builtin_update_hooks(rt, final, old)
        self._validate(rt, final, old)
        if rt.plural == "customresourcedefinitions" and rt.group == "apiextensions.k8s.io":
            self._crd_prepare(final, old)
        meta = final["metadata"]
        release = bool(meta.get("deletionTimestamp")) and not meta.get("finalizers")
        if rt.plural == "namespaces" and rt.group == "":
            release = release and not (final.get("spec") or {}).get("finalizers")
        if final == old:
            return WriteResult(old, warnings)  # a no-op: same resourceVersion, no event
        if dry_run:
            return WriteResult(final, warnings)
        store = self.store(rt)
        meta["resourceVersion"] = str(self._next_rv())
        if release:
            store.remove(old)
            self._record(store, "DELETED", final, old)
            self._after_removal(rt, final)
            return WriteResult(final, warnings, removed=True)
        store.put(final)
        self._record(store, "MODIFIED", final, old)
        if rt.plural == "customresourcedefinitions" and rt.group == "apiextensions.k8s.io":
            self._crd_activate(final)
        return WriteResult(final, warnings)

    # -- writing: delete

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        options: JSON | None = None,
        *,
        dry_run: bool = False,
    ) -> WriteResult:
        old = self.get(rt, namespace, name)
        options = options or {}
        preconditions = options.get("preconditions") or {}
        meta = old["metadata"]
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            raise conflict(
                rt,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, UID in object meta: {meta.get('uid')}",
            )
        if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta.get(
            "resourceVersion"
        ):
            raise conflict(
                rt,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, ResourceVersion in object meta: {meta.get('resourceVersion')}",
            )
        if meta.get("deletionTimestamp"):
            return WriteResult(old, pending=True)  # already being deleted: nothing changes
        is_namespace = rt.plural == "namespaces" and rt.group == ""
        if meta.get("finalizers") or is_namespace:
            final = deep_copy(old)
            fmeta = final["metadata"]
            fmeta["deletionTimestamp"] = now_rfc3339()
            fmeta["deletionGracePeriodSeconds"] = 0
            if rt.tracks_generation:
                fmeta["generation"] = int(fmeta.get("generation", 1)) + 1
            if is_namespace:
                final.setdefault("status", {})["phase"] = "Terminating"
            if dry_run:
                return WriteResult(final, pending=True)
            store = self.store(rt)
            fmeta["resourceVersion"] = str(self._next_rv())
            store.put(final)
            self._record(store, "MODIFIED", final, old)
            if is_namespace:
                self._terminate_namespace(name)
                current = store.get("", name)
                if current is None:
                    return WriteResult(final, removed=True)
                return WriteResult(current, pending=True)
            return WriteResult(final, pending=True)
        if dry_run:
            return WriteResult(old, removed=True)
        return WriteResult(self._remove(rt, old), removed=True)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        options: JSON | None = None,
        *,
        dry_run: bool = False,
    ) -> list[JSON]:
        result = []
        for obj in self.select(rt, namespace, label_selector, field_selector):
            meta = obj["metadata"]
            result.append(self.delete(rt, meta.get("namespace"), meta["name"], options, dry_run=dry_run).obj)
        return result

    def _remove(self, rt: ResourceType, old: JSON) -> JSON:
        final = dict(old)
        final["metadata"] = dict(old["metadata"])
        final["metadata"]["resourceVersion"] = str(self._next_rv())
        store = self.store(rt)
        store.remove(old)
        self._record(store, "DELETED", final, old)
        self._after_removal(rt, final)
        return final

    def _after_removal(self, rt: ResourceType, obj: JSON) -> None:
        if rt.plural == "customresourcedefinitions" and rt.group == "apiextensions.k8s.io":
            self._crd_deactivate(obj)
        namespace = obj["metadata"].get("namespace")
        if namespace:
            self._maybe_finish_namespace(namespace)

    # -- namespaces

    def _check_namespace_open(self, namespace: str) -> None:
        ns_type = self.types.get(("", "v1", "namespaces"))
        if ns_type is None:
            return
        ns = self.store(ns_type).get("", namespace)
        if ns is None:
            raise KubeApiError(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        if ns["metadata"].get("deletionTimestamp"):
            raise KubeApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being terminated",
                {
                    "name": namespace,
                    "kind": "namespaces",
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _terminate_namespace(self, namespace: str) -> None:
        """What the namespace controller does: delete all the content, then finalize the namespace."""
        for rt in list(self.types.values()):
            if not rt.namespaced:
                continue
            store = self.store(rt)
            for obj in list(store.iter(namespace)):
                if store.get(namespace, obj["metadata"]["name"]) is obj:
                    self.delete(rt, namespace, obj["metadata"]["name"])
        self._maybe_finish_namespace(namespace)

    def _maybe_finish_namespace(self, namespace: str) -> None:
        ns_type = self.types.get(("", "v1", "namespaces"))
        if ns_type is None:
            return
        store = self.store(ns_type)
        ns = store.get("", namespace)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if any(s.count(namespace) for s in self.stores.values() if s is not store):
            return
        if ns["metadata"].get("finalizers"):
            return
        self._remove(ns_type, ns)

    # -- hooks of built-in types

    def _builtin_create_hooks(self, rt: ResourceType, obj: JSON) -> None:
        if rt.group == "" and rt.plural == "namespaces":
            obj.setdefault("spec", {})["finalizers"] = [TERMINATING_FINALIZER]
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"].get(
                "name", ""
            )
        if rt.group == "" and rt.plural == "secrets":
            obj.setdefault("type", "Opaque")
            self._secret_string_data(rt, obj)

    def _builtin_update_hooks(self, rt: ResourceType, obj: JSON, old: JSON) -> None:
        if rt.group == "" and rt.plural == "namespaces":
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        if rt.group == "" and rt.plural in ("secrets", "configmaps"):
            if rt.plural == "secrets":
                self._secret_string_data(rt, obj)
                if obj.get("type", "Opaque") != old.get("type", "Opaque"):
                    raise invalid(
                        rt,
                        obj["metadata"]["name"],
                        [FieldError(INVALID, "type", obj.get("type"), "field is immutable")],
                    )
            if old.get("immutable"):
                for key in ("data", "binaryData", "stringData"):
                    if obj.get(key) != old.get(key):
                        raise invalid(
                            rt,
                            obj["metadata"]["name"],
                            [FieldError(FORBIDDEN, key, detail="field is immutable when `immutable` is set")],
                        )

    def _secret_string_data(self, rt: ResourceType, obj: JSON) -> None:
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        for key, value in (obj.get("data") or {}).items():
            if not isinstance(value, str):
                raise bad_request(
                    f'Secret in version "v1" cannot be handled as a Secret: illegal data for key {key!r}'
                )
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise bad_request(
                    'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0'
                ) from None

    # -- CRDs

    def _crd_prepare(self, crd: JSON, old: JSON | None) -> None:
        """Validate a CRD enough to serve it, and fill its status like the apiextensions controllers."""
        name = crd["metadata"]["name"]
        rt = self.type("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        spec = _as_dict(crd.get("spec"))
        names = _as_dict(spec.get("names"))
        errors: list[FieldError] = []
        group = spec.get("group")
        plural = names.get("plural")
        if not group:
            errors.append(FieldError(REQUIRED, "spec.group"))
        if not plural:
            errors.append(FieldError(REQUIRED, "spec.names.plural"))
        if not names.get("kind"):
            errors.append(FieldError(REQUIRED, "spec.names.kind"))
        if group and plural and name != f"{plural}.{group}":
            errors.append(
                FieldError(INVALID, "metadata.name", name, 'must be spec.names.plural+"."+spec.group')
            )
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            errors.append(
                FieldError(INVALID, "spec.scope", spec.get("scope"), "must be either Namespaced or Cluster")
                if spec.get("scope")
                else FieldError(REQUIRED, "spec.scope")
            )
        raw_versions = spec.get("versions")
        versions: list[Any] = raw_versions if isinstance(raw_versions, list) else []
        if not versions:
            errors.append(
                FieldError(
                    INVALID,
                    "spec.versions",
                    versions,
                    "must have exactly one version marked as storage version",
                )
            )
        elif sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
            errors.append(
                FieldError(
                    INVALID,
                    "spec.versions",
                    versions,
                    "must have exactly one version marked as storage version",
                )
            )
        for i, ver in enumerate(versions):
            schema = ((ver or {}).get("schema") or {}).get("openAPIV3Schema")
            if schema is not None:
                errors.extend(compile_rules(schema, f"spec.versions[{i}].schema.openAPIV3Schema"))
        if old is None and group and plural:
            for other in self.crd_types:
                if other != name and other == f"{plural}.{group}":
                    errors.append(FieldError(INVALID, "metadata.name", name, "already in use"))
        if errors:
            raise invalid(rt, name, errors)
        established = now_rfc3339()
        previous = (old or {}).get("status") or {}
        for cond in previous.get("conditions") or []:
            if cond.get("type") == "Established":
                established = cond.get("lastTransitionTime", established)
        stored = list(previous.get("storedVersions") or [])
        storage = next(v["name"] for v in versions if v.get("storage"))
        if storage not in stored:
            stored.append(storage)
        crd["status"] = {
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": established,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": established,
                },
            ],
            "acceptedNames": deep_copy(names),
            "storedVersions": stored,
        }

    def _crd_activate(self, crd: JSON) -> None:
        name = crd["metadata"]["name"]
        for rt in self.crd_types.pop(name, []):
            self.unregister(rt)
        types = crd_resource_types(crd)
        storage = next((v.get("name") for v in crd["spec"]["versions"] if v.get("storage")), None)
        for rt in types:
            self.register(rt)
        self.crd_types[name] = types
        if storage:
            store = self.stores[types[0].storage_key] if types else None
            if store is not None:
                for obj in list(store.iter(None)):
                    store.put({**obj, "apiVersion": f"{crd['spec']['group']}/{storage}"})

    def _crd_deactivate(self, crd: JSON) -> None:
        name = crd["metadata"]["name"]
        types = self.crd_types.pop(name, [])
        if not types:
            return
        store = self.stores.get(types[0].storage_key)
        if store is not None:
            for obj in list(store.iter(None)):
                self._remove(types[0], obj)
            for watcher in list(store.watchers):
                watcher.offer(None)
            del self.stores[types[0].storage_key]
        for rt in types:
            self.unregister(rt)

    # -- validation & normalization

    def _check_type_meta(self, rt: ResourceType, obj: JSON) -> None:
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if rt.custom:
            if not kind:
                raise bad_request(
                    f"Object 'Kind' is missing in '{json.dumps(obj, separators=(',', ':'))[:200]}'"
                )
            if not api_version:
                raise bad_request(
                    f"Object 'apiVersion' is missing in '{json.dumps(obj, separators=(',', ':'))[:200]}'"
                )
        if api_version and api_version != rt.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
            )
        if kind and kind != rt.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind

    def _normalize(self, rt: ResourceType, obj: JSON, old: JSON | None, field_validation: str) -> list[str]:
        """Pruning and defaulting of custom resources; unknown fields are warnings or (Strict) errors."""
        if not rt.custom or rt.schema is None:
            return []
        dropped = prune(obj, rt.schema, root=True)
        apply_defaults(obj, rt.schema)
        if not dropped or field_validation == "Ignore":
            return []
        messages = [f'unknown field "{path}"' for path in dropped]
        if field_validation == "Strict":
            noun = f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}'
            raise bad_request(f"{noun}: strict decoding error: {', '.join(messages)}")
        return messages

    def _validate(self, rt: ResourceType, obj: JSON, old: JSON | None) -> None:
        name = obj["metadata"].get("name", "")
        errors = self._validate_meta(rt, obj, old)
        if rt.custom and rt.schema is not None:
            errors.extend(validate(obj, old, rt.schema, update=old is not None))
        if errors:
            raise invalid(rt, name, errors)

    def _validate_meta(self, rt: ResourceType, obj: JSON, old: JSON | None) -> list[FieldError]:
        errors: list[FieldError] = []
        meta = obj["metadata"]
        name = meta.get("name")
        if old is None:
            if not name:
                errors.append(
                    FieldError(REQUIRED, "metadata.name", detail="name or generateName is required")
                )
            elif rt.plural == "namespaces" and rt.group == "":
                if len(name) > 63 or not DNS1123_LABEL.match(name):
                    errors.append(FieldError(INVALID, "metadata.name", name, LABEL_MSG))
            elif rt.plural != "events" and (len(name) > 253 or not DNS1123_SUBDOMAIN.match(name)):
                errors.append(FieldError(INVALID, "metadata.name", name, SUBDOMAIN_MSG))
        labels = meta.get("labels")
        if labels is not None:
            if not isinstance(labels, dict):
                errors.append(FieldError(INVALID, "metadata.labels", labels, "must be a map of strings"))
            else:
                for key, value in labels.items():
                    if not valid_label_key(str(key)):
                        errors.append(FieldError(INVALID, "metadata.labels", key, QUALIFIED_NAME_MSG))
                    if not isinstance(value, str) or not valid_label_value(value):
                        errors.append(FieldError(INVALID, "metadata.labels", value, LABEL_VALUE_MSG))
        annotations = meta.get("annotations")
        if annotations is not None:
            if not isinstance(annotations, dict):
                errors.append(
                    FieldError(INVALID, "metadata.annotations", annotations, "must be a map of strings")
                )
            else:
                total = 0
                for key, value in annotations.items():
                    if not valid_label_key(str(key).lower()) and not valid_label_key(str(key)):
                        errors.append(FieldError(INVALID, "metadata.annotations", key, QUALIFIED_NAME_MSG))
                    if not isinstance(value, str):
                        errors.append(
                            FieldError(INVALID, f"metadata.annotations.{key}", value, "must be a string")
                        )
                    total += len(str(key)) + len(str(value))
                if total > 262144:
                    errors.append(
                        FieldError(
                            TOO_LONG, "metadata.annotations", detail="may not be more than 262144 bytes"
                        )
                    )
        finalizers = meta.get("finalizers")
        if finalizers is not None:
            if not isinstance(finalizers, list):
                errors.append(
                    FieldError(INVALID, "metadata.finalizers", finalizers, "must be a list of strings")
                )
            else:
                for i, fin in enumerate(finalizers):
                    if not isinstance(fin, str) or not valid_label_key(fin):
                        errors.append(
                            FieldError(INVALID, f"metadata.finalizers[{i}]", fin, QUALIFIED_NAME_MSG)
                        )
        return errors


def _as_dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _without_metadata(obj: JSON) -> JSON:
    return {k: v for k, v in obj.items() if k != "metadata"}


def parse_resource_version(value: str | None, param: str = "resourceVersion") -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_request(
            f'{param}: Invalid value: "{value}": strconv.ParseUint: parsing "{value}": invalid syntax'
        ) from None
    if number < 0:
        raise bad_request(f'{param}: Invalid value: "{value}": invalid resource version')
    return number


def encode_continue(rv: int, namespace: str, name: str) -> str:
    token = json.dumps(
        {"v": "meta.k8s.io/v1", "rv": rv, "start": f"{namespace}/{name}"}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        namespace, _, name = str(data["start"]).partition("/")
        return int(data["rv"]), (namespace, name)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        ) from None


Predicate = Callable[[], Any]

"""The simulated control plane's data: objects per collection and workspace, deployments on a lazy clock.

Nothing here knows about HTTP. What differs between collections comes from :mod:`.catalog`.
Deployment progress is not driven by tasks: every deployment keeps its schedule
(``[(time, status, message), ...]``) and an object's status and events are computed from the clock
when asked, so thousands of objects cost nothing while idle.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import heapq
import itertools
import json
import random
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .catalog import AGENTS, COLLECTIONS, FUNCTIONS, JOBS, MODELS, POLICIES, Collection, Lifecycle
from .config import SimulatorConfig
from .errors import ApiError
from .validation import validate_object

UPLOADING = "UPLOADING"
BUILDING = "BUILDING"
BUILT = "BUILT"
DEPLOYING = "DEPLOYING"
DEPLOYED = "DEPLOYED"
FAILED = "FAILED"
DEACTIVATING = "DEACTIVATING"
DEACTIVATED = "DEACTIVATED"
DELETING = "DELETING"
TERMINATED = "TERMINATED"

#: Statuses the ``status`` list filter accepts (the description's enum plus the documented newer ones).
KNOWN_STATUSES: frozenset[str] = frozenset(
    {
        UPLOADING,
        BUILDING,
        BUILT,
        DEPLOYING,
        DEPLOYED,
        FAILED,
        DEACTIVATING,
        DEACTIVATED,
        DELETING,
        TERMINATED,
        "ARCHIVING",
        "ARCHIVED",
        "UNARCHIVING",
    }
)
SORTS: tuple[str, ...] = ("createdAt:desc", "createdAt:asc", "name:asc", "name:desc")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CURSOR_TTL_SECONDS = 24 * 3600

#: How secret values are returned without ``show_secrets=true`` (the real mask is undocumented).
SECRET_MASK = "********"
#: How trigger callback secrets are returned (documented).
CALLBACK_SECRET_MASK = "****"

_MESSAGE_TEMPLATES: dict[str, str] = {
    UPLOADING: "Uploading {noun} code",
    BUILDING: "Building {noun} image",
    DEPLOYING: "Deploying {noun}",
    DEPLOYED: "Deployment successful",
    FAILED: "Deployment failed",
    DEACTIVATING: "Deactivating {noun}",
    DEACTIVATED: "{Noun} deactivated",
    DELETING: "Deleting {noun}",
}
_VOLUME_MESSAGES: dict[str, str] = {
    DEPLOYING: "Provisioning volume",
    DEPLOYED: "Volume ready",
    FAILED: "Volume provisioning failed",
    DELETING: "Deleting volume",
}


def message_for(collection: Collection, status: str) -> str:
    """The event message of ``status`` for an object of ``collection``."""
    if collection.lifecycle is Lifecycle.VOLUME:
        return _VOLUME_MESSAGES[status]
    noun = collection.noun
    return _MESSAGE_TEMPLATES[status].format(noun=noun, Noun=noun[:1].upper() + noun[1:])


#: The agents' event messages (kept for callers of the agents-only simulator).
MESSAGES: dict[str, str] = {status: message_for(AGENTS, status) for status in _MESSAGE_TEMPLATES}

Event = tuple[float, str, str]


def rfc3339(timestamp: float) -> str:
    """``2026-05-01T12:00:00.123456Z``."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def actor_of_key(api_key: str) -> str:
    """The ``createdBy``/``updatedBy`` of calls made with ``api_key`` (never the key itself)."""
    return "apikey:" + hashlib.sha256(api_key.encode()).hexdigest()[:10]


class Clock:
    """Wall time plus an offset that tests can advance (``advance(60)`` = one minute later)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._last = 0.0

    def now(self) -> float:
        """Strictly increasing, so creation times order objects without ties."""
        now = max(time.time() + self.offset, self._last + 1e-6)
        self._last = now
        return now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds


@dataclass
class Deployment:
    """One deployment (= one revision) and its planned progression."""

    revision: str
    created_at: float
    created_by: str
    schedule: list[Event]
    #: Shown before the schedule starts (the stale-FAILED quirk); None: the first scheduled status.
    before: str | None = None

    def status_at(self, now: float) -> str:
        current = self.before or (self.schedule[0][1] if self.schedule else UPLOADING)
        for at, status, _ in self.schedule:
            if at > now:
                break
            current = status
        return current

    def events_at(self, now: float) -> list[Event]:
        return [event for event in self.schedule if event[0] <= now]

    def cut(self, now: float) -> None:
        """Stop here: a superseded/interrupted deployment makes no further progress."""
        self.schedule = self.events_at(now)

    def settled_at(self) -> float:
        return self.schedule[-1][0] if self.schedule else self.created_at


@dataclass
class ObjectRecord:
    """One object of a collection in a workspace."""

    workspace: str
    name: str
    #: user-settable metadata only (displayName, externalId, labels)
    metadata: dict[str, Any]
    #: normalized spec, unmasked (defaults, trigger ids and callback secrets filled in)
    spec: dict[str, Any]
    created_at: float
    updated_at: float
    created_by: str
    updated_by: str
    deployments: deque[Deployment]
    serial: int
    deleting_at: float | None = None
    gone_at: float | None = None
    collection: Collection = AGENTS
    #: server-side fields set out of band (a volume's ``state``)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def deleting(self) -> bool:
        return self.deleting_at is not None

    def status_at(self, now: float) -> str | None:
        """The object's status (None for collections without one)."""
        if not self.collection.has_status:
            return None
        if self.deleting_at is not None:
            return DELETING
        return self.deployments[-1].status_at(now) if self.deployments else DEPLOYED


#: The record of an agent (the simulator served only agents at first).
AgentRecord = ObjectRecord


@dataclass
class FailMarker:
    """Make the next ``remaining`` deployments of an object fail (``None``: all of them)."""

    remaining: int | None
    message: str = "Build failed: simulated failure"


@dataclass
class ListResult:
    records: list[ObjectRecord]
    meta: dict[str, Any] | None = None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def deep_merge(stored: Any, body: Any) -> Any:
    """A PUT body merged into the stored object: objects merge key by key, anything else replaces.

    A field absent from the body, or ``null`` in it, keeps its stored value (a server that decodes
    into pointers and copies the non-nil ones); lists are replaced as a whole.
    """
    if body is None:
        return copy.deepcopy(stored)
    if not isinstance(body, dict) or not isinstance(stored, dict):
        return copy.deepcopy(body)
    result = copy.deepcopy(stored)
    for key, value in body.items():
        if value is not None:
            result[key] = deep_merge(stored.get(key), value)
    return result


@dataclass
class SimulatorState:
    config: SimulatorConfig
    clock: Clock = field(default_factory=Clock)
    rng: random.Random = field(default_factory=random.Random)
    #: collection path -> workspace -> name -> object
    stores: dict[str, dict[str, dict[str, ObjectRecord]]] = field(default_factory=dict)
    #: (collection path, workspace, name) -> what makes its next deployments fail
    fail_markers: dict[tuple[str, str, str], FailMarker] = field(default_factory=dict)
    _purge_heap: list[tuple[float, int, str, str, str]] = field(default_factory=list)
    _serials: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # ---------------------------------------------------------------- helpers

    def _random_hex(self, length: int) -> str:
        return f"{self.rng.getrandbits(length * 4):0{length}x}"

    def _next_serial(self) -> int:
        return next(self._serials)

    def purge(self) -> None:
        """Forget objects whose deletion delay is over."""
        now = self.clock.now()
        heap = self._purge_heap
        while heap and heap[0][0] <= now:
            _, serial, path, workspace, name = heapq.heappop(heap)
            objects = self.stores.get(path, {}).get(workspace)
            if objects is not None and name in objects and objects[name].serial == serial:
                del objects[name]

    def objects_of(self, collection: Collection, workspace: str) -> dict[str, ObjectRecord]:
        self.purge()
        return self.stores.setdefault(collection.path, {}).setdefault(workspace, {})

    def agents_of(self, workspace: str) -> dict[str, ObjectRecord]:
        return self.objects_of(AGENTS, workspace)

    def get(self, collection: Collection, workspace: str, name: str) -> ObjectRecord:
        record = self.objects_of(collection, workspace).get(name)
        if record is None:
            raise ApiError(
                404, "not_found", f"{collection.noun} {name!r} not found in workspace {workspace!r}"
            )
        return record

    def find(self, collection: Collection, workspace: str, name: str) -> ObjectRecord | None:
        return self.objects_of(collection, workspace).get(name)

    def _validate(
        self, collection: Collection, body: Any, path_name: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        return validate_object(
            body,
            collection.schema,
            collection.noun,
            path_name=path_name,
            cross_checks=collection.cross_checks,
        )

    def _normalize_spec(
        self, collection: Collection, spec: dict[str, Any], previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        spec = dict(spec)
        for key, default in collection.spec_defaults.items():
            spec.setdefault(key, default)
        triggers = spec.get("triggers") if collection.triggers else None
        if triggers:
            old_secrets: dict[str, str] = {}
            for old in (previous or {}).get("triggers") or []:
                secret = (old.get("configuration") or {}).get("callbackSecret")
                if secret and old.get("id"):
                    old_secrets[old["id"]] = secret
            seen: set[str] = set()
            normalized = []
            for trigger in triggers:
                trigger = dict(trigger)
                trigger_id = trigger.get("id") or f"trigger-{self._random_hex(8)}"
                if trigger_id in seen:
                    trigger_id = next(
                        f"{trigger_id}-{n}" for n in itertools.count(2) if f"{trigger_id}-{n}" not in seen
                    )
                seen.add(trigger_id)
                trigger["id"] = trigger_id
                trigger.setdefault("enabled", True)
                if trigger.get("type") == "http-async":
                    configuration = dict(trigger.get("configuration") or {})
                    configuration["callbackSecret"] = old_secrets.get(trigger_id) or self._random_hex(32)
                    trigger["configuration"] = configuration
                normalized.append(trigger)
            spec["triggers"] = normalized
        return spec

    def _consume_fail_marker(self, collection: Collection, workspace: str, name: str) -> str | None:
        key = (collection.path, workspace, name)
        marker = self.fail_markers.get(key)
        if marker is None:
            return None
        if marker.remaining is not None:
            marker.remaining -= 1
            if marker.remaining <= 0:
                del self.fail_markers[key]
        return marker.message

    def _statuses(self, record: ObjectRecord) -> tuple[list[str], str | None]:
        """The statuses a new deployment of ``record`` goes through, and its failure message."""
        collection, spec = record.collection, record.spec
        if "enabled" in collection.spec_defaults and not spec.get("enabled", True):
            return [DEACTIVATING, DEACTIVATED], None
        fail_message = self._consume_fail_marker(collection, record.workspace, record.name)
        runtime = spec.get("runtime") or {}
        image = runtime.get("image") or ""
        marker = self.config.fail_image_marker
        if fail_message is None and marker and marker in image:
            fail_message = f"Build failed: image {image!r} is marked to fail ({marker!r})"
        if not collection.builds or (self.config.image_skips_build and image and not spec.get("repository")):
            statuses = [DEPLOYING]
        else:
            statuses = [UPLOADING, BUILDING] if fail_message else [UPLOADING, BUILDING, DEPLOYING]
        statuses.append(FAILED if fail_message else DEPLOYED)
        return statuses, fail_message

    def _deploy(self, record: ObjectRecord, actor: str, now: float, *, settled: bool = False) -> Deployment:
        previous = record.deployments[-1] if record.deployments else None
        previous_status = previous.status_at(now) if previous else None
        if previous is not None:
            previous.cut(now)
        statuses, fail_message = self._statuses(record)
        step = 0.0 if settled else self.config.step_seconds
        start, before = now, None
        stale = self.config.stale_failed_seconds
        if not settled and stale > 0 and previous_status == FAILED:
            start, before = now + stale, FAILED
        schedule = [
            (
                start + index * step,
                status,
                (
                    fail_message
                    if status == FAILED and fail_message
                    else message_for(record.collection, status)
                ),
            )
            for index, status in enumerate(statuses)
        ]
        deployment = Deployment(
            revision=f"rev-{self._random_hex(10)}",
            created_at=now,
            created_by=actor,
            schedule=schedule,
            before=before,
        )
        record.deployments.append(deployment)
        return deployment

    # ---------------------------------------------------------------- API operations

    def create(
        self, collection: Collection, workspace: str, body: Any, actor: str, *, settled: bool = False
    ) -> ObjectRecord:
        metadata, spec = self._validate(collection, body)
        name = metadata.pop("name")
        objects = self.objects_of(collection, workspace)
        existing = objects.get(name)
        if existing is not None:
            detail = " and is being deleted" if existing.deleting else ""
            raise ApiError(409, "conflict", f"{collection.noun} {name!r} already exists{detail}")
        now = self.clock.now()
        record = ObjectRecord(
            workspace=workspace,
            name=name,
            metadata=metadata,
            spec=self._normalize_spec(collection, spec, None),
            created_at=now,
            updated_at=now,
            created_by=actor,
            updated_by=actor,
            deployments=deque(maxlen=self.config.max_revisions),
            serial=self._next_serial(),
            collection=collection,
        )
        if collection.has_status:
            self._deploy(record, actor, now, settled=settled)
        objects[name] = record
        return record

    def update(
        self,
        collection: Collection,
        workspace: str,
        name: str,
        body: Any,
        actor: str,
        *,
        merge: bool = False,
    ) -> ObjectRecord:
        """PUT: replace metadata and spec (``merge``: deep-merge the body into them instead)."""
        if not merge:
            metadata, spec = self._validate(collection, body, path_name=name)
        record = self.get(collection, workspace, name)
        if record.deleting:
            raise ApiError(409, "conflict", f"{collection.noun} {name!r} is being deleted")
        if merge:
            if not isinstance(body, dict):
                self._validate(collection, body, path_name=name)  # raises: not an object
            current = {"metadata": {"name": name, **record.metadata}, "spec": record.spec}
            metadata, spec = self._validate(collection, deep_merge(current, body), path_name=name)
        if collection.update_checks is not None:
            errors: list[str] = []
            collection.update_checks(record.spec, spec, errors)
            if errors:
                raise ApiError(400, "validation_error", "; ".join(errors))
        metadata.pop("name", None)
        now = self.clock.now()
        record.metadata = metadata
        record.spec = self._normalize_spec(collection, spec, record.spec)
        record.updated_at = now
        record.updated_by = actor
        if collection.deploys:
            self._deploy(record, actor, now)
        return record

    def delete(self, collection: Collection, workspace: str, name: str, actor: str) -> ObjectRecord:
        record = self.get(collection, workspace, name)
        attached = (record.extra.get("state") or {}).get("attachedTo")
        if attached and not record.deleting:
            raise ApiError(409, "conflict", f"{collection.noun} {name!r} is attached to {attached}")
        if not collection.deletes_slowly:
            del self.objects_of(collection, workspace)[name]
            return record
        if not record.deleting:
            now = self.clock.now()
            if record.deployments:
                record.deployments[-1].cut(now)
            record.deleting_at = now
            record.gone_at = now + self.config.delete_seconds
            record.updated_at = now
            record.updated_by = actor
            heapq.heappush(
                self._purge_heap, (record.gone_at, record.serial, collection.path, workspace, name)
            )
        return record

    def list_objects(
        self, collection: Collection, workspace: str, query: Mapping[str, str], *, paginated: bool
    ) -> ListResult:
        records = list(self.objects_of(collection, workspace).values())
        if not collection.paginated:
            records.sort(key=lambda r: (r.created_at, r.name), reverse=True)
            return ListResult(records)
        statuses = parse_status_filter(query.get("status")) if collection.status_filter else frozenset()
        external_id = query.get("externalId") if collection.lifecycle is Lifecycle.VOLUME else None
        if external_id:
            records = [r for r in records if r.metadata.get("externalId") == external_id]
        if not paginated:
            records.sort(key=lambda r: (r.created_at, r.name), reverse=True)
            return ListResult(records)
        sort = query.get("sort") or "createdAt:desc"
        if sort not in SORTS:
            raise ApiError(400, "bad_request", f"sort: must be one of {', '.join(SORTS)}, got {sort!r}")
        limit = _parse_limit(query.get("limit"))
        raw_q = query.get("q") or ""
        if len(raw_q) > 200:
            raise ApiError(400, "bad_request", "q: must be at most 200 characters")
        search = raw_q.strip().lower()
        if len(search) < 2:
            search = ""
        anchor = query.get("anchor")
        if anchor not in (None, "", "end"):
            raise ApiError(400, "bad_request", f"anchor: must be 'end', got {anchor!r}")
        if anchor == "end" and not sort.startswith("createdAt"):
            raise ApiError(400, "bad_request", "anchor=end is only supported for createdAt sorts")
        now = self.clock.now()
        total = len(self.objects_of(collection, workspace))
        if search:
            records = [r for r in records if _matches(r, search)]
        if statuses:
            records = [r for r in records if r.status_at(now) in statuses]
        by_name = sort.startswith("name")

        def key(r: ObjectRecord) -> tuple[Any, ...]:
            return (r.name,) if by_name else (r.created_at, r.name)

        descending = sort.endswith(":desc")
        records.sort(key=key, reverse=descending)
        fingerprint = hashlib.sha256(
            "\x00".join(
                [collection.path, workspace, search, ",".join(sorted(statuses)), sort, external_id or ""]
            ).encode()
        ).hexdigest()[:16]
        cursor = query.get("cursor")
        if cursor and anchor != "end":
            after = _decode_cursor(cursor, fingerprint, now)
            if descending:
                records = [r for r in records if key(r) < after]
            else:
                records = [r for r in records if key(r) > after]
        if anchor == "end":
            page, has_more = records[-limit:], False
        else:
            page, has_more = records[:limit], len(records) > limit
        next_cursor = _encode_cursor(fingerprint, key(page[-1]), now) if has_more and page else ""
        return ListResult(page, {"hasMore": has_more, "nextCursor": next_cursor, "total": total})

    def list_agents(self, workspace: str, query: Mapping[str, str], *, paginated: bool) -> ListResult:
        return self.list_objects(AGENTS, workspace, query, paginated=paginated)

    def find_by_external_id(self, collection: Collection, workspace: str, external_id: str) -> ObjectRecord:
        """The active object whose ``metadata.externalId`` is ``external_id`` (404 when none)."""
        for record in self.objects_of(collection, workspace).values():
            if record.metadata.get("externalId") == external_id and not record.deleting:
                return record
        raise ApiError(
            404, "not_found", f"no active {collection.noun} with externalId {external_id!r} in {workspace!r}"
        )

    # ---------------------------------------------------------------- rendering

    def render(self, record: ObjectRecord, *, show_secrets: bool = False) -> dict[str, Any]:
        """The object as the API returns it."""
        now = self.clock.now()
        collection, workspace = record.collection, record.workspace
        metadata: dict[str, Any] = {"name": record.name}
        metadata.update(record.metadata)
        metadata["workspace"] = workspace
        if collection.has_url:
            metadata["url"] = f"{self.config.run_url.rstrip('/')}/{workspace}/{collection.path}/{record.name}"
        metadata.update(
            {
                "plan": self.config.plan,
                "createdAt": rfc3339(record.created_at),
                "updatedAt": rfc3339(record.updated_at),
                "createdBy": record.created_by,
                "updatedBy": record.updated_by,
            }
        )
        if "labels" in metadata:
            metadata["labels"] = dict(metadata["labels"])
        body: dict[str, Any] = {
            "metadata": metadata,
            "spec": _render_spec(collection, record.spec, show_secrets),
        }
        if collection.has_status:
            body["status"] = record.status_at(now)
            body["events"] = self._events(record, now)
        if collection.lifecycle is Lifecycle.VOLUME:
            body["state"] = dict(record.extra.get("state") or {})
            if record.deleting_at is not None:
                body["terminatedAt"] = rfc3339(record.deleting_at)
        return body

    def render_list(
        self, collection: Collection, records: list[ObjectRecord], *, paginated: bool
    ) -> list[Any]:
        """The items of a list answer (volumes are listed in their lite shape from 2026-04-28)."""
        if collection.lifecycle is Lifecycle.VOLUME and paginated:
            return [self._lite_volume(record) for record in records]
        items = [self.render(record) for record in records]
        if collection is POLICIES and records:
            counts = self._policy_usage_counts(records[0].workspace)
            for item in items:
                item["usage"] = counts.get(item["metadata"]["name"], _zero_usage())
        return items

    def _lite_volume(self, record: ObjectRecord) -> dict[str, Any]:
        full = self.render(record)
        metadata = {k: v for k, v in full["metadata"].items() if k in _LITE_VOLUME_METADATA}
        spec = {k: v for k, v in full["spec"].items() if k in ("region", "size")}
        lite = {"metadata": metadata, "spec": spec, "state": full["state"], "status": full["status"]}
        if "terminatedAt" in full:
            lite["terminatedAt"] = full["terminatedAt"]
        return lite

    def _users_of_policies(self, workspace: str) -> dict[str, dict[str, list[str]]]:
        """policy name -> collection path -> names of the objects that list it in ``spec.policies``."""
        users: dict[str, dict[str, list[str]]] = {}
        for collection in (AGENTS, FUNCTIONS, JOBS, MODELS):
            for record in self.objects_of(collection, workspace).values():
                for policy in record.spec.get("policies") or []:
                    users.setdefault(policy, {}).setdefault(collection.path, []).append(record.name)
        return users

    def _policy_usage_counts(self, workspace: str) -> dict[str, dict[str, int]]:
        return {
            policy: {**_zero_usage(), **{path: len(names) for path, names in by_path.items()}}
            for policy, by_path in self._users_of_policies(workspace).items()
        }

    def policy_usages(self, workspace: str, name: str) -> dict[str, list[dict[str, Any]]]:
        """``GET /policies/{name}/usages``: the objects whose ``spec.policies`` names the policy."""
        self.get(POLICIES, workspace, name)
        by_path = self._users_of_policies(workspace).get(name, {})
        return {key: [{"name": n} for n in sorted(by_path.get(key, []))] for key in _zero_usage()}

    def _events(self, record: ObjectRecord, now: float) -> list[dict[str, Any]]:
        with_revision = record.collection.deploys
        events: list[dict[str, Any]] = []
        for deployment in record.deployments:
            for at, status, message in deployment.events_at(now):
                event = {"type": "deployment", "status": status, "message": message}
                if with_revision:
                    event["revision"] = deployment.revision
                event["time"] = rfc3339(at)
                events.append(event)
        if record.deleting_at is not None:
            event = {
                "type": "deployment",
                "status": DELETING,
                "message": message_for(record.collection, DELETING),
            }
            if with_revision and record.deployments:
                event["revision"] = record.deployments[-1].revision
            event["time"] = rfc3339(record.deleting_at)
            events.append(event)
        return events[-self.config.max_events :]

    def revisions(self, record: ObjectRecord) -> list[dict[str, Any]]:
        now = self.clock.now()
        deployments = list(record.deployments)
        statuses = [d.status_at(now) for d in deployments]
        deployed = [index for index in range(len(deployments) - 1, -1, -1) if statuses[index] == DEPLOYED]
        active = deployed[0] if deployed else None
        previous_active = deployed[1] if len(deployed) > 1 else None
        return [
            {
                "id": deployments[index].revision,
                "active": index == active,
                "canary": False,
                "createdAt": rfc3339(deployments[index].created_at),
                "createdBy": deployments[index].created_by,
                "previousActive": index == previous_active,
                "status": statuses[index],
                "trafficPercent": 100 if index == active else 0,
            }
            for index in range(len(deployments) - 1, -1, -1)
        ]

    # ---------------------------------------------------------------- out-of-band operations

    def edit(
        self,
        collection: Collection,
        workspace: str,
        name: str,
        patch: Mapping[str, Any],
        actor: str,
        *,
        redeploy: bool = True,
    ) -> ObjectRecord:
        """Merge-patch an object's ``metadata``/``spec`` as someone else would (drift).

        Volumes also take ``state`` (``{"attachedTo": "sandbox:x"}``), which only Blaxel sets.
        Immutable fields are not enforced here: out of band, anything can happen.
        """
        allowed = {"metadata", "spec", *collection.admin_fields}
        unknown = sorted(set(patch) - allowed)
        if unknown:
            raise ApiError(
                400,
                "bad_request",
                f"only {', '.join(sorted(allowed))} can be patched, not {', '.join(unknown)}",
            )
        record = self.get(collection, workspace, name)
        if record.deleting:
            raise ApiError(409, "conflict", f"{collection.noun} {name!r} is being deleted")
        state = patch.get("state")
        if state is not None:
            state = merge_patch(record.extra.get("state") or {}, state)
            if not isinstance(state, dict) or not all(isinstance(v, str) for v in state.values()):
                raise ApiError(400, "bad_request", "state: must be an object of strings")
        current = {"metadata": {"name": name, **record.metadata}, "spec": record.spec}
        changes = {key: value for key, value in patch.items() if key in ("metadata", "spec")}
        metadata, spec = self._validate(collection, merge_patch(current, changes), path_name=name)
        metadata.pop("name", None)
        now = self.clock.now()
        record.metadata = metadata
        record.spec = self._normalize_spec(collection, spec, record.spec)
        record.updated_at = now
        record.updated_by = actor
        if state is not None:
            record.extra["state"] = state
        if redeploy and collection.deploys:
            self._deploy(record, actor, now)
        return record

    def remove(self, collection: Collection, workspace: str, name: str) -> bool:
        """Delete an object at once (no DELETING phase). False when there was none."""
        return self.objects_of(collection, workspace).pop(name, None) is not None

    def fail_next(
        self,
        collection: Collection,
        workspace: str,
        name: str,
        *,
        count: int | None = 1,
        message: str | None = None,
    ) -> None:
        """The next ``count`` deployments of the object (``None``: all, until cleared) end FAILED."""
        _needs_status(collection)
        key = (collection.path, workspace, name)
        if count is not None and count <= 0:
            self.fail_markers.pop(key, None)
            return
        self.fail_markers[key] = FailMarker(count, message or "Build failed: simulated failure")

    def fail_now(
        self, collection: Collection, workspace: str, name: str, *, message: str | None = None
    ) -> ObjectRecord:
        """The object's current deployment ends FAILED now (whatever phase it was in)."""
        _needs_status(collection)
        record = self.get(collection, workspace, name)
        if record.deleting:
            raise ApiError(409, "conflict", f"{collection.noun} {name!r} is being deleted")
        now = self.clock.now()
        deployment = record.deployments[-1]
        deployment.cut(now)
        deployment.before = None
        deployment.schedule.append((now, FAILED, message or "Deployment failed: simulated runtime failure"))
        return record

    def counts(self, workspace: str) -> dict[str, int]:
        """Objects of each collection in the workspace."""
        return {path: len(self.objects_of(c, workspace)) for path, c in COLLECTIONS.items()}

    def clear(self) -> None:
        self.stores.clear()
        self.fail_markers.clear()
        self._purge_heap.clear()


_LITE_VOLUME_METADATA = ("name", "displayName", "externalId", "createdAt", "updatedAt")


def _zero_usage() -> dict[str, int]:
    return {"agents": 0, "functions": 0, "jobs": 0, "models": 0, "sandboxes": 0}


def _needs_status(collection: Collection) -> None:
    if not collection.has_status:
        raise ApiError(400, "bad_request", f"{collection.path} have no status: nothing can fail")


def _render_spec(collection: Collection, spec: dict[str, Any], show_secrets: bool) -> dict[str, Any]:
    result = dict(spec)
    runtime = spec.get("runtime")
    if isinstance(runtime, dict):
        runtime = dict(runtime)
        envs = runtime.get("envs")
        if envs:
            runtime["envs"] = [
                {**env, "value": SECRET_MASK}
                if collection.secret_envs and env.get("secret") and "value" in env and not show_secrets
                else dict(env)
                for env in envs
            ]
        result["runtime"] = runtime
    triggers = spec.get("triggers")
    if triggers:
        rendered = []
        for trigger in triggers:
            trigger = dict(trigger)
            configuration = trigger.get("configuration")
            if isinstance(configuration, dict):
                configuration = dict(configuration)
                if "callbackSecret" in configuration and not show_secrets:
                    configuration["callbackSecret"] = CALLBACK_SECRET_MASK
                trigger["configuration"] = configuration
            rendered.append(trigger)
        result["triggers"] = rendered
    secret_field = collection.secret_map
    if secret_field and isinstance(spec.get(secret_field), dict):
        secrets = spec[secret_field]
        result[secret_field] = dict(secrets) if show_secrets else {key: SECRET_MASK for key in secrets}
    if isinstance(result.get("config"), dict):
        result["config"] = dict(result["config"])
    return result


def parse_status_filter(value: str | None) -> frozenset[str]:
    if not value:
        return frozenset()
    wanted = {part.strip().upper() for part in value.split(",") if part.strip()}
    unknown = sorted(wanted - KNOWN_STATUSES)
    if unknown:
        raise ApiError(400, "bad_request", f"status: unknown status {', '.join(unknown)}")
    return frozenset() if wanted == KNOWN_STATUSES else frozenset(wanted)


def _parse_limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise ApiError(400, "bad_request", f"limit: must be an integer, got {value!r}") from None
    if limit < 1:
        raise ApiError(400, "bad_request", f"limit: must be >= 1, got {limit}")
    return min(limit, MAX_LIMIT)


def _matches(record: ObjectRecord, search: str) -> bool:
    if search in record.name.lower():
        return True
    display = record.metadata.get("displayName")
    if isinstance(display, str) and search in display.lower():
        return True
    labels = record.metadata.get("labels") or {}
    return any(search in key.lower() or search in value.lower() for key, value in labels.items())


def _encode_cursor(fingerprint: str, key: tuple[Any, ...], now: float) -> str:
    raw = json.dumps({"f": fingerprint, "k": list(key), "t": now}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, fingerprint: str, now: float) -> tuple[Any, ...]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key = tuple(data["k"])
        issued = float(data["t"])
        bound = data["f"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "cursor: malformed cursor") from None
    if bound != fingerprint:
        raise ApiError(
            400, "invalid_cursor", "cursor: was issued for a different query (workspace, filters or sort)"
        )
    if now - issued > CURSOR_TTL_SECONDS:
        raise ApiError(400, "invalid_cursor", "cursor: expired (older than 24h)")
    return key

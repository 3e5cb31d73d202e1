"""The simulated control plane's data: agents per workspace, deployments on a lazy clock, listings.

Nothing here knows about HTTP. Deployment progress is not driven by tasks: every deployment keeps
its schedule (``[(time, status, message), ...]``) and the agent's status and events are computed
from the clock when asked, so thousands of agents cost nothing while idle.
"""

from __future__ import annotations

import base64
import binascii
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

from .config import SimulatorConfig
from .errors import ApiError
from .validation import validate_agent

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

#: How secret env values are returned without ``show_secrets=true`` (the real mask is undocumented).
SECRET_MASK = "********"
#: How trigger callback secrets are returned (documented).
CALLBACK_SECRET_MASK = "****"

MESSAGES: dict[str, str] = {
    UPLOADING: "Uploading agent code",
    BUILDING: "Building agent image",
    DEPLOYING: "Deploying agent",
    DEPLOYED: "Deployment successful",
    FAILED: "Deployment failed",
    DEACTIVATING: "Deactivating agent",
    DEACTIVATED: "Agent deactivated",
    DELETING: "Deleting agent",
}

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
        """Strictly increasing, so creation times order agents without ties."""
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
class AgentRecord:
    workspace: str
    name: str
    #: user-settable metadata only (displayName, externalId, labels)
    metadata: dict[str, Any]
    #: normalized spec, unmasked (trigger ids and callback secrets filled in)
    spec: dict[str, Any]
    created_at: float
    updated_at: float
    created_by: str
    updated_by: str
    deployments: deque[Deployment]
    serial: int
    deleting_at: float | None = None
    gone_at: float | None = None

    @property
    def deleting(self) -> bool:
        return self.deleting_at is not None

    def status_at(self, now: float) -> str:
        if self.deleting_at is not None:
            return DELETING
        return self.deployments[-1].status_at(now)


@dataclass
class FailMarker:
    """Make the next ``remaining`` deployments of an agent fail (``None``: all of them)."""

    remaining: int | None
    message: str = "Build failed: simulated failure"


@dataclass
class ListResult:
    records: list[AgentRecord]
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


@dataclass
class SimulatorState:
    config: SimulatorConfig
    clock: Clock = field(default_factory=Clock)
    rng: random.Random = field(default_factory=random.Random)
    workspaces: dict[str, dict[str, AgentRecord]] = field(default_factory=dict)
    fail_markers: dict[tuple[str, str], FailMarker] = field(default_factory=dict)
    _purge_heap: list[tuple[float, int, str, str]] = field(default_factory=list)
    _serials: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # ---------------------------------------------------------------- helpers

    def _random_hex(self, length: int) -> str:
        return f"{self.rng.getrandbits(length * 4):0{length}x}"

    def _next_serial(self) -> int:
        return next(self._serials)

    def purge(self) -> None:
        """Forget agents whose deletion delay is over."""
        now = self.clock.now()
        heap = self._purge_heap
        while heap and heap[0][0] <= now:
            _, serial, workspace, name = heapq.heappop(heap)
            agents = self.workspaces.get(workspace)
            if agents is not None and name in agents and agents[name].serial == serial:
                del agents[name]

    def agents_of(self, workspace: str) -> dict[str, AgentRecord]:
        self.purge()
        return self.workspaces.setdefault(workspace, {})

    def get(self, workspace: str, name: str) -> AgentRecord:
        record = self.agents_of(workspace).get(name)
        if record is None:
            raise ApiError(404, "not_found", f"agent {name!r} not found in workspace {workspace!r}")
        return record

    def find(self, workspace: str, name: str) -> AgentRecord | None:
        return self.agents_of(workspace).get(name)

    def _normalize_spec(self, spec: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        spec = dict(spec)
        spec.setdefault("enabled", True)
        spec.setdefault("public", False)
        triggers = spec.get("triggers")
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

    def _consume_fail_marker(self, workspace: str, name: str) -> str | None:
        marker = self.fail_markers.get((workspace, name))
        if marker is None:
            return None
        if marker.remaining is not None:
            marker.remaining -= 1
            if marker.remaining <= 0:
                del self.fail_markers[(workspace, name)]
        return marker.message

    def _deploy(self, record: AgentRecord, actor: str, now: float, *, settled: bool = False) -> Deployment:
        previous = record.deployments[-1] if record.deployments else None
        previous_status = previous.status_at(now) if previous else None
        if previous is not None:
            previous.cut(now)
        spec = record.spec
        runtime = spec.get("runtime") or {}
        image = runtime.get("image") or ""
        statuses: list[str]
        fail_message: str | None = None
        if not spec.get("enabled", True):
            statuses = [DEACTIVATING, DEACTIVATED]
        else:
            fail_message = self._consume_fail_marker(record.workspace, record.name)
            marker = self.config.fail_image_marker
            if fail_message is None and marker and marker in image:
                fail_message = f"Build failed: image {image!r} is marked to fail ({marker!r})"
            if self.config.image_skips_build and image and not spec.get("repository"):
                statuses = [DEPLOYING]
            else:
                statuses = [UPLOADING, BUILDING] if fail_message else [UPLOADING, BUILDING, DEPLOYING]
            statuses.append(FAILED if fail_message else DEPLOYED)
        step = 0.0 if settled else self.config.step_seconds
        start, before = now, None
        stale = self.config.stale_failed_seconds
        if not settled and stale > 0 and previous_status == FAILED:
            start, before = now + stale, FAILED
        schedule = [
            (
                start + index * step,
                status,
                (fail_message if status == FAILED and fail_message else MESSAGES[status]),
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

    def create(self, workspace: str, body: Any, actor: str, *, settled: bool = False) -> AgentRecord:
        metadata, spec = validate_agent(body)
        name = metadata.pop("name")
        agents = self.agents_of(workspace)
        existing = agents.get(name)
        if existing is not None:
            detail = " and is being deleted" if existing.deleting else ""
            raise ApiError(409, "conflict", f"agent {name!r} already exists{detail}")
        now = self.clock.now()
        record = AgentRecord(
            workspace=workspace,
            name=name,
            metadata=metadata,
            spec=self._normalize_spec(spec, None),
            created_at=now,
            updated_at=now,
            created_by=actor,
            updated_by=actor,
            deployments=deque(maxlen=self.config.max_revisions),
            serial=self._next_serial(),
        )
        self._deploy(record, actor, now, settled=settled)
        agents[name] = record
        return record

    def update(self, workspace: str, name: str, body: Any, actor: str) -> AgentRecord:
        metadata, spec = validate_agent(body, path_name=name)
        record = self.get(workspace, name)
        if record.deleting:
            raise ApiError(409, "conflict", f"agent {name!r} is being deleted")
        metadata.pop("name", None)
        now = self.clock.now()
        record.metadata = metadata
        record.spec = self._normalize_spec(spec, record.spec)
        record.updated_at = now
        record.updated_by = actor
        self._deploy(record, actor, now)
        return record

    def delete(self, workspace: str, name: str, actor: str) -> AgentRecord:
        record = self.get(workspace, name)
        if not record.deleting:
            now = self.clock.now()
            record.deployments[-1].cut(now)
            record.deleting_at = now
            record.gone_at = now + self.config.delete_seconds
            record.updated_at = now
            record.updated_by = actor
            heapq.heappush(self._purge_heap, (record.gone_at, record.serial, workspace, name))
        return record

    def list_agents(self, workspace: str, query: Mapping[str, str], *, paginated: bool) -> ListResult:
        statuses = parse_status_filter(query.get("status"))
        records = list(self.agents_of(workspace).values())
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
        total = len(records)
        if search:
            records = [r for r in records if _matches(r, search)]
        if statuses:
            records = [r for r in records if r.status_at(now) in statuses]
        by_name = sort.startswith("name")

        def key(r: AgentRecord) -> tuple[Any, ...]:
            return (r.name,) if by_name else (r.created_at, r.name)

        descending = sort.endswith(":desc")
        records.sort(key=key, reverse=descending)
        fingerprint = hashlib.sha256(
            "\x00".join([workspace, search, ",".join(sorted(statuses)), sort]).encode()
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

    # ---------------------------------------------------------------- rendering

    def render(self, record: AgentRecord, *, show_secrets: bool = False) -> dict[str, Any]:
        """The Agent object as the API returns it."""
        now = self.clock.now()
        workspace = record.workspace
        metadata: dict[str, Any] = {"name": record.name}
        metadata.update(record.metadata)
        metadata.update(
            {
                "workspace": workspace,
                "url": f"{self.config.run_url.rstrip('/')}/{workspace}/agents/{record.name}",
                "plan": self.config.plan,
                "createdAt": rfc3339(record.created_at),
                "updatedAt": rfc3339(record.updated_at),
                "createdBy": record.created_by,
                "updatedBy": record.updated_by,
            }
        )
        if "labels" in metadata:
            metadata["labels"] = dict(metadata["labels"])
        return {
            "metadata": metadata,
            "spec": _render_spec(record.spec, show_secrets),
            "status": record.status_at(now),
            "events": self._events(record, now),
        }

    def _events(self, record: AgentRecord, now: float) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for deployment in record.deployments:
            for at, status, message in deployment.events_at(now):
                events.append(
                    {
                        "type": "deployment",
                        "status": status,
                        "message": message,
                        "revision": deployment.revision,
                        "time": rfc3339(at),
                    }
                )
        if record.deleting_at is not None:
            events.append(
                {
                    "type": "deployment",
                    "status": DELETING,
                    "message": MESSAGES[DELETING],
                    "revision": record.deployments[-1].revision,
                    "time": rfc3339(record.deleting_at),
                }
            )
        return events[-self.config.max_events :]

    def revisions(self, record: AgentRecord) -> list[dict[str, Any]]:
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
        self, workspace: str, name: str, patch: Mapping[str, Any], actor: str, *, redeploy: bool = True
    ) -> AgentRecord:
        """Merge-patch an agent's ``metadata``/``spec`` as someone else would (drift)."""
        unknown = sorted(set(patch) - {"metadata", "spec"})
        if unknown:
            raise ApiError(
                400, "bad_request", f"only metadata and spec can be patched, not {', '.join(unknown)}"
            )
        record = self.get(workspace, name)
        if record.deleting:
            raise ApiError(409, "conflict", f"agent {name!r} is being deleted")
        current = {"metadata": {"name": name, **record.metadata}, "spec": record.spec}
        metadata, spec = validate_agent(merge_patch(current, dict(patch)), path_name=name)
        metadata.pop("name", None)
        now = self.clock.now()
        record.metadata = metadata
        record.spec = self._normalize_spec(spec, record.spec)
        record.updated_at = now
        record.updated_by = actor
        if redeploy:
            self._deploy(record, actor, now)
        return record

    def remove(self, workspace: str, name: str) -> bool:
        """Delete an agent at once (no DELETING phase). False when there was none."""
        return self.agents_of(workspace).pop(name, None) is not None

    def fail_next(
        self, workspace: str, name: str, *, count: int | None = 1, message: str | None = None
    ) -> None:
        """The next ``count`` deployments of the agent (``None``: all, until cleared) end FAILED."""
        if count is not None and count <= 0:
            self.fail_markers.pop((workspace, name), None)
            return
        self.fail_markers[(workspace, name)] = FailMarker(count, message or "Build failed: simulated failure")

    def fail_now(self, workspace: str, name: str, *, message: str | None = None) -> AgentRecord:
        """The agent's current deployment ends FAILED now (whatever phase it was in)."""
        record = self.get(workspace, name)
        if record.deleting:
            raise ApiError(409, "conflict", f"agent {name!r} is being deleted")
        now = self.clock.now()
        deployment = record.deployments[-1]
        deployment.cut(now)
        deployment.before = None
        deployment.schedule.append((now, FAILED, message or "Deployment failed: simulated runtime failure"))
        return record

    def clear(self) -> None:
        self.workspaces.clear()
        self.fail_markers.clear()
        self._purge_heap.clear()


def _render_spec(spec: dict[str, Any], show_secrets: bool) -> dict[str, Any]:
    result = dict(spec)
    runtime = spec.get("runtime")
    if isinstance(runtime, dict):
        runtime = dict(runtime)
        envs = runtime.get("envs")
        if envs:
            runtime["envs"] = [
                {**env, "value": SECRET_MASK}
                if env.get("secret") and "value" in env and not show_secrets
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


def _matches(record: AgentRecord, search: str) -> bool:
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

"""Configuration of the Blaxel API simulator (plain dataclasses, JSON-friendly)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalog import ALIASES, COLLECTIONS

#: Fault kinds that :class:`FaultConfig` injects by default: error answers and broken connections.
FAULT_KINDS: tuple[str, ...] = ("500", "502", "503", "429", "timeout", "reset")
#: Hostile answers: the call is served, but its answer is not what the description promises.
#: ``non_json`` (an HTML page instead of JSON), ``wrong_status_type`` (``status: 3``),
#: ``wrong_metadata_type`` (``metadata: "x"``), ``missing_metadata`` (no ``metadata``),
#: ``unknown_status`` (a status string nobody knows), ``huge_body`` (``huge_bytes`` of padding in
#: ``events``), ``patch`` (``body_patch`` merged into every object answered) and ``slow`` (the answer
#: comes ``delay_seconds`` late).
HOSTILE_KINDS: tuple[str, ...] = (
    "non_json",
    "wrong_status_type",
    "wrong_metadata_type",
    "missing_metadata",
    "unknown_status",
    "huge_body",
    "patch",
    "slow",
)
ALL_FAULT_KINDS: tuple[str, ...] = FAULT_KINDS + HOSTILE_KINDS
#: What ``unknown_status`` answers as the status.
UNKNOWN_STATUS = "SIMULATED_UNKNOWN_STATUS"
#: How a PUT combines with the stored object: ``replace`` spec and metadata (Blaxel's documented
#: "updates ... configuration"), or ``merge`` the body into them (fields absent keep their value).
PUT_SEMANTICS: tuple[str, ...] = ("replace", "merge")
#: When a fault is injected relative to the request's effect.
FAULT_PHASES: tuple[str, ...] = ("before", "after", "random")
#: Error body shapes for 429/502/503 faults: the API's ``{error, code, message}``, the edge's
#: ``{"error": {code, message, retryable}}``, or a random mix of both.
ERROR_SHAPES: tuple[str, ...] = ("standard", "edge", "mixed")

DEFAULT_API_KEY = "sim-key"
DEFAULT_WORKSPACE = "sandbox"
#: API versions the simulator knows (``Blaxel-Version`` header); anything else is a 400.
API_VERSIONS: tuple[str, ...] = ("2026-04-16", "2026-04-28")
#: First version that answers list calls with ``{data, meta}`` and cursor paging.
PAGINATED_VERSION = "2026-04-28"


def _default_api_keys() -> dict[str, list[str]]:
    return {DEFAULT_API_KEY: [DEFAULT_WORKSPACE]}


@dataclass
class FaultConfig:
    """Fault injection on ``/v0`` API calls (never on ``/_sim/`` admin calls).

    Each API call draws once: with probability ``rate`` it gets a fault of one of ``kinds``
    (chosen uniformly). ``phase`` says whether the fault replaces the call before it takes
    effect (``before``: nothing happened) or after (``after``: the write happened but the client
    sees an error), or either at random. ``methods``/``agents`` restrict which calls are eligible,
    as do ``collections`` (``functions``, ``integrations/connections``...) and ``names`` (glob
    patterns of object names, ``fn-*``); ``max_count`` stops injecting after that many faults
    (``None``: unlimited).

    Hostile answers (:data:`HOSTILE_KINDS`) serve the call and then spoil the answer; they always
    act after the call took effect, except ``slow`` and ``non_json`` which follow ``phase`` (a
    ``slow`` call "before" is served only if the client is still there after the delay). An answer
    that has no object to spoil (an error, a 404) is left alone and does not count. A hostile rule
    scoped by ``names`` or ``agents`` spoils those objects in listings too (as a GET of each shows
    them), each spoilt object counting as one fault.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    phase: str = "before"
    #: ``Retry-After`` header (whole seconds) on 429 and 503 faults; ``None``: not sent.
    retry_after: int | None = 1
    #: ``Retry-After-Ms`` header on 429 and 503 faults; ``None``: not sent.
    retry_after_ms: int | None = None
    #: How long a ``timeout`` fault holds the request (or until the simulator stops), then 504.
    timeout_seconds: float = 30.0
    methods: tuple[str, ...] | None = None
    agents: tuple[str, ...] | None = None
    max_count: int | None = None
    error_shape: str = "mixed"
    #: Only calls on these collections (paths below /v0, e.g. ``functions``); None: all.
    collections: tuple[str, ...] | None = None
    #: Only calls on objects whose name matches one of these glob patterns; None: all.
    names: tuple[str, ...] | None = None
    #: How late a ``slow`` answer comes.
    delay_seconds: float = 5.0
    #: How big a ``huge_body`` answer is (bytes of padding).
    huge_bytes: int = 5 * 1024 * 1024
    #: The JSON merge patch a ``patch`` answer applies to every object it carries.
    body_patch: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.kinds = tuple(str(kind).strip().lower() for kind in self.kinds)
        if self.methods is not None:
            self.methods = tuple(method.upper() for method in self.methods)
        for name in ("agents", "collections", "names"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, tuple(value))
        if self.collections is not None:
            self.collections = tuple(_collection_path(c) for c in self.collections)
        self.validate()

    def validate(self) -> None:
        if not 0.0 <= float(self.rate) <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate!r}")
        unknown = [kind for kind in self.kinds if kind not in ALL_FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {', '.join(ALL_FAULT_KINDS)}")
        if self.rate > 0 and not self.kinds:
            raise ValueError("fault kinds must not be empty when the fault rate is above 0")
        if self.phase not in FAULT_PHASES:
            raise ValueError(f"fault phase must be one of {', '.join(FAULT_PHASES)}, got {self.phase!r}")
        if self.error_shape not in ERROR_SHAPES:
            raise ValueError(
                f"error shape must be one of {', '.join(ERROR_SHAPES)}, got {self.error_shape!r}"
            )
        if self.timeout_seconds < 0:
            raise ValueError("timeout_seconds must not be negative")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must not be negative")
        if self.retry_after_ms is not None and self.retry_after_ms < 0:
            raise ValueError("retry_after_ms must not be negative")
        if self.max_count is not None and self.max_count < 0:
            raise ValueError("max_count must not be negative")
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        if self.huge_bytes < 0:
            raise ValueError("huge_bytes must not be negative")
        if self.body_patch is not None and not isinstance(self.body_patch, dict):
            raise ValueError("body_patch must be a JSON object (a merge patch)")
        if "patch" in self.kinds and self.body_patch is None:
            raise ValueError("the 'patch' fault kind needs a body_patch")
        if self.collections is not None:
            unknown_collections = [c for c in self.collections if c not in COLLECTIONS]
            if unknown_collections:
                raise ValueError(
                    f"unknown collections {unknown_collections}; known: {', '.join(COLLECTIONS)}"
                )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in _LIST_FIELDS:
            if data[key] is not None:
                data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultConfig:
        """Build from JSON (snake_case keys as in :meth:`to_dict`); unknown keys are a ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown fault config fields: {', '.join(unknown)}")
        kwargs: dict[str, Any] = dict(data)
        for key in _LIST_FIELDS:
            value = kwargs.get(key)
            if isinstance(value, str):
                kwargs[key] = tuple(part for part in value.split(",") if part)
            elif value is not None and key in kwargs:
                kwargs[key] = tuple(value)
        return cls(**kwargs)


def _collection_path(name: str) -> str:
    name = name.strip().strip("/")
    return ALIASES.get(name, name)


_LIST_FIELDS = ("kinds", "methods", "agents", "collections", "names")


def fault_rules_from_json(data: Any) -> list[FaultConfig]:
    """A list of fault rules from JSON (a list of :meth:`FaultConfig.to_dict` objects)."""
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
        raise ValueError("fault rules must be a JSON object or a list of them")
    return [FaultConfig.from_dict(item) for item in data]


@dataclass
class SimulatorConfig:
    """Everything the simulator can be told at start (most of it can be changed while running)."""

    #: API key -> workspaces it may use; the first one is the key's default workspace.
    api_keys: dict[str, list[str]] = field(default_factory=_default_api_keys)
    #: Seconds per deployment phase (UPLOADING -> BUILDING -> DEPLOYING -> DEPLOYED).
    step_seconds: float = 1.0
    #: Seconds an agent stays DELETING after a DELETE before it is gone (404).
    delete_seconds: float = 2.0
    #: The documented quirk: right after a PUT, a FAILED left by the previous deployment keeps
    #: showing for this many seconds before the new deployment starts. 0 disables it.
    stale_failed_seconds: float = 0.0
    #: An image-only deploy (``runtime.image`` set, no ``repository``) goes straight to DEPLOYING.
    image_skips_build: bool = False
    #: Deployments of an image whose reference contains this text end FAILED (None: never).
    fail_image_marker: str | None = "sim-fail"
    #: Fixed latency added to every API call, plus a uniform random jitter in [0, latency_jitter].
    latency: float = 0.0
    latency_jitter: float = 0.0
    faults: FaultConfig = field(default_factory=FaultConfig)
    #: More fault rules, each with its own filters and count, tried in order before ``faults``
    #: (so that different objects can get different hostile answers at the same time).
    fault_rules: list[FaultConfig] = field(default_factory=list)
    #: Token-bucket rate limit per API key in requests/second (None: no limit) -> 429.
    rate_limit: float | None = None
    rate_limit_burst: int = 20
    #: Seed of the random generator (ids, faults, jitter); None: unpredictable.
    seed: int | None = None
    plan: str = "free"
    #: Base of the agents' inference URLs: ``{run_url}/{workspace}/agents/{name}``.
    run_url: str = "https://run.blaxel.ai"
    api_versions: tuple[str, ...] = API_VERSIONS
    #: Serve the unauthenticated ``/_sim/`` admin endpoints.
    admin: bool = True
    #: Bounds that keep memory flat: call log entries, revisions and events kept per agent.
    max_calls: int = 100_000
    max_revisions: int = 20
    max_events: int = 100
    #: ``replace``: a PUT replaces metadata and spec; ``merge``: it deep-merges into them.
    put_semantics: str = "replace"
    #: Keys with the workspace admin role (``GET ...?show_secrets=true``; others get 403).
    #: None: every key is a workspace admin.
    admin_keys: tuple[str, ...] | None = None
    #: Refuse (400) ``/v0`` calls that name no workspace (no ``X-Blaxel-Workspace``, no
    #: ``?workspace=``), as Blaxel's SDKs never make them; off: the key's first workspace is used.
    require_workspace: bool = False

    def __post_init__(self) -> None:
        if not self.api_keys:
            raise ValueError("at least one API key is needed")
        for key, workspaces in self.api_keys.items():
            if not key or not workspaces:
                raise ValueError("every API key needs a non-empty key and at least one workspace")
        for name in ("step_seconds", "delete_seconds", "stale_failed_seconds", "latency", "latency_jitter"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be positive (or None for no limit)")
        if self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be at least 1")
        if self.put_semantics not in PUT_SEMANTICS:
            raise ValueError(
                f"put_semantics must be one of {', '.join(PUT_SEMANTICS)}, got {self.put_semantics!r}"
            )
        if self.admin_keys is not None:
            self.admin_keys = tuple(self.admin_keys)
            unknown = [key for key in self.admin_keys if key not in self.api_keys]
            if unknown:
                raise ValueError(f"{len(unknown)} admin key(s) are not among the API keys")

    def is_admin(self, api_key: str) -> bool:
        """Whether ``api_key`` has the workspace admin role."""
        return self.admin_keys is None or api_key in self.admin_keys

    @property
    def default_api_key(self) -> str:
        return next(iter(self.api_keys))

    @property
    def default_workspace(self) -> str:
        return self.api_keys[self.default_api_key][0]

    @property
    def workspaces(self) -> list[str]:
        seen: dict[str, None] = {}
        for workspaces in self.api_keys.values():
            for workspace in workspaces:
                seen.setdefault(workspace, None)
        return list(seen)

"""A faithful simulator of Blaxel's control-plane API, as an aiohttp server.

Users run it to try manifests offline (``blaxel-operator simulate --port 8787``); tests, the demo
and the benchmarks run the operator against it over loopback HTTP.

API (base ``http://HOST:PORT/v0``), per Blaxel's published description (``controlplane.yml``): the
collections of :data:`COLLECTIONS` (``agents``, ``functions``, ``models``, ``jobs``, ``policies``,
``volumes``, ``integrations/connections``), each with ``POST/GET /{collection}`` and
``GET/PUT/DELETE /{collection}/{name}`` plus what the description adds (``/revisions`` of
deployables, ``/policies/{name}/usages``, ``/volumes/by-external-id/{id}``), and ``GET /workspaces``.
Blaxel's auth (``Authorization`` or ``X-Blaxel-Authorization`` bearer), workspace
(``X-Blaxel-Workspace`` or ``?workspace=``), versioning (``Blaxel-Version``; from 2026-04-28 lists
are ``{data, meta}`` with cursor paging) and error bodies.

Behaviour, on a lazily computed clock (``step_seconds`` per phase):

* agents, functions and jobs deploy on every POST and PUT: ``UPLOADING -> BUILDING -> DEPLOYING ->
  DEPLOYED`` with a new revision id and ``deployment`` events (models go straight to DEPLOYING);
  ``spec.enabled: false`` goes ``DEACTIVATING -> DEACTIVATED``; DELETE answers the object in
  ``DELETING`` and it is gone after ``delete_seconds``;
* a volume is ``DEPLOYING`` then ``DEPLOYED`` once created; its region (and template) cannot change
  and its size can grow but not shrink; an attached one (``state.attachedTo``) cannot be deleted (409);
* policies and integration connections have no status: they exist as last written, and go at once;
* a deployment ends ``FAILED`` when marked with :meth:`BlaxelSimulator.fail_next_deployment` (or
  ``POST /_sim/workspaces/{ws}/{collection}/{name}/fail-next``), or when its image contains
  ``SimulatorConfig.fail_image_marker`` (default ``"sim-fail"``); :meth:`BlaxelSimulator.fail_now`
  makes the current deployment fail at once;
* secret env values come back as ``********``, callback secrets as ``****`` and an integration
  connection's ``spec.secret`` values as ``********``; ``show_secrets=true`` (documented for agents,
  functions and jobs) shows them to workspace admins (``admin_keys``) and is a 403 for other keys;
* a PUT replaces metadata and spec, or deep-merges into them (``put_semantics="merge"``);
* latency, a token-bucket rate limit, faults (500/502/503/429/timeout/reset, before or after the
  call takes effect) and hostile answers (non-JSON, wrong types, missing metadata, unknown status,
  5 MB bodies, slow answers) per :class:`FaultConfig` and fault rules; every call lands in a
  bounded call log.

Out-of-band control: the Python methods of :class:`BlaxelSimulator`, or the ``/_sim/`` admin endpoints
(no auth) through :class:`SimulatorAdmin` / :class:`AsyncSimulatorAdmin` for a simulator in another process.
"""

from .admin import AdminError, AsyncSimulatorAdmin, SimulatorAdmin
from .catalog import COLLECTIONS, Collection, Lifecycle
from .cli import add_arguments, config_from_args, main, run, serve
from .config import (
    ALL_FAULT_KINDS,
    API_VERSIONS,
    DEFAULT_API_KEY,
    DEFAULT_WORKSPACE,
    FAULT_KINDS,
    HOSTILE_KINDS,
    PUT_SEMANTICS,
    UNKNOWN_STATUS,
    FaultConfig,
    SimulatorConfig,
)
from .errors import ApiError
from .server import BlaxelSimulator, CallRecord
from .state import CALLBACK_SECRET_MASK, KNOWN_STATUSES, SECRET_MASK

__all__ = [
    "ALL_FAULT_KINDS",
    "API_VERSIONS",
    "CALLBACK_SECRET_MASK",
    "COLLECTIONS",
    "DEFAULT_API_KEY",
    "DEFAULT_WORKSPACE",
    "FAULT_KINDS",
    "HOSTILE_KINDS",
    "KNOWN_STATUSES",
    "PUT_SEMANTICS",
    "SECRET_MASK",
    "UNKNOWN_STATUS",
    "AdminError",
    "ApiError",
    "AsyncSimulatorAdmin",
    "BlaxelSimulator",
    "CallRecord",
    "Collection",
    "FaultConfig",
    "Lifecycle",
    "SimulatorAdmin",
    "SimulatorConfig",
    "add_arguments",
    "config_from_args",
    "main",
    "run",
    "serve",
]

"""A faithful simulator of Blaxel's control-plane API (agents), as an aiohttp server.

Users run it to try manifests offline (``blaxel-operator simulate --port 8787``); tests, the demo
and the benchmarks run the operator against it over loopback HTTP.

API (base ``http://HOST:PORT/v0``): ``POST/GET /agents``, ``GET/PUT/DELETE /agents/{name}``,
``GET /agents/{name}/revisions`` with Blaxel's auth (``Authorization`` or ``X-Blaxel-Authorization``
bearer), workspace (``X-Blaxel-Workspace`` or ``?workspace=``), versioning (``Blaxel-Version``;
from 2026-04-28 lists are ``{data, meta}`` with cursor paging) and error bodies.

Behaviour, on a lazily computed clock (``step_seconds`` per phase):

* a deployment (every POST and PUT) goes ``UPLOADING -> BUILDING -> DEPLOYING -> DEPLOYED`` with a
  new revision id and ``deployment`` events; ``spec.enabled: false`` goes ``DEACTIVATING ->
  DEACTIVATED``; DELETE answers the agent in ``DELETING`` and it is gone after ``delete_seconds``;
* a deployment ends ``FAILED`` (after BUILDING) when marked with :meth:`BlaxelSimulator.fail_next_deployment`
  (or ``POST /_sim/workspaces/{ws}/agents/{name}/fail-next``), or when its image contains
  ``SimulatorConfig.fail_image_marker`` (default ``"sim-fail"``); :meth:`BlaxelSimulator.fail_agent_now`
  makes the current deployment fail at once;
* secret env values come back as ``********`` and callback secrets as ``****`` unless ``show_secrets=true``;
* latency, a token-bucket rate limit and faults (500/502/503/429/timeout/reset, before or after the
  call takes effect) per :class:`FaultConfig`; every call lands in a bounded call log.

Out-of-band control: the Python methods of :class:`BlaxelSimulator`, or the ``/_sim/`` admin endpoints
(no auth) through :class:`SimulatorAdmin` / :class:`AsyncSimulatorAdmin` for a simulator in another process.
"""

from .admin import AdminError, AsyncSimulatorAdmin, SimulatorAdmin
from .cli import add_arguments, config_from_args, main, run, serve
from .config import (
    API_VERSIONS,
    DEFAULT_API_KEY,
    DEFAULT_WORKSPACE,
    FAULT_KINDS,
    FaultConfig,
    SimulatorConfig,
)
from .errors import ApiError
from .server import BlaxelSimulator, CallRecord
from .state import CALLBACK_SECRET_MASK, KNOWN_STATUSES, SECRET_MASK

__all__ = [
    "API_VERSIONS",
    "CALLBACK_SECRET_MASK",
    "DEFAULT_API_KEY",
    "DEFAULT_WORKSPACE",
    "FAULT_KINDS",
    "KNOWN_STATUSES",
    "SECRET_MASK",
    "AdminError",
    "ApiError",
    "AsyncSimulatorAdmin",
    "BlaxelSimulator",
    "CallRecord",
    "FaultConfig",
    "SimulatorAdmin",
    "SimulatorConfig",
    "add_arguments",
    "config_from_args",
    "main",
    "run",
    "serve",
]

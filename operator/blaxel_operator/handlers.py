"""Kopf wiring, kept thin: every event of a resource pokes its daemon, the daemon reconciles on a
schedule (fast while Blaxel deploys, `--poll-interval` when settled), deletion goes through a finalizer.

No create/update handlers: they would run concurrently with the poll and add Kopf progress writes. The
per-object daemon starts on create and on operator start (resume) and is woken on every spec or annotation
change, so create/update/resume all reconcile through it. Kopf's diff-base is
switched off for the same reason (see NoDiffBaseStorage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from typing import Any

import kopf

from .blaxel.client import BlaxelApi, ExternalClient
from .config import FINALIZER, WATCHED_ANNOTATIONS, OperatorConfig
from .controller import Controller, ObjectState
from .kinds.base import Kind
from .kubeapi import KubeApi
from .kubelogin import KubeLogin
from .logs import REDACTOR

log = logging.getLogger(__name__)


def post_event(body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:
    kopf.event(dict(body), type=type, reason=reason, message=message)  # type: ignore[arg-type]


class Runtime:
    """Shared clients, created once per operator process."""

    def __init__(self, config: OperatorConfig) -> None:
        self.config = config
        self.api = BlaxelApi(
            config.api_url,
            timeout=config.request_timeout,
            max_inflight=config.max_inflight,
            rate=config.rate_limit,
            burst=config.rate_burst,
        )
        self.kube_login = KubeLogin()  # Kopf's login handler and KubeApi share it
        self.kube = KubeApi(self.kube_login)
        self.controllers: dict[str, Controller] = {}

    def controller(self, kind: Kind) -> Controller:
        if kind.kind not in self.controllers:
            external = ExternalClient(self.api, kind.api_collection)
            self.controllers[kind.kind] = Controller(kind, external, self.kube, self.config, post_event)
        return self.controllers[kind.kind]

    async def close(self) -> None:
        await self.api.close()
        await self.kube.close()


class NoDiffBaseStorage(kopf.DiffBaseStorage):
    """No memory of the "last handled" spec. The operator has no create/update handlers (the daemon
    compares with Blaxel itself), so Kopf's diff-base would only cost a write and a watch event per new
    object and per spec change (the deletion handler makes Kopf keep one otherwise)."""

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self.build(body=body)  # "already handled": there is nothing to detect changes for

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


WAKE_HANDLER = "wake"
LOGIN_BACKOFF = 5.0  # seconds before a failed login is retried (Kopf's default is 60)
IN_HANDLER_WAIT = 60.0  # seconds a deletion handler waits in place before handing back to Kopf


class QuietWakeFilter(logging.Filter):
    """Kopf logs every event handler run at INFO; the wake-up runs on every watch event: drop those."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.INFO and f"'{WAKE_HANDLER}'" in str(record.msg))


def object_state(memo: Any) -> ObjectState:
    state = getattr(memo, "blaxel_state", None)
    if state is None:
        state = ObjectState()
        memo.blaxel_state = state
    return state


def register(registry: kopf.OperatorRegistry, config: OperatorConfig, kinds: list[Kind]) -> Runtime:
    runtime = Runtime(config)
    logging.getLogger("kopf.objects").addFilter(QuietWakeFilter())
    if config.default_credentials is not None:
        REDACTOR.add(config.default_credentials.api_key)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        # Kopf's own bookkeeping lives in annotations, never in status (the CRD would prune it).
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="blaxel.ai")
        settings.persistence.diffbase_storage = NoDiffBaseStorage()
        # Only our explicit events become Kubernetes Events, not every log line of Kopf.
        settings.posting.level = logging.CRITICAL
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.request_timeout = 60
        # Resources come from API discovery; scanning namespaces/CRDs would need extra RBAC for nothing.
        settings.scanning.disabled = True
        if config.peering:
            settings.peering.name = config.peering
            settings.peering.mandatory = True
            settings.peering.standalone = False
            # Peers of equal priority all pause; distinct priorities make one replica active, the rest standby.
            settings.peering.priority = random.randint(1, 2**31 - 1)
        else:
            settings.peering.standalone = True

    @kopf.on.login(registry=registry, backoff=LOGIN_BACKOFF)
    async def login(**_: Any) -> kopf.ConnectionInfo:
        return await runtime.kube_login.fresh()

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await runtime.close()

    for kind in kinds:
        _register_kind(registry, runtime, kind)
    return runtime


def _register_kind(registry: kopf.OperatorRegistry, runtime: Runtime, kind: Kind) -> None:
    resource = (kind.group, kind.version, kind.plural)

    @kopf.on.event(*resource, registry=registry, id=WAKE_HANDLER)
    async def wake(body: kopf.Body, memo: Any, **_: Any) -> None:
        """Wake the daemon on a spec change or a change of one of our annotations, not on status."""
        state = object_state(memo)
        annotations = body.metadata.annotations
        seen = (
            body.metadata.get("generation"),
            tuple(annotations.get(a) for a in WATCHED_ANNOTATIONS),
            FINALIZER in (body.metadata.get("finalizers") or []),
        )
        if state.seen is not None and seen != state.seen:
            state.wake.set()
        state.seen = seen

    @kopf.daemon(*resource, registry=registry, cancellation_timeout=120.0, id="reconcile")
    async def reconcile(
        body: kopf.Body, memo: Any, stopped: kopf.DaemonStopped, logger: Any, **_: Any
    ) -> None:
        state = object_state(memo)
        controller = runtime.controller(kind)
        failures = 0
        while not stopped:
            state.wake.clear()
            try:
                async with state.lock:
                    delay = await controller.reconcile(body, state)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must survive anything, e.g. a Kubernetes API hiccup
                failures += 1
                delay = min(runtime.config.max_backoff, 2.0**failures)
                logger.error(f"reconcile failed ({type(exc).__name__}: {exc}); retrying in {delay:.0f}s")
            await _sleep_or_wake(state.wake, stopped, delay)

    @kopf.on.delete(*resource, registry=registry, id="delete")
    async def delete(body: kopf.Body, memo: Any, logger: Any, **_: Any) -> None:
        state = object_state(memo)
        controller = runtime.controller(kind)
        # Short waits (remote DELETING) happen here rather than through Kopf's retries: each retry
        # would write progress annotations, a Kubernetes write per deletion poll.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IN_HANDLER_WAIT
        while True:
            async with state.lock:
                done, delay, message = await controller.delete(body, state)
            if done:
                controller.forget(state)
                logger.info(f"finalizer released: {message}")
                return
            if delay > IN_HANDLER_WAIT / 4 or loop.time() + delay > deadline:
                raise kopf.TemporaryError(message, delay=delay)
            await asyncio.sleep(delay)


async def _sleep_or_wake(wake: asyncio.Event, stopped: kopf.DaemonStopped, delay: float) -> None:
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())]
    try:
        await asyncio.wait(waiters, timeout=max(0.0, delay), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

"""Kopf wiring, kept thin: every watch event of every kind feeds the runtime (which schedules
reconciles on its own work queue), deletion goes through Kopf's finalizer handler.

References between kinds are recorded from every object of every kind and shard. The runtime lists them
all in a startup handler (Kopf starts watching only after it), so a restarted operator never resolves a
reference, or deletes a resource still in use, on a partial view; the watch keeps the record current.
(A Kopf index would do the same, but its readiness toggles wake every waiting object on each one
listed: quadratic, minutes of CPU for 10,000 objects.)

No create/update handlers and no per-object daemons: Kopf only watches and holds the finalizer; the
runtime's queue decides when each object is reconciled. Kopf's diff-base is switched off (see
NoDiffBaseStorage).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import Any

import kopf

from .config import OperatorConfig
from .kinds.base import Kind
from .logs import REDACTOR
from .runtime.manager import Runtime, shard_of

log = logging.getLogger(__name__)

WATCH_HANDLER = "watch"
IN_HANDLER_WAIT = 60.0  # seconds a deletion handler waits in place before handing back to Kopf


def post_event(body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:
    kopf.event(dict(body), type=type, reason=reason, message=message)  # type: ignore[arg-type]


class NoDiffBaseStorage(kopf.DiffBaseStorage):
    """No memory of the "last handled" spec. The operator has no create/update handlers (it compares
    with Blaxel itself), so Kopf's diff-base would only cost a write and a watch event per new object
    and per spec change (the deletion handler makes Kopf keep one otherwise)."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        # Nothing is compared: an empty essence spares Kopf two deep copies of the body per event.
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self.build(body=body)  # "already handled": there is nothing to detect changes for

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


LOGIN_BACKOFF = 5.0  # seconds before a failed login is retried (Kopf's default is 60)


class QuietWatchFilter(logging.Filter):
    """Kopf logs every handler run at INFO; the watch handler runs on every event: drop those."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or f"'{WATCH_HANDLER}'" not in str(record.msg)


def configure_settings(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    settings.persistence.finalizer = config.finalizer
    # Kopf's own bookkeeping lives in annotations, never in status (the CRD would prune it).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="blaxel.ai")
    settings.persistence.diffbase_storage = NoDiffBaseStorage()
    # Only our explicit events become Kubernetes Events, not every log line of Kopf.
    settings.posting.level = logging.CRITICAL
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    # Kopf keeps a worker task per object, with the object's last watch event, until no event came for
    # idle_timeout: 5 s by default, so while thousands of objects change (a large apply, a restart) it
    # holds thousands of full bodies. The runtime keeps what it needs: workers may go after 1 s.
    settings.queueing.idle_timeout = 1.0
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


def register(registry: kopf.OperatorRegistry, config: OperatorConfig, kinds: list[Kind]) -> Runtime:
    runtime = Runtime(config, kinds, post_event)
    logging.getLogger("kopf.objects").addFilter(QuietWatchFilter())
    if config.default_credentials is not None:
        REDACTOR.add(config.default_credentials.api_key)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_settings(settings, config)
        lease = runtime.handover.lease
        if lease is not None:  # read before any object is handled: is another shard layout acting?
            await lease.step()
            lease.start()
        await runtime.prime()

    @kopf.on.login(registry=registry, backoff=LOGIN_BACKOFF)
    async def login(**_: Any) -> kopf.ConnectionInfo:
        # through the official kubernetes client: every kubeconfig kubectl accepts (exec plugins...)
        return await runtime.kube_login.fresh()

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await runtime.close()

    def in_shard(body: kopf.Body, **_: Any) -> bool:
        if config.shard_count <= 1:
            return True
        meta = body.metadata
        return shard_of(meta.namespace or "", meta.name or "", config.shard_count) == config.shard_index

    def holds_finalizer(body: kopf.Body, **_: Any) -> bool:
        # not while another shard layout acts: its finalizers and ours would be stripped back and forth
        return in_shard(body) and not runtime.handover.waiting

    for kind in kinds:
        register_kind(registry, runtime, kind, in_shard, holds_finalizer)
    return runtime


def register_kind(
    registry: kopf.OperatorRegistry, runtime: Runtime, kind: Kind, in_shard: Any, holds_finalizer: Any
) -> None:
    resource = (kind.group, kind.version, kind.plural)

    @kopf.on.event(*resource, registry=registry, id=WATCH_HANDLER)
    async def watch(body: kopf.Body, type: str | None, **_: Any) -> None:
        runtime.start()  # from a handler: its tasks inherit Kopf's context (Event posting needs it)
        if type != "DELETED":
            runtime.observe(kind, body)  # every shard's objects: references cross shards
        if in_shard(body):
            runtime.seen(kind, type, body)
        elif type == "DELETED":
            runtime.forget(kind, body)  # another shard's object: only what the index knows of it

    @kopf.on.delete(*resource, registry=registry, id="delete", when=holds_finalizer)
    async def delete(body: kopf.Body, logger: Any, **_: Any) -> None:
        # Short waits (remote DELETING) happen here rather than through Kopf's retries: each retry
        # would write progress annotations, a Kubernetes write per deletion poll.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IN_HANDLER_WAIT
        while True:
            result = await runtime.delete(kind, body)
            if result.done:
                logger.info(f"finalizer released: {result.message}")
                return
            # Paused: hand back to Kopf rather than wait here, since only Kopf's next call brings the
            # body as it is then (unpaused, or annotated Orphan); this one is frozen at the call.
            if (
                result.hand_back
                or result.delay > IN_HANDLER_WAIT / 4
                or loop.time() + result.delay > deadline
            ):
                raise kopf.TemporaryError(result.message, delay=result.delay)
            await asyncio.sleep(result.delay)

"""The shard layout lease at work (see core/lease.py): read, renew or take it, and say whether this process
may act. Without a lease configured, a process always acts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..core.lease import LeaseAction, LeaseView, held_until, lease_action
from ..kubeapi import KubeApi, KubeError

log = logging.getLogger(__name__)

RETRY = 1.0  # seconds before trying again after a failed read or write of the lease


def micro_time(when: float) -> str:
    """A Kubernetes MicroTime."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def view_of(lease: dict[str, Any]) -> LeaseView:
    spec = lease.get("spec") or {}
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    return LeaseView(
        holder=str(spec["holderIdentity"]) if spec.get("holderIdentity") else None,
        renewed_at=renewed,
        duration=float(duration) if isinstance(duration, int | float) and duration > 0 else 15.0,
    )


class LayoutLease:
    """Renews (or waits for) the lease of this process's shard layout.

    `waiting` is True from the start until the lease is first held: the process then keeps no finalizer
    and acts on nothing, while another layout still runs. `may_act()` is True while the lease is held
    (with a margin). Losing a held lease to another layout calls `superseded` (the process stops: its
    layout is no longer the deployed one)."""

    def __init__(
        self,
        kube: KubeApi,
        namespace: str,
        name: str,
        identity: str,
        duration: float,
        on_acquired: Callable[[], None],
        superseded: Callable[[str], None],
    ) -> None:
        self.kube = kube
        self.namespace, self.name = namespace, name
        self.identity = identity
        self.duration = duration
        self.on_acquired = on_acquired
        self.superseded = superseded
        self.waiting = True
        self.held_until = 0.0  # monotonic
        self.holder: str | None = None  # as last read
        self._task: asyncio.Task[None] | None = None

    def may_act(self) -> bool:
        return time.monotonic() < self.held_until

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                delay = await self.step()
            except Exception:  # whatever it was, the lease is looked at again: never left unrenewed
                log.exception("shard layout lease %s/%s: unexpected error", self.namespace, self.name)
                delay = RETRY
            await asyncio.sleep(delay)

    async def step(self) -> float:
        """One look at the lease (and a write when due); returns seconds until the next one."""
        started = time.monotonic()
        try:
            lease = await self.kube.get_lease(self.namespace, self.name)
            view = view_of(lease) if lease is not None else None
            action = lease_action(view, self.identity, time.time())
            if action is LeaseAction.WAIT:
                assert view is not None
                return self._wait(view)
            written = await self.kube.write_lease(self.namespace, self._body(lease, action))
        except (TimeoutError, KubeError, OSError) as exc:
            log.warning("shard layout lease %s/%s: %s", self.namespace, self.name, exc)
            return RETRY
        if written is None:
            return 0.0  # another writer came first: read it again at once
        self._held(started, taken=action is not LeaseAction.RENEW)
        return self.duration / 3

    def _wait(self, view: LeaseView) -> float:
        if self.holder != view.holder:
            log.info(
                "shard layout lease %s/%s is held by %s: this process (%s) acts on nothing until it "
                "goes unrenewed for %.0f s",
                self.namespace,
                self.name,
                view.holder,
                self.identity,
                view.duration,
            )
        self.holder = view.holder
        was_held = not self.waiting
        self.held_until = 0.0
        if was_held:
            self.superseded(str(view.holder))
        return min(self.duration / 3, max(0.5, view.duration / 3))

    def _held(self, started: float, *, taken: bool) -> None:
        first = self.waiting
        self.held_until = held_until(started, self.duration)
        self.holder = self.identity
        self.waiting = False
        if taken or first:
            log.info("shard layout lease %s/%s held by %s", self.namespace, self.name, self.identity)
        if first:
            self.on_acquired()

    def _body(self, lease: dict[str, Any] | None, action: LeaseAction) -> dict[str, Any]:
        now = micro_time(time.time())
        spec = dict((lease or {}).get("spec") or {})
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=round(self.duration), renewTime=now)
        if action is not LeaseAction.RENEW:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (lease is not None)
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if lease is not None:
            meta["resourceVersion"] = (lease.get("metadata") or {}).get("resourceVersion")
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

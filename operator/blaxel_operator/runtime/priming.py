"""Every object of every kind, listed a page at a time (the startup listing of the reference index)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..kinds.base import Kind
from ..kubeapi import KubeApi, KubeError

log = logging.getLogger(__name__)


async def list_every_object(
    kube: KubeApi,
    kinds: Sequence[Kind],
    scopes: Sequence[str | None],
    record: Callable[[Kind, Mapping[str, Any]], None],
) -> int:
    """`record` each object of `kinds` in each namespace of `scopes` (None: all); how many there were. A
    kind whose CRD is not installed is skipped, as Kopf does not watch it either."""
    count = 0
    for kind in kinds:
        for namespace in scopes:
            try:
                async for page in kube.list_pages(kind.group, kind.version, kind.plural, namespace):
                    for body in page:
                        record(kind, body)
                    count += len(page)
            except KubeError as exc:
                if exc.status != 404:
                    raise
                log.info("%s are not served by this cluster: none to record", kind.plural)
                break
    return count

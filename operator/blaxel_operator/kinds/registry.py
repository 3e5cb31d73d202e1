"""Every kind the operator manages, registered once; everything generic iterates this."""

from __future__ import annotations

from .agent import KIND as AGENT
from .base import Kind

KINDS: tuple[Kind, ...] = (AGENT,)


def by_kind(name: str) -> Kind:
    for kind in KINDS:
        if kind.kind == name:
            return kind
    raise KeyError(name)

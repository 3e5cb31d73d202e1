"""Every kind the operator manages, registered once; everything generic iterates this."""

from __future__ import annotations

from .agent import KIND as AGENT
from .base import Kind
from .function import KIND as FUNCTION
from .integration_connection import KIND as INTEGRATION_CONNECTION
from .job import KIND as JOB
from .model import KIND as MODEL
from .policy import KIND as POLICY
from .volume import KIND as VOLUME

# Referenced kinds (policies, volumes, connections) first: the order things are applied in when nothing
# else says.
KINDS: tuple[Kind, ...] = (POLICY, VOLUME, INTEGRATION_CONNECTION, MODEL, FUNCTION, JOB, AGENT)


def by_kind(name: str) -> Kind:
    for kind in KINDS:
        if kind.kind == name:
            return kind
    raise KeyError(name)

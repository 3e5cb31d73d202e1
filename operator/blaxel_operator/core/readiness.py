"""A kind's verdict on a remote object, in generic terms (Blaxel's status strings are an open set)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Phase(enum.Enum):
    READY = "ready"  # serves what the spec asks for
    PROGRESSING = "progressing"  # on its way (uploading, building, deploying, unknown statuses...)
    FAILED = "failed"  # the last deployment failed; a spec change or a retry may fix it
    UNAVAILABLE = "unavailable"  # settled but not serving (e.g. deactivated while wanted enabled)
    TERMINAL = "terminal"  # settled and unusable: a human has to look
    DELETING = "deleting"  # being deleted remotely

    @property
    def settled(self) -> bool:
        return self not in (Phase.PROGRESSING, Phase.DELETING)


@dataclass(frozen=True)
class Readiness:
    """The phase plus the Ready condition's reason and message."""

    phase: Phase
    reason: str
    message: str

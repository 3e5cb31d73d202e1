"""CRD schema validation for the CLI (placeholder wired to the test bed's validator when available)."""

from __future__ import annotations

from typing import Any

from .kinds.base import Kind


def validate_object(kind: Kind, obj: dict[str, Any]) -> list[str]:
    return []

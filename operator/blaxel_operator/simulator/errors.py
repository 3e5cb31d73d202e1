"""The simulator's API error (rendered as Blaxel's ``{"error", "code", "message"}`` body)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer of the simulated API."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "code": self.status, "message": self.message}

"""What the attendance side refuses, as one exception every page and API handler catches."""
from __future__ import annotations


class AttendanceError(ValueError):
    """A request the attendance side refuses, with a message for a person (Chinese first); ``field`` names the form
    field it concerns (may be empty)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class DecisionRefused(AttendanceError):
    """An action this person may not take on this request (its own, a role that does not decide, someone else's to
    withdraw or answer): a 403 on a page or through the API."""

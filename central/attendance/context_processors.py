"""The count of swaps (换班) waiting for the signed-in employee's answer, for the menu's badge on 请求与审批: one COUNT
query, only for a user with an employee record, and only when a page shows the menu."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from central.accounts.models import User


def swaps(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated or user.employee_id is None:
        return {}
    from central.attendance.request_selectors import swaps_asked

    return {"swaps_asked": SimpleLazyObject(lambda: swaps_asked(user))}

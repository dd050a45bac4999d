"""The unread alert count for the console's menu badge: one COUNT query, only for signed-in staff."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from central.accounts.models import User


def alerts(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {}
    from central.alerts.selectors import unread_count

    # lazy: a page that never shows the menu never counts
    return {"alerts_unread": SimpleLazyObject(lambda: unread_count(user))}

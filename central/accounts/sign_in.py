"""Sign-in attempts that guess: a user name refused ``NAME_LIMIT`` times within ``WINDOW`` waits until the oldest
of those refusals is ``WINDOW`` old, and so does an address refused ``ADDRESS_LIMIT`` times (one machine trying
many names). While it waits, no password is even checked, right or wrong. A successful sign-in clears its name's
count. The user name is counted case-folded, so ``Admin`` and ``admin`` count together.

The refusals are rows (:class:`central.accounts.models.SignInFailure`), so every web worker counts the same; rows
older than the window are deleted as new ones come. The moment a name starts waiting is in the audit log
(``user.sign_in_locked``, the address with it); the password typed never is, anywhere.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.db.models import QuerySet

from central.accounts import audit
from central.accounts.models import SignInFailure

log = logging.getLogger(__name__)
NAME_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = timedelta(minutes=15)


def _name(username: str) -> str:
    return username.strip().casefold()[:150]


def _until(rows: QuerySet[SignInFailure], limit: int, now: datetime) -> datetime | None:
    """When the newest ``limit`` refusals of ``rows`` stop counting, if they are that many within the window."""
    times = list(rows.filter(at__gt=now - WINDOW).order_by("-at").values_list("at", flat=True)[:limit])
    if len(times) < limit:
        return None
    until = min(times) + WINDOW
    return until if until > now else None


def wait_minutes(username: str, address: str, now: datetime) -> int:
    """Whole minutes (rounded up) before this name may try again from this address; 0: it may try now."""
    ends = [until for until in (_until(SignInFailure.objects.filter(username=_name(username)), NAME_LIMIT, now),
                                _until(SignInFailure.objects.filter(address=address[:45]), ADDRESS_LIMIT, now))
            if until is not None]
    if not ends:
        return 0
    return max(1, math.ceil((max(ends) - now).total_seconds() / 60))


def refused(username: str, address: str, now: datetime) -> None:
    """One more refusal of ``username`` from ``address``."""
    SignInFailure.objects.filter(at__lt=now - WINDOW).delete()
    SignInFailure.objects.create(username=_name(username), address=address[:45], at=now)
    recent = SignInFailure.objects.filter(at__gt=now - WINDOW)
    names = recent.filter(username=_name(username)).count()
    if names == NAME_LIMIT or recent.filter(address=address[:45]).count() == ADDRESS_LIMIT:  # it starts waiting now
        log.warning("sign-in: %s waits after %s refusals (address %s)", _name(username), names, address)
        audit.record("anonymous", "user.sign_in_locked", _name(username), {"address": address[:45]})


def accepted(username: str) -> None:
    """``username`` signed in: its refusals stop counting."""
    SignInFailure.objects.filter(username=_name(username)).delete()

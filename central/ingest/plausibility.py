"""Which punch times no correct clock could have stamped.

A terminal whose clock is wrong but believed right (an RTC reset to 1970, a hand-set year 2100, an NTP
server lying) stamps its punches ``ntp`` or ``rtc`` all the same. The central cannot know the true time
of such a punch, but it can tell when the stamp is impossible:

* before :data:`EARLIEST_PUNCH` (no Seed terminal punched before it): flag ``before_floor``;
* later than its own arrival at the central by more than :data:`AHEAD_TOLERANCE` (the clocks of a
  terminal and the central may differ by seconds, never by this much): flag ``ahead``.

A flagged punch is stored and acknowledged like any other (it is evidence of someone at the door, and a
terminal must never keep resending it), shown with its flag in the console, the API and the CLI, and left
out of attendance: it counts only once the terminal re-stamps it with a corrected time (the re-stamp
computes the flag again) or HR enters the real time as a make-up punch. A punch from a terminal that was
offline for weeks is plausible: its time is before its arrival, which is what an outbox does.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

EARLIEST_PUNCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
AHEAD_TOLERANCE = timedelta(minutes=10)


def time_flag(punched_at: datetime, received_at: datetime) -> str:
    """The flag of a punch time given when it arrived (both aware); empty when the time is plausible."""
    if punched_at < EARLIEST_PUNCH:
        return "before_floor"
    if punched_at > received_at + AHEAD_TOLERANCE:
        return "ahead"
    return ""

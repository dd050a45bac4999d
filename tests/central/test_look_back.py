"""The followers' memory of the punches they handled inside their look-back window (central.ingest.look_back)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from central.ingest.look_back import LookBack

T0 = datetime(2026, 4, 1, 6, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_punch_is_handled_once_at_its_arrival_time_and_again_when_a_re_stamp_moves_it() -> None:
    seen = LookBack()
    seen.add("p1", at(0.5))
    assert seen.handled("p1", at(0.5))
    assert not seen.handled("p1", at(3.2))  # re-stamped: its arrival time moved
    assert not seen.handled("p2", at(0.5))


def test_trimming_forgets_exactly_what_arrived_at_or_before_the_horizon() -> None:
    seen = LookBack()
    times = {"a": 0.1, "b": 0.9, "c": 1.0, "d": 1.5, "e": 1.9999, "f": 2.0, "g": 7.25}
    for pid, t in times.items():
        seen.add(pid, at(t))
    seen.trim(at(1.5))  # the edge is inside a second: 1.0 and 1.5 go, 1.9999 stays
    assert [pid for pid, t in times.items() if seen.handled(pid, at(t))] == ["e", "f", "g"]
    assert len(seen) == 3
    assert seen.count_between(at(1.5), at(2.0)) == 2 and seen.count_between(at(2.0), at(8)) == 1
    seen.trim(at(10))
    assert len(seen) == 0


def test_a_re_stamped_punch_is_kept_under_its_new_arrival_and_forgotten_with_it() -> None:
    seen = LookBack()
    seen.add("p1", at(0.2))
    seen.add("p1", at(5.5))  # moved by a re-stamp
    seen.trim(at(1))  # its old second goes; the punch stays, at its new time
    assert seen.handled("p1", at(5.5)) and len(seen) == 1
    seen.trim(at(5.5))
    assert not seen.handled("p1", at(5.5)) and len(seen) == 0
    seen.add("p2", at(9))
    seen.clear()
    assert len(seen) == 0 and not seen.handled("p2", at(9))

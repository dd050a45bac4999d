"""One UTC stamp format, written and read by the same code on the terminal, the agent and the central."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from contract import protocol as p
from contract.stamps import STAMP_RE, is_stamp, parse_stamp, utc_stamp
from terminal.hardware.clock import format_utc, parse_utc
from terminal.store.database import utc_now


def test_a_stamp_is_utc_with_microseconds_and_a_z():
    moment = datetime(2026, 3, 2, 16, 1, 2, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert utc_stamp(moment) == "2026-03-02T08:01:02.123456Z"
    assert utc_stamp(datetime(2026, 3, 2, 8, 1, 2, tzinfo=UTC)) == "2026-03-02T08:01:02.000000Z"
    assert parse_stamp("2026-03-02T08:01:02.123456Z") == moment
    assert parse_stamp("2026-03-02T08:01:02.123456Z").tzinfo is not None


def test_every_writer_uses_the_contract_format():
    moment = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert format_utc(moment) == utc_stamp(moment) == p.utc_stamp(moment)
    assert parse_utc(utc_stamp(moment)) == p.parse_stamp(utc_stamp(moment)) == moment
    assert p.STAMP_RE == STAMP_RE
    for stamp in (utc_now(), p.utc_stamp(), utc_stamp()):
        assert re.match(STAMP_RE, stamp) and is_stamp(stamp)


def test_stamps_sort_as_text_in_time_order():
    start = datetime(2026, 3, 2, 23, 59, 59, 999990, tzinfo=UTC)
    moments = [start + timedelta(microseconds=7 * i) for i in range(5)] + [start + timedelta(days=400)]
    stamps = [utc_stamp(m) for m in moments]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("text", ["2026-03-02T08:01:02Z", "2026-03-02T08:01:02.123456+00:00", "2026-02-30T08:01:02.123456Z",
                                  "2026-03-02T25:01:02.123456Z", "", None, 5])
def test_only_the_exact_form_is_a_stamp(text):
    assert not is_stamp(text)

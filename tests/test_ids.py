"""Punch ids: UUIDv7, time-ordered, unique across threads."""
from __future__ import annotations

import threading
import time
import uuid

from terminal.ids import uuid7, uuid7_time_ms


def test_uuid7_layout_and_time():
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    parsed = uuid.UUID(value)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert before <= uuid7_time_ms(value) <= after + 1


def test_uuid7_strictly_increasing_and_unique_under_threads():
    results: list[list[str]] = [[] for _ in range(4)]

    def make(bucket):
        for _ in range(5000):
            bucket.append(uuid7())

    threads = [threading.Thread(target=make, args=(b,)) for b in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [v for bucket in results for v in bucket]
    assert len(set(everything)) == len(everything)
    for bucket in results:
        assert bucket == sorted(bucket)

"""Fingerprint benchmark: time from a finger placed to its punch recorded, and search time as the library fills.

Everything runs through the terminal's real path: the door's fingerprint worker, the
``pyfingerprint`` client on a pty, the ZFM/R307 emulator, the authenticator and the
punch path on an encrypted database. Baselines in the same process: the punch path
alone (what the fingerprint part adds on top of it), and the emulator's matcher
without the serial line (what the protocol and client add to a search).

The emulator does not imitate the module's own processing time (the ZFM/R307 manual
gives an image capture under 1 s and an average search under 1 s at 1:500), so these
numbers measure the terminal's software and the serial protocol, not the sensor.

    python -m benchmarks.finger [--runs 20] [--sizes 100,500,1000]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

from benchmarks.common import median_runs, print_table, write_json
from terminal.config import parse_config
from terminal.fingerprint_service import FingerprintWorker
from terminal.hardware.clock import SystemClock
from terminal.hardware.fingerprint import open_fingerprint
from terminal.identify import Authenticator
from terminal.punch import Identity, PunchService
from terminal.store.database import open_store
from terminal.store.employees import add_employee, add_finger_template


def _config(data_dir: Path, capacity: int = 1000):
    return parse_config({"device": {"id": "bench-door", "timezone": "UTC", "language": "en"},
                         "storage": {"data_dir": str(data_dir), "min_free_mb": 0},
                         "punch": {"debounce_s": 0},
                         "hardware": {"profile": "sim", "fingerprint": {"sim_capacity": capacity}}})


def placed_to_punch(folder: Path, runs: int, people: int = 20) -> dict:
    config = _config(folder)
    with open_store(config.storage) as store, \
            open_fingerprint(config.hardware.fingerprint, folder, "sim") as sensor:
        emulator = sensor.emulator
        employees = []
        for i in range(people):
            employee = add_employee(store, number=f"F{i:03d}", name=f"Finger {i}")
            position = emulator.store_finger(f"bench-finger-{i}", i)
            add_finger_template(store, employee["id"], 2, emulator.template_at(position), position)
            employees.append(employee["id"])
        clock = SystemClock()
        punches = PunchService(store, config, clock)
        auth = Authenticator(store, config, punches, clock)
        recorded = threading.Event()
        stamp: dict[str, float] = {}

        def on_punch(result) -> None:
            if result.accepted:
                stamp["at"] = time.perf_counter()
                recorded.set()

        punches.listeners.append(on_punch)
        worker = FingerprintWorker(sensor, store, authenticator=auth, poll_timeout_s=0.5)
        worker.start()
        try:
            deadline = time.monotonic() + 10
            while worker.state != "ready":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the fingerprint worker did not start: {worker.health()}")
                time.sleep(0.01)
            counter = iter(range(10**9))

            def one() -> float:
                i = next(counter) % people
                recorded.clear()
                start = time.perf_counter()
                emulator.place_finger(f"bench-finger-{i}", captures=1)
                if not recorded.wait(10):
                    raise RuntimeError("no punch within 10 s of placing a finger")
                elapsed = stamp["at"] - start
                time.sleep(0.05)  # let the worker see the lift before the next finger
                return elapsed * 1000

            through_sensor = median_runs(one, runs)
        finally:
            worker.stop()

        def direct() -> float:
            start = time.perf_counter()
            result = punches.punch(Identity(employees[0], "finger", 200))
            assert result.accepted, result.reason
            return (time.perf_counter() - start) * 1000

        punch_only = median_runs(direct, runs)
    return {"finger_to_punch_ms": through_sensor, "punch_path_only_ms": punch_only,
            "sensor_poll_interval_s": sensor.poll_s, "people_enrolled": people}


def search_times(sizes: list[int], runs: int) -> list[dict]:
    rows = []
    with _memory_sensor(max(sizes)) as sensor:
        emulator = sensor.emulator
        filled = 0
        for size in sorted(sizes):
            for position in range(filled, size):
                emulator.store_finger(f"library-{position}", position)
            filled = size
            target = f"library-{size - 1}"

            def identify(finger: str, expect_hit: bool) -> float:
                emulator.place_finger(finger, captures=1)
                assert sensor.capture()
                start = time.perf_counter()
                match = sensor.identify()
                elapsed = time.perf_counter() - start
                assert (match is not None) == expect_hit
                return elapsed * 1000

            hit = median_runs(partial(identify, target, True), runs)
            miss = median_runs(partial(identify, "not-enrolled", False), runs)

            probe = emulator._buffers[1]

            def matcher_only(probe: bytes | None, size: int) -> float:
                with emulator._lock:
                    emulator._buffers[1] = probe
                    start = time.perf_counter()
                    emulator._cmd_Search(bytes([1, 0, 0, size >> 8, size & 0xFF]))
                    return (time.perf_counter() - start) * 1000

            matcher = median_runs(partial(matcher_only, probe, size), runs)
            rows.append({"templates": size, "identify_hit_ms": hit, "identify_miss_ms": miss,
                         "emulator_matcher_ms": matcher})
    return rows


def _memory_sensor(capacity: int):
    """The sim driver on an emulator whose library lives in memory (nothing written to disk)."""
    from terminal.hardware.fingerprint import SimulatedFingerprintSensor
    from terminal.hardware.fingerprint_sim import FingerprintEmulator

    return SimulatedFingerprintSensor(FingerprintEmulator(None, capacity=capacity))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.finger", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sizes", default="100,500,1000", help="library sizes to search (comma-separated, at most 1024)")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] < 1 or sizes[-1] > 1024:
        parser.error("sizes must be between 1 and 1024")
    with tempfile.TemporaryDirectory(prefix="seed-bench-finger-", dir=os.environ.get("SEED_BENCH_DIR")) as tmp:
        latency = placed_to_punch(Path(tmp), args.runs)
    searches = search_times(sizes, args.runs)

    print_table(f"Finger placed → punch recorded (ms, median of {args.runs})", [
        {"path": "finger on the emulator → worker → pyfingerprint → punch", **_ms(latency["finger_to_punch_ms"])},
        {"path": "punch path alone (baseline)", **_ms(latency["punch_path_only_ms"])},
    ], ["path", "median", "min", "max"])
    print_table(f"Identify (Img2Tz + Search over the serial line) as the library fills (ms, median of {args.runs})", [
        {"templates": r["templates"], "hit": r["identify_hit_ms"]["median"], "miss": r["identify_miss_ms"]["median"],
         "matcher alone (baseline)": r["emulator_matcher_ms"]["median"]} for r in searches
    ], ["templates", "hit", "miss", "matcher alone (baseline)"])
    write_json("finger", {"runs": args.runs, "placed_to_punch": latency, "search": searches,
                          "note": "the emulator adds no sensor processing time; the ZFM/R307 manual gives an average "
                                  "search under 1 s at 1:500"})
    return 0


def _ms(stats: dict) -> dict:
    return {"median": stats["median"], "min": stats["min"], "max": stats["max"]}


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))

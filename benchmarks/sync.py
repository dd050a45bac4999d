"""Sync benchmark: how fast a backlog drains, and how long a punch waits for its ack while online.

* drain: N buffered punches (default 50,000) in the encrypted terminal database →
  ``seed-sync --until-empty`` as its own process → real mosquitto with TLS → seed-central
  (the Django receiver, in this process, SQLite) → acks → outbox empty. Punches per second,
  from the agent's start to its exit, and over the central's receive window (first to last
  stored row).
* latency: the agent running, punches made one by one through the punch path; the time
  from the punch's commit to the moment its outbox row is gone (ack applied), p50/p99.
* baseline (same process, same database): the central's ingest alone (``Ingest.handle()``:
  validation + bulk insert + commit of 500-punch batches, no MQTT), the ceiling the drain
  rate is measured against.
* duplicates and losses: every punch the terminal made is stored centrally exactly once.

The machine may be shared: the table shows medians of ``--runs`` runs with every run listed.

    python -m benchmarks.sync [--punches 50000] [--runs 3] [--latency-punches 300]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import print_table, write_json

REPO = Path(__file__).resolve().parent.parent
DEVICE = "bench-door"
BASELINE_DEVICE = "bench-baseline"
SITE = "bench"


def terminal_config(stack, data_dir: Path):
    from terminal.config import parse_config

    return parse_config({
        "device": {"id": DEVICE, "site": SITE, "timezone": "UTC"},
        "storage": {"data_dir": str(data_dir), "min_free_mb": 0},
        "hardware": {"profile": "sim", "clock": {"ntp_servers": []}},
        "punch": {"debounce_s": 0},
        "sync": stack.sync_settings,
    })


def config_toml(config, path: Path) -> Path:
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))

    lines = []
    for section in ("device", "storage", "punch", "sync"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {value(v)}" for k, v in getattr(config, section).model_dump(exclude_none=True).items()]
    lines += ["[hardware]", 'profile = "sim"', "[hardware.clock]", "ntp_servers = []"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fill(store, config, n: int) -> None:
    """n punches written by the punch path's own writer (punch + outbox + audit rows), 5,000 per transaction."""
    from terminal.hardware.clock import SimClock
    from terminal.punch import Identity, PunchService
    from terminal.store.employees import add_employee, list_employees

    employees = list_employees(store) or [add_employee(store, number=f"B{i:04d}", name=f"Bench {i}") for i in range(200)]
    service = PunchService(store, config, SimClock())
    done = 0
    while done < n:
        with store.transaction() as conn:
            for i in range(done, min(n, done + 5000)):
                emp = employees[i % len(employees)]
                service.clock.advance(0.01)
                service._write(conn, emp, Identity(emp["id"], "card"), service.clock.now(), "in" if i % 2 else "out")
        done = min(n, done + 5000)


def central_count(device: str = DEVICE) -> int:
    from central.ingest.models import Punch

    return Punch.objects.filter(device_id=device).count()


def drain_run(stack, config, config_file: Path, n: int) -> dict:
    from central.ingest.models import Punch
    from terminal.store.database import open_store

    with open_store(config.storage) as store:
        fill(store, config, n)
        assert store.query_one("SELECT count(*) AS n FROM outbox WHERE kind = 'punch'")["n"] == n
    before = central_count()
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sync_agent.cli", "--config", str(config_file), "--no-ntp",
                           "--until-empty", "--timeout", "600"], cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"seed-sync failed: {proc.stderr[-2000:]}")
    stored = central_count() - before
    with open_store(config.storage) as store:
        left = store.query_one("SELECT count(*) AS n FROM outbox")["n"]
    received = list(Punch.objects.filter(device_id=DEVICE).order_by("-received_at")
                    .values_list("received_at", flat=True)[:n])
    receive_s = (received[0] - received[-1]).total_seconds()
    return {"punches": n, "stored_centrally": stored, "left_in_outbox": left, "seconds": elapsed,
            "rate_per_s": n / elapsed, "receive_window_s": receive_s,
            "receive_rate_per_s": n / receive_s if receive_s > 0 else None}


def latency_run(stack, config, config_file: Path, count: int, interval_s: float) -> list[float]:
    from terminal.hardware.clock import SystemClock
    from terminal.punch import Identity, PunchService
    from terminal.store.database import open_store
    from terminal.store.employees import list_employees

    proc = subprocess.Popen([sys.executable, "-m", "sync_agent.cli", "--config", str(config_file), "--no-ntp"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    latencies: list[float] = []
    try:
        with open_store(config.storage) as store, open_store(config.storage) as watcher:
            deadline = time.monotonic() + 15
            while (watcher.get_setting("sync.status") or {}).get("connected") is not True:
                if time.monotonic() > deadline:
                    raise RuntimeError("seed-sync did not connect")
                time.sleep(0.05)
            employees = list_employees(store)
            service = PunchService(store, config, SystemClock())
            pending: dict[str, float] = {}
            lock = threading.Lock()
            stop = threading.Event()

            def watch() -> None:
                while not stop.is_set() or pending:
                    with lock:
                        waiting = list(pending)
                    if waiting:
                        marks = ",".join("?" * len(waiting))
                        left = {r["ref_id"] for r in watcher.query(
                            f"SELECT ref_id FROM outbox WHERE ref_id IN ({marks})", waiting)}
                        now = time.perf_counter()
                        with lock:
                            for ref in waiting:
                                if ref not in left:
                                    latencies.append(now - pending.pop(ref))
                    time.sleep(0.002)
                    if stop.is_set() and time.monotonic() > stop_deadline[0]:
                        return

            stop_deadline = [0.0]
            thread = threading.Thread(target=watch, daemon=True)
            thread.start()
            for i in range(count):
                emp = employees[i % len(employees)]
                result = service.punch(Identity(emp["id"], "card"))
                committed = time.perf_counter()
                with lock:
                    pending[result.punch["id"]] = committed
                time.sleep(interval_s)
            stop_deadline[0] = time.monotonic() + 30
            stop.set()
            thread.join(40)
    finally:
        proc.terminate()
        proc.wait(15)
    if len(latencies) != count:
        raise RuntimeError(f"only {len(latencies)} of {count} punches were acknowledged")
    return latencies


def ingest_baseline(n: int) -> float:
    """Punches per second through the central's ingest alone (no MQTT), 500 per batch, into the stack's
    database under another device id while the receiver is idle."""
    from benchmarks.central import punch_batches
    from central.ingest.handler import Ingest
    from contract import protocol as p

    ingest = Ingest()
    topic = p.device_topic(SITE, BASELINE_DEVICE, "punches")
    batches = punch_batches(n, device=BASELINE_DEVICE)
    began = time.perf_counter()
    for body in batches:
        if len(ingest.handle(topic, body)) != 1:
            raise RuntimeError("the baseline ingest did not acknowledge a batch")
    return n / (time.perf_counter() - began)


def exactly_once(config) -> dict:
    """Every punch the terminal made is stored centrally once: ids missing, extra, and stored twice."""
    from central.ingest.models import Punch
    from terminal.store.database import open_store

    with open_store(config.storage) as store:
        made = {r["id"] for r in store.query("SELECT id FROM punches")}
    stored = list(Punch.objects.filter(device_id=DEVICE).values_list("id", flat=True))
    unique = set(stored)
    return {"made": len(made), "stored": len(stored), "missing": len(made - unique), "extra": len(unique - made),
            "duplicates": len(stored) - len(unique)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--punches", type=int, default=50_000, help="backlog size per drain run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-punches", type=int, default=300)
    parser.add_argument("--latency-interval", type=float, default=0.02, help="seconds between online punches")
    args = parser.parse_args(argv)

    from central.demo_stack import local_stack

    with tempfile.TemporaryDirectory(prefix="seed-bench-sync-") as tmp:
        folder = Path(tmp)
        with local_stack(folder / "central", device_id=DEVICE, site=SITE) as stack:
            config = terminal_config(stack, folder / "terminal")
            config_file = config_toml(config, folder / "terminal.toml")
            drains = [drain_run(stack, config, config_file, args.punches) for _ in range(args.runs)]
            latency_sets = [latency_run(stack, config, config_file, args.latency_punches, args.latency_interval)
                            for _ in range(args.runs)]
            baseline = [ingest_baseline(min(args.punches, 20_000)) for _ in range(args.runs)]
            once = exactly_once(config)
    duplicates = once["duplicates"] + once["extra"]
    for run in drains:
        if run["stored_centrally"] != run["punches"] or run["left_in_outbox"]:
            print(f"LOST OR DUPLICATED: {run}")
            return 1
    if once["missing"] or once["extra"] or once["duplicates"]:
        print(f"LOST OR DUPLICATED: {once}")
        return 1
    p50s = [percentile(s, 50) * 1000 for s in latency_sets]
    p99s = [percentile(s, 99) * 1000 for s in latency_sets]
    result = {
        "drain": {"punches_per_run": args.punches, "runs": drains,
                  "median_rate_per_s": statistics.median(r["rate_per_s"] for r in drains),
                  "median_receive_rate_per_s": statistics.median(r["receive_rate_per_s"] or 0 for r in drains),
                  "median_seconds": statistics.median(r["seconds"] for r in drains)},
        "latency_ms": {"punches_per_run": args.latency_punches, "interval_s": args.latency_interval,
                       "p50_median": statistics.median(p50s), "p99_median": statistics.median(p99s),
                       "p50_runs": p50s, "p99_runs": p99s, "max": max(max(s) for s in latency_sets) * 1000},
        "baseline_ingest_only_per_s": {"median": statistics.median(baseline), "runs": baseline},
        "duplicates_centrally": duplicates,
        "exactly_once": once,
        "aims": {"drain_per_s": 2000, "p99_ms": 1000},
    }
    rows = [
        {"measure": "drain rate, agent start to exit (punches/s)", "median": result["drain"]["median_rate_per_s"],
         "runs": ", ".join(f"{r['rate_per_s']:,.0f}" for r in drains), "aim": ">= 2,000"},
        {"measure": "drain rate, central receive window (punches/s)",
         "median": result["drain"]["median_receive_rate_per_s"],
         "runs": ", ".join(f"{(r['receive_rate_per_s'] or 0):,.0f}" for r in drains), "aim": ""},
        {"measure": f"drain time for {args.punches:,} punches (s)", "median": result["drain"]["median_seconds"],
         "runs": ", ".join(f"{r['seconds']:.1f}" for r in drains), "aim": ""},
        {"measure": "punch-to-ack latency p50 (ms)", "median": result["latency_ms"]["p50_median"],
         "runs": ", ".join(f"{v:.0f}" for v in p50s), "aim": ""},
        {"measure": "punch-to-ack latency p99 (ms)", "median": result["latency_ms"]["p99_median"],
         "runs": ", ".join(f"{v:.0f}" for v in p99s), "aim": "< 1,000"},
        {"measure": "baseline: central ingest alone (punches/s)", "median": result["baseline_ingest_only_per_s"]["median"],
         "runs": ", ".join(f"{v:,.0f}" for v in baseline), "aim": ""},
        {"measure": "punches made / stored centrally / missing / duplicated", "median": None,
         "runs": f"{once['made']:,} / {once['stored']:,} / {once['missing']} / {once['duplicates'] + once['extra']}",
         "aim": "none lost, none twice"},
    ]
    print_table(f"Sync through mosquitto to the Django central on SQLite ({os.cpu_count()} shared CPUs; "
                f"medians of {args.runs} runs)", rows, ["measure", "median", "runs", "aim"])
    write_json("sync", result)
    ok = result["drain"]["median_rate_per_s"] >= 2000 and result["latency_ms"]["p99_median"] < 1000 and not duplicates
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

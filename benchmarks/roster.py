"""Roster benchmark: a full roster of 10,000 employees with five face templates each, to a fresh terminal.

* end to end: ``seed-central run`` and ``seed-sync`` as their own processes, real mosquitto
  with TLS, the central on SQLite; from the agent's start on an empty terminal database to the
  whole roster applied (every part received, the digest checked, one transaction). Peak
  resident memory of both processes (``VmHWM``) for the run.
* central alone (this process, same database): building the full roster and cutting it into
  parts (``full_roster`` + ``split_roster``), time and peak Python allocations (tracemalloc).
* terminal alone (this process): receiving every part into an empty encrypted store and
  applying the version (``receive_roster``), time and peak Python allocations.

The machine may be shared: the table shows medians of ``--runs`` runs with every run listed.

    python -m benchmarks.roster [--employees 10000] [--faces 5] [--runs 3]
"""
from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import print_table, write_json

REPO = Path(__file__).resolve().parent.parent
DEVICE = "bench-roster"
SITE = "bench"


def employees(count: int, faces: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    return [{"number": f"B{i:06d}", "name": f"Employee {i}", "department": f"Dept {i % 40}",
             "faces": [base64.b64encode(rng.random(128, dtype=np.float32).tobytes()).decode() for _ in range(faces)]}
            for i in range(count)]


STORE_BATCH = 1000  # employees a call of upsert_employees stores (as an import of a workbook does, one transaction)


def fill_central(count: int, faces: int, runs: int) -> tuple[int, dict[str, list[float]]]:
    """The employees in the central database, their change already published (the terminal asks for them).

    Timed on the way: each call storing STORE_BATCH new employees; then ``runs`` times the first STORE_BATCH again,
    each with a new name (the path of an import that changes employees already there); and as the baseline, the
    terminals' rules alone checking those records (``check_records``, which ``upsert_employees`` runs first)."""
    from central.ingest.models import State
    from central.people import roster

    everyone = employees(count, faces)
    version = 0
    timed: dict[str, list[float]] = {"new": [], "changed": [], "rules": []}
    for start in range(0, count, STORE_BATCH):
        began = time.perf_counter()
        version = roster.upsert_employees(everyone[start:start + STORE_BATCH])
        timed["new"].append(time.perf_counter() - began)
    for run in range(runs):
        again = [{**e, "name": f"{e['name']} ({run + 1})"} for e in everyone[:STORE_BATCH]]
        began = time.perf_counter()
        roster.check_records(again)
        timed["rules"].append(time.perf_counter() - began)
        began = time.perf_counter()
        version = roster.upsert_employees(again)
        timed["changed"].append(time.perf_counter() - began)
    State.objects.update_or_create(key="roster_published", defaults={"value": str(version)})
    return version, timed


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM) in MB, read while it runs."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str, proc: subprocess.Popen | None = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")


def terminal_config(folder: Path, sync: dict[str, Any]):
    from terminal.config import parse_config

    return parse_config({
        "device": {"id": DEVICE, "site": SITE, "timezone": "UTC"},
        "storage": {"data_dir": str(folder), "min_free_mb": 0},
        "hardware": {"profile": "sim", "clock": {"ntp_servers": []}},
        "sync": sync,
    })


def end_to_end(folder: Path, db: Path, pki: Path, port: int, sync: dict[str, Any], version: int, run: int) -> dict:
    """One fresh terminal receiving the whole roster through the broker from a freshly started central."""
    from benchmarks.sync import config_toml
    from central.demo_stack import stop_process
    from sync_agent.roster import ROSTER_VERSION_KEY
    from terminal.store.database import open_store

    central_log = folder / f"central-{run}.log"
    with open(central_log, "wb") as out:
        central = subprocess.Popen([sys.executable, "-m", "central.cli", "--db", str(db), "--pki", str(pki),
                                    "--site", SITE, "run", "--broker-host", "127.0.0.1", "--broker-port", str(port)],
                                   cwd=REPO, stdout=out, stderr=out)
    agent = None
    try:
        wait_for(lambda: b"central connected" in central_log.read_bytes(), 60, "seed-central to connect", central)
        central_before = peak_rss_mb(central.pid)
        config = terminal_config(folder / f"terminal-{run}", sync)
        with open_store(config.storage):
            pass  # a new, empty terminal database
        config_file = config_toml(config, folder / f"terminal-{run}.toml")
        with open_store(config.storage) as watcher:
            started = time.perf_counter()
            agent = subprocess.Popen([sys.executable, "-m", "sync_agent.cli", "--config", str(config_file), "--no-ntp"],
                                     cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: watcher.get_setting(ROSTER_VERSION_KEY, 0) == version, 600, "the roster applied", agent)
            seconds = time.perf_counter() - started
            agent_peak, central_peak = peak_rss_mb(agent.pid), peak_rss_mb(central.pid)
            employees_on = watcher.query_one("SELECT count(*) AS n FROM employees WHERE roster_version > 0")["n"]
            faces_on = watcher.query_one("SELECT count(*) AS n FROM face_templates")["n"]
    finally:
        if agent is not None:
            stop_process(agent)
        stop_process(central)
    return {"seconds": seconds, "agent_peak_rss_mb": agent_peak, "central_rss_at_start_mb": central_before,
            "central_peak_rss_mb": central_peak, "employees_on_terminal": employees_on, "faces_on_terminal": faces_on}


def central_alone() -> tuple[float, int, int]:
    """Build the full roster and cut it into parts: seconds, parts, bytes."""
    from central.people import roster

    started = time.perf_counter()
    parts = roster.split_roster(roster.full_roster())
    return time.perf_counter() - started, len(parts.payloads), sum(len(x) for x in parts.payloads)


def terminal_alone(folder: Path, payloads: tuple[bytes, ...], version: int) -> float:
    from contract import protocol as p
    from sync_agent.roster import receive_roster, roster_version
    from terminal.store.database import open_store

    config = terminal_config(folder, {})
    with open_store(config.storage) as store:
        started = time.perf_counter()
        for payload in payloads:
            receive_roster(store, p.validate(p.RosterEnvelope, p.loads(payload)))
        seconds = time.perf_counter() - started
        if roster_version(store) != version:
            raise RuntimeError("the roster did not apply in the terminal-alone run")
    return seconds


def bare_transfer(site: Any, payloads: tuple[bytes, ...]) -> float:
    """Baseline: the same parts published with the central's certificate and received with the terminal's by
    bare MQTT clients through the same broker (QoS 1, TLS), nothing validated or stored: the transport's floor."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from contract import protocol as p

    topic = p.device_topic(SITE, DEVICE, "roster")
    got: list[int] = []
    clients = []
    for who, cert, key in (("device", site.bundle.folder / "device.crt", site.bundle.folder / "device.key"),
                           ("central", site.pki.root / "central.crt", site.pki.root / "central.key")):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{who}-{os.getpid()}", protocol=mqtt.MQTTv5)
        client.tls_set(ca_certs=str(site.pki.ca_cert), certfile=str(cert), keyfile=str(key))
        client.connect("127.0.0.1", site.port, keepalive=30)
        client.loop_start()
        clients.append(client)
    receiver, sender = clients
    try:
        subscribed = receiver.subscribe(topic, qos=1)[1]
        receiver.on_message = lambda c, u, msg: got.append(len(msg.payload))
        wait_for(lambda: receiver.is_connected() and sender.is_connected() and subscribed, 30, "bare clients")
        time.sleep(0.5)  # the subscription in place
        started = time.perf_counter()
        for payload in payloads:
            sender.publish(topic, payload, qos=1)
        wait_for(lambda: len(got) == len(payloads), 600, "every part at the bare receiver")
        return time.perf_counter() - started
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()


def traced_peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1024 / 1024
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.roster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--faces", type=int, default=5, help="face templates per employee")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    from central.demo_stack import site_broker
    from central.django_setup import migrate, setup

    with tempfile.TemporaryDirectory(prefix="seed-bench-roster-") as tmp, \
            site_broker(Path(tmp), device_id=DEVICE, site=SITE) as site:
        folder = Path(tmp)
        db = folder / "central.db"
        setup(db)
        migrate()
        began = time.perf_counter()
        version, stored = fill_central(args.employees, args.faces, args.runs)
        print(f"central filled with {args.employees:,} employees x {args.faces} faces "
              f"in {time.perf_counter() - began:.1f} s (roster version {version})")
        runs = [end_to_end(folder, db, site.pki.root, site.port, site.sync_settings, version, i) for i in range(args.runs)]
        central_runs = [central_alone() for _ in range(args.runs)]
        from central.people import roster

        parts = roster.split_roster(roster.full_roster())
        central_peak = traced_peak_mb(lambda: roster.split_roster(roster.full_roster()))
        terminal_runs = [terminal_alone(folder / f"alone-{i}", parts.payloads, version) for i in range(args.runs)]
        terminal_peak = traced_peak_mb(lambda: terminal_alone(folder / "alone-traced", parts.payloads, version))
        wire_runs = [bare_transfer(site, parts.payloads) for _ in range(args.runs)]
    whole = [r for r in runs if r["employees_on_terminal"] == args.employees
             and r["faces_on_terminal"] == args.employees * args.faces]
    if len(whole) != len(runs):
        print(f"INCOMPLETE ROSTER ON THE TERMINAL: {runs}")
        return 1

    def med(values: list[float]) -> float:
        return statistics.median(values)

    result = {
        "employees": args.employees, "faces_per_employee": args.faces, "roster_version": version,
        "parts": central_runs[0][1], "roster_bytes": central_runs[0][2],
        "end_to_end": {"runs": runs, "median_seconds": med([r["seconds"] for r in runs]),
                       "median_agent_peak_rss_mb": med([r["agent_peak_rss_mb"] or 0 for r in runs]),
                       "median_central_peak_rss_mb": med([r["central_peak_rss_mb"] or 0 for r in runs]),
                       "median_central_rss_at_start_mb": med([r["central_rss_at_start_mb"] or 0 for r in runs])},
        "central_build_and_split": {"runs_s": [r[0] for r in central_runs], "median_s": med([r[0] for r in central_runs]),
                                    "peak_python_alloc_mb": central_peak},
        "terminal_receive_and_apply": {"runs_s": terminal_runs, "median_s": med(terminal_runs),
                                       "peak_python_alloc_mb": terminal_peak},
        "baseline_bare_transfer": {"runs_s": wire_runs, "median_s": med(wire_runs)},
        "central_store_employees": {"batch": STORE_BATCH, **{f"{kind}_runs_s": v for kind, v in stored.items()},
                                    **{f"{kind}_median_s": med(v) for kind, v in stored.items()}},
    }
    e2e = result["end_to_end"]
    rows = [
        {"measure": "fresh terminal: agent start to roster applied (s)", "median": e2e["median_seconds"],
         "runs": ", ".join(f"{r['seconds']:.1f}" for r in runs)},
        {"measure": "seed-sync peak RSS (MB)", "median": e2e["median_agent_peak_rss_mb"],
         "runs": ", ".join(f"{r['agent_peak_rss_mb'] or 0:.0f}" for r in runs)},
        {"measure": "seed-central peak RSS (MB; at start)", "median": e2e["median_central_peak_rss_mb"],
         "runs": ", ".join(f"{r['central_peak_rss_mb'] or 0:.0f} ({r['central_rss_at_start_mb'] or 0:.0f})" for r in runs)},
        {"measure": "central: build + cut the full roster (s)", "median": result["central_build_and_split"]["median_s"],
         "runs": ", ".join(f"{v:.2f}" for v in result["central_build_and_split"]["runs_s"])},
        {"measure": "central: peak Python allocations building it (MB)", "median": central_peak, "runs": ""},
        {"measure": "terminal: receive every part + apply (s)", "median": result["terminal_receive_and_apply"]["median_s"],
         "runs": ", ".join(f"{v:.2f}" for v in terminal_runs)},
        {"measure": "terminal: peak Python allocations applying it (MB)", "median": terminal_peak, "runs": ""},
        {"measure": "baseline: the same parts between bare MQTT clients (s)", "median": med(wire_runs),
         "runs": ", ".join(f"{v:.2f}" for v in wire_runs)},
        {"measure": f"central: store {STORE_BATCH:,} new employees (upsert_employees, one transaction; s)",
         "median": med(stored["new"]), "runs": ", ".join(f"{v:.2f}" for v in stored["new"])},
        {"measure": f"central: the same {STORE_BATCH:,} again, each renamed (s)", "median": med(stored["changed"]),
         "runs": ", ".join(f"{v:.2f}" for v in stored["changed"])},
        {"measure": f"baseline: the terminals' rules alone on those {STORE_BATCH:,} (check_records; s)",
         "median": med(stored["rules"]), "runs": ", ".join(f"{v:.2f}" for v in stored["rules"])},
        {"measure": "roster size (MB) / parts", "median": None,
         "runs": f"{result['roster_bytes'] / 1e6:.1f} / {result['parts']}"},
    ]
    print_table(f"Full roster, {args.employees:,} employees x {args.faces} face templates, to a fresh terminal through "
                f"mosquitto (central on SQLite; {os.cpu_count()} shared CPUs; medians of {args.runs} runs)",
                rows, ["measure", "median", "runs"])
    write_json("roster", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

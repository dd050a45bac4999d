"""Console start and stop: how long ``seed-central serve`` takes to answer, and to stop when systemd tells it to.

Measured on a new SQLite central (its schema made first, not measured), each ``--runs`` times (5), medians:

* the baseline, in the same run: ``seed-central --db DB devices``, a command that starts Django, checks the
  schema and answers: the floor of any ``seed-central`` command;
* ``seed-central serve`` (gunicorn, 2 processes × 4 threads, the application loaded once before the workers
  fork): from the command's start to the first ``/login/`` page answered (200), polled every 50 ms, and the CPU
  seconds its processes used by then;
* the stop (SIGTERM to the process group, as systemd sends it): to every process gone, with no connection open,
  and with an idle connection held open (a browser's preconnect: connected, nothing sent), which a synchronous
  worker waited on until it was killed.

    python -m benchmarks.console_start [--runs 5] [--code CHECKOUT]

``--code``: run the commands from another checkout (``git worktree add /tmp/before REV``), to compare versions
on the same machine in the same hour.
"""
from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.common import print_table, write_json
from central.demo_stack import free_port

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "central.settings", "SEED_CENTRAL_SECRET_KEY": "bench-only"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def baseline(db: str, code: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "central.cli", "--db", db, "devices"], check=True, capture_output=True,
                   env=_env(), cwd=code)
    return time.perf_counter() - start


def serve_once(db: str, folder: Path, code: Path, idle: bool) -> dict[str, float]:
    """One start to the first page, then one stop (with an idle connection held when ``idle``)."""
    port = free_port()
    cpu_before = _children_cpu()
    start = time.perf_counter()
    with open(folder / "console.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "central.cli", "--db", db, "serve", "--bind",
                                 f"127.0.0.1:{port}"], stdout=log, stderr=log, env=_env(), cwd=code,
                                start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"seed-central serve exited ({proc.returncode}): see {folder / 'console.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        answered = time.perf_counter() - start
        held = socket.create_connection(("127.0.0.1", port)) if idle else None
        stop_start = time.perf_counter()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
        while not _group_gone(proc.pid):
            time.sleep(0.02)
        stopped = time.perf_counter() - stop_start
        if held is not None:
            held.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    # the CPU of a process is counted once it is waited for: the whole run's, start and stop
    return {"answered_s": answered, "stopped_s": stopped, "cpu_s": _children_cpu() - cpu_before,
            "exit": float(proc.returncode)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.console_start", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--code", type=Path, help="the checkout whose seed-central is measured (default: this one)")
    args = parser.parse_args(argv)
    code = args.code.resolve() if args.code else REPO  # python -m runs the code of the folder it starts in
    with tempfile.TemporaryDirectory(prefix="seed-bench-console-start-") as tmp:
        folder = Path(tmp)
        db = str(folder / "central.db")
        subprocess.run([sys.executable, "-m", "central.cli", "--db", db, "migrate"], check=True, capture_output=True,
                       env=_env(), cwd=code)
        base, plain, held = [], [], []
        for _ in range(args.runs):  # interleaved, so a busy moment of the machine hits each alike
            base.append(baseline(db, code))
            plain.append(serve_once(db, folder, code, idle=False))
            held.append(serve_once(db, folder, code, idle=True))
    if any(run["exit"] != 0 for run in plain + held):
        print("seed-central serve did not exit 0 on SIGTERM in every run", file=sys.stderr)

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    rows: list[dict[str, Any]] = [
        {"what": "baseline: seed-central devices (start, schema check, answer)", "median s": statistics.median(base)},
        {"what": "seed-central serve: first page answered", "median s": median(plain, "answered_s")},
        {"what": "  CPU of its processes, start to stop", "median s": median(plain, "cpu_s")},
        {"what": "stop on SIGTERM, no connection open", "median s": median(plain, "stopped_s")},
        {"what": "stop on SIGTERM, an idle connection held", "median s": median(held, "stopped_s")},
    ]
    print_table(f"seed-central serve, medians of {args.runs} runs", rows, ["what", "median s"])
    write_json("console_start", {"runs": args.runs, "code": str(code), "baseline_s": base, "serve": plain, "serve_idle_held": held,
                                 "rows": rows})
    return 0 if all(run["exit"] == 0 for run in plain + held) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Console start and stop: how long ``seed-central serve`` takes to answer, and to stop when systemd tells it to.

Measured on a new SQLite central (its schema made first, not measured), each ``--runs`` times (5), medians:

* the baseline, in the same run: ``seed-central --db DB devices``, a command that starts Django, checks the
  schema and answers: the floor of any ``seed-central`` command;
* ``seed-central serve`` (gunicorn, 2 processes × 4 threads, the application loaded once before the workers
  fork), run as the browser tests run it (``ConsoleServer``): from the command's start to the first ``/login/``
  page answered (200), polled every 50 ms, and the CPU seconds its processes used from start to stop;
* the stop (SIGTERM to the process group, as systemd sends it): to every process gone, with no connection open,
  and with an idle connection held open (a browser's preconnect: connected, nothing sent), which a synchronous
  worker that had taken it waited on for gunicorn's 30-s grace.

    python -m benchmarks.console_start [--runs 5] [--code CHECKOUT]

``--code``: run the commands from another checkout (``git worktree add /tmp/before REV``), to compare versions
on the same machine in the same hour.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import print_table, timed, write_json
from central.console.screenshots import ConsoleServer

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "central.settings", "SEED_CENTRAL_SECRET_KEY": "bench-only"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def baseline(db: str, code: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "central.cli", "--db", db, "devices"], check=True, capture_output=True,
                   env=_env(), cwd=code)
    return time.perf_counter() - start


def serve_once(db: str, folder: Path, code: Path, idle: bool) -> dict[str, float]:
    """One start to the first page, then one stop (with an idle connection held when ``idle``)."""
    server = ConsoleServer(db, folder / "console.log", env={"SEED_CENTRAL_SECRET_KEY": "bench-only"}, code=code)
    cpu_before = _children_cpu()
    answered = timed(server.start)
    with contextlib.ExitStack() as held:
        if idle:
            held.enter_context(socket.create_connection(("127.0.0.1", server.port)))
        # SIGTERM to the group, then until every process is gone (killed only past a minute)
        stopped = timed(lambda: server.stop(timeout=60))
    assert server.proc is not None
    # the CPU of a process is counted once it is waited for: the whole run's, start and stop
    return {"answered_s": answered, "stopped_s": stopped, "cpu_s": _children_cpu() - cpu_before,
            "exit": float(server.proc.returncode)}


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

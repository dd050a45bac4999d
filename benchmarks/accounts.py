"""Accounts benchmark (用户与权限): opening a plant's self-service accounts in one go, and signing in.

Measured in one child process on a throwaway SQLite database with the central's own settings (``PASSWORD_HASHERS``
as shipped, Django set up once), ``--employees`` active employees at one site:

* **opening**: ``users.open_employee_accounts`` for the whole site (one transaction; the one-time passwords stored
  by ``central.accounts.hashers``), each run on a fresh set of employees;
* **the baseline in the same run**: the same number of one-time passwords stored with Django's default hasher
  (``make_password``: PBKDF2, a million iterations), what storing them as any password would cost;
* **first sign-in**: ``authenticate`` with a one-time password (which stores it again at full strength), and a
  sign-in after that, with the full-strength hash, per account.

Medians of ``--runs`` runs. The machine may be shared: compare the rows of one run with each other.

    python -m benchmarks.accounts [--employees 500] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.central import RESULT_MARK, log, run_central_child
from benchmarks.common import print_table, write_json


def child(args: argparse.Namespace) -> dict[str, Any]:
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate()
    from django.contrib.auth import authenticate
    from django.contrib.auth.hashers import make_password

    from central.accounts.models import Role, User
    from central.accounts.services import one_time_password
    from central.accounts.users import open_employee_accounts
    from central.people.models import Employee, Site

    root = User.objects.create_user("root", password="root-password-2026", is_superuser=True, role=Role.HR_ADMIN)
    runs: list[dict[str, Any]] = []
    for run in range(args.runs):
        site = Site.objects.create(code=f"plant-{run}", name=f"plant {run}", time_zone="Asia/Shanghai")
        Employee.objects.bulk_create([Employee(number=f"R{run}-{i:05d}", name=f"员工{i}", site=site)
                                      for i in range(args.employees)])
        began = time.perf_counter()
        outcome = open_employee_accounts(root, Employee.objects.filter(site=site))
        opened_s = time.perf_counter() - began
        sample = outcome.opened[: args.sign_ins]
        first, again = [], []
        for o in sample:
            t0 = time.perf_counter()
            assert authenticate(username=o.username, password=o.password) is not None
            t1 = time.perf_counter()
            assert authenticate(username=o.username, password=o.password) is not None
            t2 = time.perf_counter()
            first.append((t1 - t0) * 1000)
            again.append((t2 - t1) * 1000)
        baseline_n = min(args.employees, args.baseline)
        t0 = time.perf_counter()
        for _ in range(baseline_n):
            make_password(one_time_password())
        default_s = (time.perf_counter() - t0) * args.employees / baseline_n
        runs.append({"opened": len(outcome.opened), "open_s": opened_s, "default_hasher_s": default_s,
                     "first_sign_in_ms": statistics.median(first), "sign_in_ms": statistics.median(again)})
        log(f"  run {run + 1}: {len(outcome.opened)} accounts in {opened_s:.2f} s (default hasher: {default_s:.1f} s)")
    return {"employees": args.employees, "baseline_hashed": min(args.employees, args.baseline), "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.accounts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=500, help="active employees of the site, none with an account")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=int, default=20,
                        help="passwords actually hashed with the default hasher per run (scaled to --employees)")
    parser.add_argument("--sign-ins", type=int, default=5, help="accounts signed in with, twice each, per run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(RESULT_MARK + json.dumps(child(args)), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="seed-bench-accounts-") as tmp:
        options = ["--employees", str(args.employees), "--runs", str(args.runs), "--baseline", str(args.baseline),
                   "--sign-ins", str(args.sign_ins)]
        result = run_central_child("benchmarks.accounts", "accounts", str(Path(tmp) / "central.db"), options)
    runs = result["runs"]

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    n = result["employees"]
    print_table(f"Opening {n:,} employees' self-service accounts at once; medians of {len(runs)} runs", [
        {"step": "open_employee_accounts (one-time passwords, central/accounts/hashers.py)", "seconds": median("open_s")},
        {"step": f"the same passwords with Django's default hasher (baseline; {result['baseline_hashed']} hashed, scaled)",
         "seconds": median("default_hasher_s")},
        {"step": "first sign-in with a one-time password (stored again at full strength), per account",
         "seconds": median("first_sign_in_ms") / 1000},
        {"step": "a sign-in after that, per account", "seconds": median("sign_in_ms") / 1000},
    ], ["step", "seconds"])
    write_json("accounts", {**result, "medians": {k: median(k) for k in
                                                  ("open_s", "default_hasher_s", "first_sign_in_ms", "sign_in_ms")}})
    return 0


if __name__ == "__main__":
    sys.exit(main())

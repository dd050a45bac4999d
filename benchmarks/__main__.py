"""``make bench``: run every benchmark (or the ones named) and write benchmarks/results/*.json."""
from __future__ import annotations

import importlib
import sys

ALL = ("store", "faces", "finger", "sync", "roster", "central", "attendance", "reports", "console", "face_photos", "accounts",
       "punch_import", "ui", "console_start", "follower_idle")


def main(argv: list[str]) -> int:
    options = [a for a in argv if a.startswith("-")]
    if options:
        print(f"python -m benchmarks takes benchmark names only ({', '.join(ALL)}); options such as {options[0]} "
              "go to one benchmark: python -m benchmarks.NAME --help", file=sys.stderr)
        return 2
    names = argv or list(ALL)
    failed = []
    for name in names:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"benchmarks.{name}":
                print(f"(no benchmark {name} yet)")
                continue
            raise
        print(f"\n=== {name} ===")
        if module.main([]) != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that reported a failure: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

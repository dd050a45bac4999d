"""``make demo``: a simulated terminal at a simulated door, start to finish, in one command.

Writes a demo configuration under ``demo-data/``, starts from an empty encrypted
database, and runs ``seed-terminal --headless --simulate --scenario demo``: employees
tap cards and type PINs through the simulators, each decision is printed as it
happens and a summary closes the run.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO / "demo-data"

DEMO_CONFIG = """\
# Written by `make demo`: a simulated terminal whose data lives in demo-data/terminal.
[device]
id = "demo-door-01"
site = "demo"
name = "Demo front door"
company_name = "Seed 演示公司"
language = "zh"
timezone = "Asia/Shanghai"

[storage]
data_dir = "{data_dir}"
min_free_mb = 5

[hardware]
profile = "sim"

[hardware.fingerprint]
enabled = false

[punch]
debounce_s = 60
"""


def write_demo_config() -> Path:
    data_dir = DEMO_DIR / "terminal"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    config = DEMO_DIR / "terminal.toml"
    config.write_text(DEMO_CONFIG.format(data_dir=data_dir), encoding="utf-8")
    return config


def main() -> int:
    from terminal.cli import main as terminal_main

    config = write_demo_config()
    print(f"Seed demo: simulated terminal, configuration {config.relative_to(REPO)}, fresh encrypted database\n")
    return terminal_main(["--config", str(config), "run", "--headless", "--simulate", "--scenario", "demo"])


if __name__ == "__main__":
    sys.exit(main())

"""``make demo``: a simulated terminal at a simulated door, and the central server, in one command.

1. starts the central side locally: a site CA, a provisioned terminal, a real mosquitto
   with TLS and per-device ACLs on a free port, and ``seed-central`` storing into SQLite;
2. writes the terminal's configuration under ``demo-data/`` (simulated hardware, fresh
   encrypted database, the provisioned ``[sync]`` section);
3. starts ``seed-sync`` as its own process, as on the device;
4. plays ``seed-terminal --headless --simulate --scenario demo``: employees tap cards, type
   PINs, press fingers and walk up to the camera through the simulators, each decision
   printed as it happens (with a display, the kiosk window opens instead, with simulated
   people walking up);
5. waits for the outbox to drain and prints what arrived centrally.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = Path(os.environ.get("SEED_DEMO_DIR", REPO / "demo-data"))

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
enabled = true

[punch]
debounce_s = 60

[face]
min_face_px = 60
# the demo's "employee" is a recorded clip: it blinks but cannot answer the door's prompted head turn
# (the default liveness, face.liveness = "challenge"), so the demo door accepts a blink
liveness = "blink_or_turn"

# a window the size of the 7" touchscreen, so the demo never takes over a developer's desktop
[ui]
fullscreen = false
width = 800
height = 480
{sync}"""


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_demo_config(sync: dict | None = None) -> Path:
    data_dir = DEMO_DIR / "terminal"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    section = "\n[sync]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in sync.items()) if sync else \
        "\n[sync]\nenabled = false\n"
    config = DEMO_DIR / "terminal.toml"
    config.write_text(DEMO_CONFIG.format(data_dir=data_dir, sync=section), encoding="utf-8")
    return config


def display_present() -> bool:
    """A screen to open the kiosk on (SEED_DEMO_HEADLESS=1 keeps the demo in the terminal)."""
    if os.environ.get("SEED_DEMO_HEADLESS") or os.environ.get("CI"):
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def wait_for_empty_outbox(config_path: Path, timeout_s: float) -> int:
    from terminal.config import load_config
    from terminal.store.database import open_store

    config = load_config(config_path)
    deadline = time.monotonic() + timeout_s
    while True:
        with open_store(config.storage, create=False) as store:
            left = store.scalar("SELECT count(*) FROM outbox")
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def print_central(stack, device_punches: int) -> bool:
    from enrollment.cli import print_table

    punches = stack.punches()
    print("\nArrived at the central server (seed-central, SQLite):")
    rows = [{"punched_at": p.get("punched_at"), "employee": p.get("employee_number"), "direction": p.get("direction"),
             "method": p.get("method"), "device": p.get("device_id"), "id": p.get("id")} for p in punches]
    print_table(rows, ["punched_at", "employee", "direction", "method", "device", "id"])
    ids = [p.get("id") for p in punches]
    events = stack.events()
    print(f"\npunches on the terminal: {device_punches}   at the central server: {len(punches)} "
          f"(distinct ids {len(set(ids))})   events forwarded: {len(events)}")
    return len(set(ids)) == len(ids) == device_punches


def print_attendance(site: str) -> None:
    """A month of history for a few dozen people, and the attendance the engine computed from it."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from central.attendance.demo_history import close_last_month, file_requests, fill_month, summary_table

    started = time.monotonic()
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    rows = fill_month(site, today)
    print(f"\n考勤 Attendance: the last 30 days of {sum(r.employees for r in rows)} people on 白班 day, 夜班 night "
          f"and a 三班倒 rotation, computed by the attendance engine in {time.monotonic() - started:.1f} s")
    for line in summary_table(rows):
        print("  " + line)
    asked = file_requests(site, today)
    leave, makeup = asked.leave, asked.makeup
    swapped = ""
    if asked.changes:
        worked, rest = asked.changes
        swapped = (f", {worked.employee.name} to work {worked.start:%a %m-%d} on {worked.shift} and rest "
                   f"{rest.start:%a %m-%d} instead (调班 shift change, two requests)")
    print(f"\n请求与审批 Requests: {asked.waiting} waiting for a decision: {leave.employee.name} asks for leave "
          f"{leave.start} – {leave.end}, {makeup.employee.name} for a make-up out punch at "
          f"{makeup.at.astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M} with a photo of the door's screen "
          f"attached (kept without the phone's GPS position){swapped}; the 待审批 alert rule put "
          f"{asked.alerts} notifications in the console for their managers and HR")
    closed = close_last_month(site, today)
    if closed.records:
        print(f"\n月结 Month close: HR closed {closed.month:%Y-%m} ({closed.decided} days of overtime still waiting "
              f"were approved first): its {closed.records} records no longer change (a punch arriving late for it is "
              "held for HR to see; 考勤 Attendance → 月结 Month close)")
    else:
        print(f"\n月结 Month close: {closed.month:%Y-%m} cannot be closed yet: " + "; ".join(closed.blockers))


def device_punch_count(config_path: Path) -> int:
    from terminal.config import load_config
    from terminal.store.database import open_store

    with open_store(load_config(config_path).storage, create=False) as store:
        return int(store.scalar("SELECT count(*) FROM punches"))


CONSOLE_PORT = 8000


def _port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_console(database: Path, log_path: Path) -> tuple[subprocess.Popen, str] | None:
    """``seed-central serve`` on 127.0.0.1:8000 (or the next free port); None when it does not answer."""
    import urllib.request

    from central.demo_stack import free_port, stop_process

    port = CONSOLE_PORT if _port_free(CONSOLE_PORT) else free_port()
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "central.cli", "--db", str(database), "serve", "--bind",
                                 f"127.0.0.1:{port}", "--workers", "1"], stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "login/", timeout=2) as answer:
                if answer.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    stop_process(proc)
    return None


def print_backup(database: Path) -> None:
    """The central's database backed up while it runs, as a nightly timer would, and the copy checked."""
    from central import backup

    made = backup.make_backup(str(database), database.parent / "backups")
    checked = backup.check_backup(made.path)
    counts = checked.manifest["counts"]
    print(f"\n备份 backup: {made.path.relative_to(DEMO_DIR.parent)} ({made.manifest['bytes'] / 1e6:.1f} MB, checked "
          f"intact): {counts['punches']} punches, {counts['employees']} employees, {counts['daily_records']} daily "
          "records (seed-central backup create / restore)")


def central_console(database: Path) -> int:
    """Migrate (done by the stack), create the console admin, serve the console; keep serving on a terminal."""
    from central.accounts.services import create_user_with_one_time_password
    from central.demo_stack import stop_process

    password = create_user_with_one_time_password("admin", role="superuser", actor="demo")
    log_path = DEMO_DIR / "console.log"
    started = start_console(database, log_path)
    if started is None:
        print(f"\nthe web console did not start; see {log_path.relative_to(DEMO_DIR.parent)}", file=sys.stderr)
        return 1
    proc, url = started
    try:
        print("\n中央控制台 Central console")
        print(f"  地址 address:        {url}   (the console answered)")
        print("  用户 user:           admin")
        print(f"  一次性密码 password: {password}   (首次登录后设置自己的密码 / set your own at the first sign-in)")
        print(f"  API 文档 API docs:   {url}api/v1/docs")
        print("  看这里 look at:      设备 Devices (demo-door-01, last seen, queue), 事件 Events, 审计日志 Audit log")
        if sys.stdin.isatty() and sys.stdout.isatty():
            print("\n控制台运行中，按 Ctrl-C 结束 / the console keeps serving; press Ctrl-C to stop")
            try:
                while proc.poll() is None:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                print()
        else:
            print("\n(no terminal attached: the console is stopped again; run `make demo` in a terminal to keep it)")
    finally:
        stop_process(proc)
    return 0


def main() -> int:
    from central.demo_stack import StackError, local_stack
    from terminal.cli import main as terminal_main

    central_dir = DEMO_DIR / "central"
    if central_dir.exists():
        shutil.rmtree(central_dir)
    print("Seed demo: a simulated terminal at a simulated door, syncing to a local central server\n")
    try:
        stack_cm = local_stack(central_dir, device_id="demo-door-01", site="demo")
        stack = stack_cm.__enter__()
    except StackError as exc:
        print(f"could not start the local central server: {exc}", file=sys.stderr)
        return 1
    sync_proc = None
    try:
        config = write_demo_config(stack.sync_settings)
        print(f"central: mosquitto (TLS, per-device ACL) on 127.0.0.1:{stack.broker_port}, seed-central storing "
              f"into {(central_dir / 'central.db').relative_to(DEMO_DIR.parent)}; terminal demo-door-01 provisioned")
        print(f"terminal: configuration {config.relative_to(DEMO_DIR.parent)}, fresh encrypted database, simulated hardware\n")
        log_path = DEMO_DIR / "seed-sync.log"
        with open(log_path, "wb") as sync_log:
            sync_proc = subprocess.Popen([sys.executable, "-m", "sync_agent.cli", "--config", str(config), "--no-ntp"],
                                         stdout=sync_log, stderr=subprocess.STDOUT, cwd=REPO)
        if display_present():
            print("a display is present: opening the kiosk with simulated people walking up "
                  "(close the window to see what reached the central server)\n")
            from terminal.config import load_config
            from terminal.ui.demo import run_demo_kiosk

            code = run_demo_kiosk(load_config(config))
        else:
            code = terminal_main(["--config", str(config), "run", "--headless", "--simulate", "--scenario", "demo"])
        print("\nwaiting for seed-sync to deliver the outbox and for the acknowledgements ...")
        left = wait_for_empty_outbox(config, timeout_s=60)
        if left:
            print(f"{left} rows still queued after 60 s; see {log_path.relative_to(DEMO_DIR.parent)}")
        complete = print_central(stack, device_punch_count(config))
        print("every punch arrived exactly once and the outbox is empty" if complete and not left
              else "NOT every punch arrived yet")
        from central.demo_stack import stop_process

        stop_process(sync_proc, 15)  # the terminal's day is over; the central side stays up for the console
        print_attendance("demo")
        print_backup(central_dir / "central.db")
        console = central_console(central_dir / "central.db")
        return code if complete and not left and console == 0 else 1
    finally:
        if sync_proc is not None:
            from central.demo_stack import stop_process

            stop_process(sync_proc, 15)
        stack_cm.__exit__(None, None, None)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

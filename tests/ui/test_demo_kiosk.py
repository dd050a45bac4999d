"""``make demo`` with a display: the kiosk opens and simulated people punch by card, face, PIN, card+PIN and finger.

Run in its own process (the demo runs Kivy's own main loop and closes its window at the end), offscreen.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    from terminal.config import parse_config
    from terminal.ui.demo import run_demo_kiosk

    config = parse_config({"device": {"id": "demo-door-01", "language": "zh", "company_name": "Seed 演示公司"},
                           "storage": {"data_dir": sys.argv[1], "min_free_mb": 1}, "hardware": {"profile": "sim"},
                           "face": {"enabled": sys.argv[2] == "faces", "min_face_px": 60},
                           "ui": {"fullscreen": False, "result_s": 1.0}})
    sys.exit(run_demo_kiosk(config, offscreen=True, duration_s=100, gap_s=0.3, rounds=1))
""")


def test_the_demo_kiosk_plays_people_at_the_door(tmp_path):
    from terminal.ui.demo import DEFAULT_FACES

    faces = (DEFAULT_FACES / "video").is_dir()  # without the shared photos the demo leaves the face scenes out
    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(data), "faces" if faces else "no-faces"], cwd=REPO,
                          capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("[demo]")]
    assert any("张伟 taps his card" in line for line in lines)
    assert "punches recorded" in lines[-1]
    # one round of every scene, however slow the machine: the window closed after the last one, not at a time
    assert lines[-1].startswith(f"[demo] {8 if faces else 6} scenes played")
    assert sum("Chen Jie presses his finger" in line for line in lines) == 1

    from terminal.config import parse_config
    from terminal.store.database import open_store

    config = parse_config({"storage": {"data_dir": str(data)}})
    with open_store(config.storage, create=False) as store:
        methods = {row["method"] for row in store.query("SELECT method FROM punches")}
        refused_cards = store.query("SELECT kind FROM events WHERE kind = 'unknown_card'")
    expected = {"card", "pin", "card+pin", "finger"} | ({"face"} if faces else set())
    assert expected <= methods
    assert refused_cards


def test_seed_terminal_opens_the_kiosk_and_stops_cleanly_on_sigterm(tmp_path):
    import os
    import signal
    import time

    config = tmp_path / "terminal.toml"
    config.write_text(textwrap.dedent(f"""
        [device]
        id = "kiosk-door"
        [storage]
        data_dir = "{tmp_path / 'data'}"
        min_free_mb = 1
        [hardware]
        profile = "sim"
        [face]
        enabled = false
        [ui]
        fullscreen = false
    """), encoding="utf-8")
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen")  # the window goes to Mesa's offscreen buffer here
    process = subprocess.Popen([sys.executable, "-m", "terminal.cli", "--config", str(config), "-v", "run"], cwd=REPO,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "kiosk started" in line:
                break
        assert any("kiosk started (800x480, zh)" in line for line in seen), "".join(seen[-30:])
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, rest[-3000:]
    assert "closing the kiosk" in rest

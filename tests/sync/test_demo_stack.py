"""The local central side the demo uses: broker, receiver and a provisioned terminal in one call."""
from __future__ import annotations

from central.demo_stack import drain_outbox, local_stack
from terminal.config import parse_config


def test_local_stack_carries_a_terminals_punches_to_the_central(tmp_path, transactional_db):
    with local_stack(tmp_path / "central", device_id="demo-door-01", site="demo") as stack:
        config = parse_config({
            "device": {"id": "demo-door-01", "site": "demo", "timezone": "UTC"},
            "storage": {"data_dir": str(tmp_path / "terminal"), "min_free_mb": 1},
            "hardware": {"profile": "sim"},
            "punch": {"debounce_s": 0},
            "sync": stack.sync_settings,
        })
        from sync_support import Terminal

        terminal = Terminal(config)
        try:
            made = terminal.punch(12)
        finally:
            terminal.close()
        result = drain_outbox(config, timeout_s=30)
        assert result.queue_depth == 0 and result.acked_items >= 12
        assert sorted(p["id"] for p in stack.punches()) == sorted(made)
        assert [d["device_id"] for d in stack.devices()] == ["demo-door-01"]
    assert stack.broker.poll() is not None  # stopped on exit

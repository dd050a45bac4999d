"""Device status in one place: what the admin status screen shows and the sync agent publishes."""
from __future__ import annotations

import shutil
import socket
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terminal.store.database import Store

if TYPE_CHECKING:
    from terminal.config import TerminalConfig
    from terminal.hardware.factory import Hardware

HARDWARE_NAMES = ("camera", "fingerprint", "card_reader", "outputs", "speaker", "clock")


def software_version() -> str:
    try:
        return metadata.version("seed-terminal")
    except metadata.PackageNotFoundError:
        return "unknown"


def storage_status(path: Path) -> dict[str, Any]:
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return {"error": str(exc)}
    db_bytes = sum(p.stat().st_size for p in path.glob("*.db*") if p.is_file())
    return {"free_mb": round(usage.free / 1_048_576, 1), "total_mb": round(usage.total / 1_048_576, 1),
            "used_percent": round(100 * (usage.total - usage.free) / usage.total, 1) if usage.total else None,
            "database_mb": round(db_bytes / 1_048_576, 2)}


def network_status() -> dict[str, Any]:
    """Addresses of this host's interfaces (no traffic is sent)."""
    addresses = []
    try:
        for family, _, _, _, sockaddr in socket.getaddrinfo(socket.gethostname(), None):
            if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in addresses:
                addresses.append(sockaddr[0])
    except OSError:
        pass
    return {"hostname": socket.gethostname(), "addresses": addresses}


def hardware_health(hardware: Hardware) -> dict[str, str]:
    """'ok', 'missing: reason', 'disabled' or a device's own health text, per device."""
    result = {}
    problems = getattr(hardware, "problems", {}) or {}
    for name in HARDWARE_NAMES:
        device = getattr(hardware, name, None)
        if name in problems:
            result[name] = f"missing: {problems[name]}"
        elif device is None:
            result[name] = "disabled"
        else:
            health = getattr(device, "health", None)
            try:
                result[name] = str(health()) if callable(health) else "ok"
            except Exception as exc:  # a device that fails its health check is reported, not fatal
                result[name] = f"error: {exc}"
    return result


def device_status(store: Store, config: TerminalConfig, hardware: Hardware | None = None) -> dict[str, Any]:
    sync = store.get_setting("sync.status", {}) or {}
    [queue] = store.query("SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE kind = 'punch'")
    events = store.scalar("SELECT count(*) FROM outbox WHERE kind = 'event'")
    last_punch = store.query_one("SELECT punched_at FROM punches ORDER BY punched_at DESC LIMIT 1")
    status: dict[str, Any] = {
        "device_id": config.device.id,
        "site": config.device.site,
        "version": software_version(),
        "network": network_status(),
        "broker": {"connected": bool(sync.get("connected")), "last_ack_at": sync.get("last_ack_at"),
                   "host": config.sync.broker_host, "port": config.sync.broker_port},
        "queue": {"punches": queue["n"], "oldest": queue["oldest"], "events": events},
        "clock": {"offset_s": sync.get("clock_offset_s"), "source": sync.get("time_source"),
                  "last_ntp_at": sync.get("last_ntp_at")},
        "storage": storage_status(config.storage.data_dir),
        "last_punch_at": last_punch["punched_at"] if last_punch else None,
    }
    if hardware is not None:
        status["hardware"] = hardware_health(hardware)
        clock = getattr(hardware, "clock", None)
        if clock is not None and status["clock"]["source"] is None:
            status["clock"]["source"] = clock.now().source
    return status

"""``seed-central broker-config``: a mosquitto configuration with TLS and per-device ACLs.

Clients must present a certificate signed by the site CA; its common name becomes the
MQTT user name (``use_identity_as_username``). The ACL lets each provisioned terminal
publish only on its own topics and read only its own acks, roster and commands (plus
its site's roster); the central server (CN ``seed-central``) reads and writes the whole
``seed/`` tree. Re-run after provisioning a terminal and send the broker SIGHUP.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from central.pki import CENTRAL_CN, SitePki
from contract import protocol as p


@dataclass(frozen=True)
class BrokerFiles:
    config: Path
    acl: Path


def acl_text(pki: SitePki) -> str:
    lines = ["# Written by seed-central broker-config: one block per provisioned terminal.",
             f"user {CENTRAL_CN}", "topic readwrite seed/#", ""]
    for device, info in sorted(pki.devices().items()):
        site = info.get("site") or pki.site
        lines.append(f"user {device}")
        for leaf in p.DEVICE_UP_LEAVES:
            lines.append(f"topic write {p.device_topic(site, device, leaf)}")
        for leaf in p.DEVICE_DOWN_LEAVES:
            lines.append(f"topic read {p.device_topic(site, device, leaf)}")
        lines.append(f"topic read {p.site_roster_topic(site)}")
        lines.append("")
    return "\n".join(lines)


def write_broker_config(pki: SitePki, out_dir: Path | str, *, port: int = 8883, bind: str = "0.0.0.0",
                        hostnames: tuple[str, ...] = ("localhost", "127.0.0.1"), persistence_dir: Path | None = None,
                        run_as_user: str | None = None, log_dest: str = "stderr") -> BrokerFiles:
    """Write ``mosquitto.conf`` and ``acl`` into ``out_dir`` (broker certificate issued on first use)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pki.ensure_ca()
    broker = pki.broker_cert(hostnames)
    pki.central_cert()
    acl = out / "acl"
    acl.write_text(acl_text(pki), encoding="utf-8")
    lines = [
        "# Written by seed-central broker-config.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"acl_file {acl}",
        f"listener {int(port)} {bind}",
        "protocol mqtt",
        f"cafile {pki.ca_cert}",
        f"certfile {broker.cert_path}",
        f"keyfile {broker.key_path}",
        "require_certificate true",
        "use_identity_as_username true",
        "tls_version tlsv1.2",
        "max_inflight_messages 100",
        "max_queued_messages 10000",
        f"log_dest {log_dest}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages true",
    ]
    if persistence_dir is not None:
        lines += ["persistence true", f"persistence_location {Path(persistence_dir)}/"]
    else:
        lines.append("persistence false")
    if run_as_user:
        lines.append(f"user {run_as_user}")
    config = out / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return BrokerFiles(config, acl)

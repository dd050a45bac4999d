"""``seed-central provision``: everything a terminal needs to talk to this site, in one folder.

The bundle holds the device's private key and certificate (signed by the site CA,
created on first use), the CA certificate, the central's command-signing public key,
and ``sync.toml`` with the ``[device]`` identity and ``[sync]`` section to merge into
the terminal's ``/etc/seed/terminal.toml``. Copy it to the device (e.g. into
``/etc/seed/sync``) and keep ``device.key`` readable only by the service user.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from central.pki import SitePki

log = logging.getLogger(__name__)

DEFAULT_INSTALL_DIR = Path("/etc/seed/sync")


@dataclass(frozen=True)
class Bundle:
    folder: Path
    device_id: str
    site: str
    config: Path

    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.is_file())


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sync_settings(folder: Path, broker_host: str, broker_port: int) -> dict:
    """The ``[sync]`` settings of a bundle installed in ``folder``."""
    return {
        "enabled": True, "broker_host": broker_host, "broker_port": int(broker_port), "tls": True,
        "ca_file": str(folder / "ca.crt"), "cert_file": str(folder / "device.crt"),
        "key_file": str(folder / "device.key"), "command_public_key": str(folder / "command-signing.pub"),
    }


def provision_device(pki: SitePki, device_id: str, out_dir: Path | str, *, site: str | None = None,
                     broker_host: str = "localhost", broker_port: int = 8883,
                     install_dir: Path | str | None = None) -> Bundle:
    """Issue the device's certificate and write its bundle to ``out_dir/<device_id>``.

    ``install_dir`` is where the files will live on the device (the paths written into
    ``sync.toml``); by default ``/etc/seed/sync``. Pass the bundle folder itself to use
    it in place (tests and the demo do).
    """
    site = site or pki.site
    pki.ensure_ca()
    pki.ensure_signing_key()
    issued = pki.device_cert(device_id, site)
    folder = Path(out_dir) / device_id
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pki.ca_cert, folder / "ca.crt")
    shutil.copyfile(issued.cert_path, folder / "device.crt")
    key_target = folder / "device.key"
    key_target.unlink(missing_ok=True)
    key_target.touch(mode=0o600)
    key_target.write_bytes(issued.key_path.read_bytes())
    shutil.copyfile(pki.signing_public, folder / "command-signing.pub")
    target = Path(install_dir) if install_dir is not None else DEFAULT_INSTALL_DIR
    settings = sync_settings(target, broker_host, broker_port)
    lines = [
        f"# Written by seed-central provision for {device_id} (site {site}).",
        "# Merge these sections into /etc/seed/terminal.toml; install the files of this folder in",
        f"# {target} (device.key readable only by the seed user).",
        "[device]", f"id = {_toml_str(device_id)}", f"site = {_toml_str(site)}", "", "[sync]",
    ]
    for key, value in settings.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f"{key} = {_toml_str(str(value))}")
    config = folder / "sync.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log.info("provisioned %s (site %s) into %s", device_id, site, folder)
    return Bundle(folder, device_id, site, config)

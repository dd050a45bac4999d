"""Private key files: read only when no one but their owner can read them.

A key readable by other users of the machine (mode 0644 after a careless copy, 0666 from an unpacked
archive) is a key that may already be known to someone else. Every Seed process that reads a private
key (the terminal's database key and its TLS key, the central's TLS, CA and command-signing keys)
refuses such a file with a message naming it and the command that fixes it, instead of using it
quietly. A key given through the systemd credentials directory is checked the same way (systemd
writes those 0400).

This module is pure apart from ``os.stat``: nothing from ``terminal``, ``sync_agent`` or ``central``.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


class KeyFileError(PermissionError):
    """A private key file that others can read (or that is not a regular file); the message says what to run."""


def _refuse_unless_private(target: Path, info: os.stat_result, what: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"{what} {target} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeyFileError(f"{what} {target} can be read or changed by other users (mode {mode:04o}); "
                           f"only its owner may: chmod 600 {target}")


def check_private_file(path: Path | str, what: str = "private key") -> Path:
    """``path`` when it is a regular file only its owner (and root) can read or write; KeyFileError otherwise.

    For a key another library opens by name (TLS). A missing file raises FileNotFoundError.
    """
    target = Path(path)
    _refuse_unless_private(target, target.stat(), what)
    return target


def read_private_file(path: Path | str, what: str = "private key") -> bytes:
    """The bytes of a private key file, checked as :func:`check_private_file` on the file opened (no race)."""
    target = Path(path)
    with open(target, "rb") as handle:
        _refuse_unless_private(target, os.fstat(handle.fileno()), what)
        return handle.read()


__all__ = ["KeyFileError", "check_private_file", "read_private_file"]

"""Ed25519 keys for signed commands: the central signs with its private key, terminals verify."""
from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from contract.keyfiles import read_private_file


class SigningKeyError(ValueError):
    """A key file that cannot be read or is not an Ed25519 key; the message names the file."""


def load_signing_key(path: Path | str) -> ed25519.Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(read_private_file(path, "command signing key"), password=None)
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"command signing key {path} cannot be read: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    return key


def load_verify_key(path: Path | str) -> ed25519.Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"command public key {path} cannot be read: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningKeyError(f"{path} is not an Ed25519 public key")
    return key

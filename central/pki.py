"""Keys and certificates of one site: its CA, the broker, the central server and each terminal.

Layout of the PKI folder (private keys mode 0600)::

    ca.key ca.crt                     site CA, created on first use
    broker.key broker.crt             the broker's TLS server certificate
    central.key central.crt           the central server's client certificate (CN seed-central)
    command-signing.key .pub          Ed25519 key the central signs commands with
    devices/<id>.key <id>.crt         one client certificate per terminal (CN = device id)
    devices.json                      registry: device id → site, certificate serial, issue time

The broker maps the certificate CN to the MQTT user name (``use_identity_as_username``),
so a terminal's ACL follows from its certificate alone.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from contract.keyfiles import read_private_file

log = logging.getLogger(__name__)

CENTRAL_CN = "seed-central"
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CA_DAYS = 3650
CERT_DAYS = 825


class PkiError(ValueError):
    """A provisioning request that cannot be done; the message says why."""


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Issued:
    key_path: Path
    cert_path: Path
    serial: int


class SitePki:
    """The key material of one site, kept in one folder."""

    def __init__(self, root: Path | str, site: str = "default"):
        self.root = Path(root)
        self.site = site

    # -- paths ------------------------------------------------------------------------------
    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def signing_key(self) -> Path:
        return self.root / "command-signing.key"

    @property
    def signing_public(self) -> Path:
        return self.root / "command-signing.pub"

    @property
    def registry(self) -> Path:
        return self.root / "devices.json"

    # -- CA ---------------------------------------------------------------------------------
    def ensure_ca(self) -> None:
        if self.ca_cert.exists() and self.ca_key.exists():
            return
        if self.ca_cert.exists() != self.ca_key.exists():
            raise PkiError(f"{self.root}: only one of ca.crt/ca.key exists; restore the other (a new CA would "
                           "invalidate every issued certificate)")
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Seed"),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"Seed site CA ({self.site})")])
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        _write_private(self.ca_key, _key_pem(key))
        _write_public(self.ca_cert, cert.public_bytes(serialization.Encoding.PEM))
        log.info("created site CA in %s", self.root)

    def _load_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        self.ensure_ca()
        cert = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        key = serialization.load_pem_private_key(read_private_file(self.ca_key, "site CA key"), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{self.ca_key} is not an EC key (the site CA is P-256)")
        return cert, key

    def issue(self, common_name: str, key_path: Path, cert_path: Path, *, server_names: Iterable[str] = (),
              client: bool = True) -> Issued:
        """A new P-256 key and a certificate for it signed by the site CA."""
        ca_cert, ca_key = self._load_ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Seed"),
                                            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, self.site),
                                            x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CERT_DAYS))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
        names = list(server_names)
        if names:
            alt: list[x509.GeneralName] = []
            for item in names:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(item)))
                except ValueError:
                    alt.append(x509.DNSName(item))
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write_private(key_path, _key_pem(key))
        _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return Issued(key_path, cert_path, cert.serial_number)

    # -- the broker and the central ------------------------------------------------------------
    def broker_cert(self, hostnames: Iterable[str] = ("localhost", "127.0.0.1")) -> Issued:
        key, cert = self.root / "broker.key", self.root / "broker.crt"
        if key.exists() and cert.exists():
            return Issued(key, cert, x509.load_pem_x509_certificate(cert.read_bytes()).serial_number)
        names = list(dict.fromkeys(hostnames))
        return self.issue(names[0], key, cert, server_names=names, client=False)

    def console_cert(self, hostnames: Iterable[str], *, renew_days: int = 30) -> Issued:
        """The web console's HTTPS certificate for ``hostnames`` (the names and addresses browsers reach it by),
        signed by the site CA: made when missing, and again when it lacks one of the names or expires within
        ``renew_days`` days."""
        key, cert = self.root / "console.key", self.root / "console.crt"
        names = list(dict.fromkeys(hostnames))
        if key.exists() and cert.exists():
            current = x509.load_pem_x509_certificate(cert.read_bytes())
            try:
                covered = {str(n.value) for n in current.extensions.get_extension_for_class(
                    x509.SubjectAlternativeName).value}
            except x509.ExtensionNotFound:
                covered = set()
            if set(names) <= covered and current.not_valid_after_utc - _now() > dt.timedelta(days=renew_days):
                return Issued(key, cert, current.serial_number)
            log.info("the console's certificate is made again (names %s, valid until %s)", ", ".join(names),
                     current.not_valid_after_utc.date())
        return self.issue(names[0], key, cert, server_names=names, client=False)

    def central_cert(self) -> Issued:
        key, cert = self.root / "central.key", self.root / "central.crt"
        if key.exists() and cert.exists():
            return Issued(key, cert, x509.load_pem_x509_certificate(cert.read_bytes()).serial_number)
        return self.issue(CENTRAL_CN, key, cert)

    def ensure_signing_key(self) -> ed25519.Ed25519PrivateKey:
        if self.signing_key.exists():
            key = serialization.load_pem_private_key(read_private_file(self.signing_key, "command signing key"),
                                                     password=None)
            if not isinstance(key, ed25519.Ed25519PrivateKey):
                raise PkiError(f"{self.signing_key} is not an Ed25519 key")
            return key
        key = ed25519.Ed25519PrivateKey.generate()
        _write_private(self.signing_key, _key_pem(key))
        _write_public(self.signing_public, key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        log.info("created the command-signing key in %s", self.root)
        return key

    # -- terminals ---------------------------------------------------------------------------------
    def devices(self) -> dict[str, dict]:
        if not self.registry.exists():
            return {}
        return json.loads(self.registry.read_text(encoding="utf-8"))

    def device_cert(self, device_id: str, site: str | None = None) -> Issued:
        if not DEVICE_ID_RE.match(device_id or ""):
            raise PkiError("device id must be 1-64 letters, digits, '.', '_' or '-'")
        if device_id == CENTRAL_CN:
            raise PkiError(f"{CENTRAL_CN} is reserved for the central server")
        issued = self.issue(device_id, self.root / "devices" / f"{device_id}.key",
                            self.root / "devices" / f"{device_id}.crt")
        registry = self.devices()
        registry[device_id] = {"site": site or self.site, "serial": format(issued.serial, "x"),
                               "issued_at": _now().strftime("%Y-%m-%dT%H:%M:%SZ")}
        _write_public(self.registry, json.dumps(registry, indent=2, sort_keys=True).encode("utf-8"))
        return issued

"""The MQTT contract between terminals and the central server (v1), in one place.

Topics, message schemas (pydantic models that reject unknown keys and out-of-range
values), canonical JSON and the Ed25519 command signature. Both ``seed-sync`` and
``seed-central`` validate every payload they receive with these models; a payload
that does not validate is refused with the reason pydantic gives, never half-applied.
See ``docs/protocol.md`` for the prose version.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timezone
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

VERSION = "v1"
PREFIX = f"seed/{VERSION}"
MAX_BATCH = 500
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024  # a full roster with templates fits; anything larger is refused unread
MAX_EVENT_PAYLOAD_BYTES = 16 * 1024

SEGMENT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
STAMP_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
NUMBER_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
DEVICE_RE = r"^[A-Za-z0-9_.-]{1,64}$"
METHOD_RE = r"^[a-z]{1,16}(\+[a-z]{1,16}){0,3}$"
KIND_RE = r"^[a-z][a-z0-9_.]{0,63}$"
RESERVED_IDS = ("seed-central",)


class ProtocolError(ValueError):
    """A message that does not follow the contract; ``reason`` says why in one line."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


# -- topics --------------------------------------------------------------------------------
def device_topic(site: str, device: str, leaf: str) -> str:
    return f"{PREFIX}/{site}/{device}/{leaf}"


def site_roster_topic(site: str) -> str:
    return f"{PREFIX}/{site}/roster"


DEVICE_UP_LEAVES = ("punches", "events", "status", "roster/request", "cmd/result")
DEVICE_DOWN_LEAVES = ("ack", "roster", "cmd")


def parse_topic(topic: str) -> tuple[str, Optional[str], str]:
    """``seed/v1/{s}/{d}/{leaf}`` or ``seed/v1/{s}/roster`` → (site, device or None, leaf)."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != "seed" or parts[1] != VERSION:
        raise ProtocolError(f"topic {topic[:120]!r} is not under {PREFIX}/")
    site = parts[2]
    if not SEGMENT_RE.match(site):
        raise ProtocolError("bad site segment in topic")
    if len(parts) == 4 and parts[3] == "roster":
        return site, None, "roster"
    device = parts[3]
    if not SEGMENT_RE.match(device):
        raise ProtocolError("bad device segment in topic")
    leaf = "/".join(parts[4:])
    if leaf not in DEVICE_UP_LEAVES + DEVICE_DOWN_LEAVES:
        raise ProtocolError(f"unknown topic leaf {leaf[:40]!r}")
    return site, device, leaf


# -- canonical JSON and signatures -----------------------------------------------------------
def canonical_json(obj: Any) -> bytes:
    """The bytes a signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def loads(payload: bytes) -> Any:
    """Parse a payload as UTF-8 JSON with a size limit; :class:`ProtocolError` otherwise."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("payload is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"payload is not JSON: {str(exc)[:100]}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def utc_stamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError(f"{what} is not base64") from None


# -- schemas ------------------------------------------------------------------------------------
class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)


def _check_stamp(value: Optional[str]) -> Optional[str]:
    if value is not None:
        try:
            parse_stamp(value)
        except ValueError:
            raise ValueError("not a valid UTC time") from None
    return value


class Punch(Message):
    id: str = Field(pattern=UUID_RE, description="UUIDv7 made on the device; the dedup key everywhere.")
    device_id: str = Field(pattern=DEVICE_RE)
    employee_number: str = Field(pattern=NUMBER_RE)
    direction: Literal["in", "out"]
    method: str = Field(pattern=METHOD_RE)
    score: Optional[float] = Field(None, allow_inf_nan=False, ge=-1e6, le=1e6)
    punched_at: str = Field(pattern=STAMP_RE)
    boot_id: str = Field(min_length=1, max_length=100)
    monotonic_ns: int = Field(ge=0, lt=2**63)
    time_source: Literal["ntp", "rtc", "unsynced"]
    original_punched_at: Optional[str] = Field(None, pattern=STAMP_RE)
    restamped_at: Optional[str] = Field(None, pattern=STAMP_RE)

    _stamps = field_validator("punched_at", "original_punched_at", "restamped_at")(_check_stamp)


class PunchBatch(Message):
    batch: str = Field(pattern=UUID_RE)
    punches: list[Any] = Field(min_length=1, max_length=MAX_BATCH, description="each item is validated on its own")


class Event(Message):
    id: str = Field(pattern=UUID_RE)
    kind: str = Field(pattern=KIND_RE)
    severity: Literal["debug", "info", "warning", "error", "critical"]
    at: str = Field(pattern=STAMP_RE)
    payload: dict = Field(default_factory=dict)

    _stamps = field_validator("at")(_check_stamp)

    @field_validator("payload")
    @classmethod
    def _small(cls, value: dict) -> dict:
        if len(dumps(value)) > MAX_EVENT_PAYLOAD_BYTES:
            raise ValueError(f"event payload larger than {MAX_EVENT_PAYLOAD_BYTES} bytes")
        return value


class EventBatch(Message):
    batch: str = Field(pattern=UUID_RE)
    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH, description="each item is validated on its own")


class Rejection(Message):
    id: Optional[str] = Field(None, max_length=100)
    reason: str = Field(max_length=500)


class Ack(Message):
    batch: str = Field(pattern=UUID_RE)
    stored: list[str] = Field(default_factory=list, max_length=MAX_BATCH)
    rejected: list[Rejection] = Field(default_factory=list, max_length=MAX_BATCH)

    @field_validator("stored")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.match(UUID_RE, item):
                raise ValueError("stored holds something that is not an id")
        return value


class Status(Message):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=1024)
    online: bool
    device: Optional[str] = Field(None, pattern=DEVICE_RE)
    site: Optional[str] = Field(None, pattern=DEVICE_RE)
    at: Optional[str] = Field(None, pattern=STAMP_RE)
    reason: Optional[str] = Field(None, max_length=200)
    versions: dict[str, Any] = Field(default_factory=dict, max_length=20)
    queue_depth: Optional[int] = Field(None, ge=0)
    last_ack_at: Optional[str] = Field(None, pattern=STAMP_RE)
    clock_offset_s: Optional[float] = Field(None, allow_inf_nan=False)
    time_source: Optional[str] = Field(None, max_length=20)
    last_ntp_at: Optional[str] = Field(None, pattern=STAMP_RE)
    storage: dict[str, Any] = Field(default_factory=dict, max_length=20)
    hardware: dict[str, Any] = Field(default_factory=dict, max_length=50)


class RosterRequest(Message):
    have: int = Field(ge=0, lt=2**62)
    reason: str = Field("", max_length=200)


class FingerTemplate(Message):
    finger: int = Field(ge=0, le=9)
    template: str = Field(min_length=4, max_length=8192)

    @field_validator("template")
    @classmethod
    def _b64(cls, value: str) -> str:
        b64decode(value, "finger template")
        return value


class RosterEmployee(Message):
    number: str = Field(pattern=NUMBER_RE)
    name: str = Field(min_length=1, max_length=100)
    department: str = Field("", max_length=100)
    card: Optional[str] = Field(None, max_length=40, description="card number in any reader format; stored normalised")
    pin_hash: Optional[str] = Field(None, max_length=300)
    role: Literal["employee", "admin"] = "employee"
    verify_mode: str = Field("any", pattern=METHOD_RE)
    allowed_devices: list[str] = Field(default_factory=list, max_length=1000)
    active: bool = True
    faces: Optional[list[str]] = Field(None, max_length=20, description="base64 float32[128] descriptors; None leaves them as they are")
    fingers: Optional[list[FingerTemplate]] = Field(None, max_length=10)

    @field_validator("allowed_devices")
    @classmethod
    def _devices(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.match(DEVICE_RE, item):
                raise ValueError("allowed_devices holds something that is not a device id")
        return value

    @field_validator("card")
    @classmethod
    def _card(cls, value: Optional[str]) -> Optional[str]:
        """One canonical form on every terminal, so a roster card matches a tap at the door."""
        if value is None or value == "":
            return None
        from contract.cards import CardFormatError, normalize_card

        try:
            return normalize_card(value)
        except CardFormatError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("faces")
    @classmethod
    def _faces(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        for item in value or ():
            if len(b64decode(item, "face descriptor")) != 128 * 4:
                raise ValueError("a face descriptor must be 128 float32 values")
        return value

    @field_validator("name", "department")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(ord(ch) < 32 for ch in value):
            raise ValueError("contains control characters")
        return value


class Roster(Message):
    version: int = Field(ge=1, lt=2**62)
    base: int = Field(ge=0, lt=2**62, description="The version this message applies on top of (ignored when full).")
    full: bool = False
    issued_at: Optional[str] = Field(None, pattern=STAMP_RE)
    upserts: list[RosterEmployee] = Field(default_factory=list, max_length=100_000)
    deletes: list[str] = Field(default_factory=list, max_length=100_000)

    @field_validator("deletes")
    @classmethod
    def _numbers(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.match(NUMBER_RE, item):
                raise ValueError("deletes holds something that is not an employee number")
        return value


COMMANDS = ("open_door", "resync", "purge_employee", "set_setting")


class Command(Message):
    id: str = Field(pattern=UUID_RE)
    site: str = Field(pattern=DEVICE_RE)
    device: str = Field(pattern=DEVICE_RE)
    cmd: Literal["open_door", "resync", "purge_employee", "set_setting"]
    args: dict = Field(default_factory=dict)
    issued_at: str = Field(pattern=STAMP_RE)
    sig: str = Field(min_length=4, max_length=200)

    _stamps = field_validator("issued_at")(_check_stamp)


class CommandResult(Message):
    id: str = Field(pattern=UUID_RE)
    ok: bool
    reason: str = Field("", max_length=500)
    result: dict = Field(default_factory=dict)


def validate(model: type[Message], data: Any) -> Any:
    """Validate parsed JSON against a model; :class:`ProtocolError` with a one-line reason otherwise."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{model.__name__.lower()} must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(message)"
        reason = {"extra_forbidden": "unknown key",
                  "string_pattern_mismatch": "has the wrong format"}.get(first["type"], first["msg"])
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ProtocolError(f"{where}: {reason}{more}"[:300]) from None


# -- command signatures -------------------------------------------------------------------------
def command_body(command: dict) -> bytes:
    return canonical_json({k: v for k, v in command.items() if k != "sig"})


def sign_command(private_key: Any, *, site: str, device: str, cmd: str, args: dict | None = None,
                 command_id: str | None = None, issued_at: str | None = None) -> dict:
    """A command dict signed with the central's Ed25519 key (``cryptography`` private key)."""
    import uuid

    body = {"id": command_id or str(uuid.uuid4()), "site": site, "device": device, "cmd": cmd,
            "args": args or {}, "issued_at": issued_at or utc_stamp()}
    signature = private_key.sign(canonical_json(body))
    return {**body, "sig": base64.b64encode(signature).decode("ascii")}


def verify_command_signature(public_key: Any, command: dict) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        signature = base64.b64decode(str(command.get("sig", "")).encode("ascii"), validate=True)
        public_key.verify(signature, command_body(command))
        return True
    except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError):
        return False

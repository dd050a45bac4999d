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
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contract.stamps import (  # re-exported: p.STAMP_RE, p.utc_stamp, p.parse_stamp
    STAMP_RE,
    parse_stamp,
    utc_stamp,
)

VERSION = "v1"
PREFIX = f"seed/{VERSION}"
MAX_BATCH = 500
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024  # any message larger is refused unread
ROSTER_PART_BYTES = 1024 * 1024  # a roster version travels in parts of about this size, well under the limit
MAX_ROSTER_PARTS = 10_000
HISTORY_RE = r"^[0-9a-f]{32}$"  # the central's roster history id
DIGEST_RE = r"^[0-9a-f]{64}$"  # SHA-256 of a roster version's content, see roster_digest()
MAX_EVENT_PAYLOAD_BYTES = 16 * 1024

SEGMENT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
NUMBER_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
DEVICE_RE = r"^[A-Za-z0-9_.-]{1,64}$"
METHOD_RE = r"^[a-z]{1,16}(\+[a-z]{1,16}){0,3}$"
KIND_RE = r"^[a-z][a-z0-9_.]{0,63}$"
RESERVED_IDS = ("seed-central",)


class ProtocolError(ValueError):
    """A message that does not follow the contract; ``reason`` says why in one line.

    When it comes from :func:`validate`, ``where`` is the location of the first bad value
    (pydantic's, e.g. ``("faces", 1)``) and ``detail`` the reason without the location.
    """

    def __init__(self, reason: str, where: tuple[str | int, ...] = (), detail: str | None = None):
        self.reason = reason
        self.where = where
        self.detail = detail if detail is not None else reason
        super().__init__(reason)


# -- topics --------------------------------------------------------------------------------
def device_topic(site: str, device: str, leaf: str) -> str:
    return f"{PREFIX}/{site}/{device}/{leaf}"


def site_roster_topic(site: str) -> str:
    return f"{PREFIX}/{site}/roster"


DEVICE_UP_LEAVES = ("punches", "events", "status", "roster/request", "cmd/result", "enrolments")
DEVICE_DOWN_LEAVES = ("ack", "roster", "cmd")


def parse_topic(topic: str) -> tuple[str, str | None, str]:
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


def b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError(f"{what} is not base64") from None


# -- schemas ------------------------------------------------------------------------------------
# A NUL character or a lone UTF-16 surrogate (\u0000, \ud800 escaped in JSON) is valid JSON but no database
# stores it: SQLite's driver cannot encode a surrogate and PostgreSQL refuses both, in text and in jsonb.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value: object) -> str | None:
    """Why ``value`` (parsed JSON) cannot be stored: a string or key holding NUL or a lone surrogate; else None.

    Every string is gathered and searched once (this runs for every punch the central receives).
    """
    strings: list[str] = []
    pending: list[Any] = [value]  # parsed JSON
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str:
            strings.append(item)
        elif kind is dict:
            strings.extend(key for key in item if type(key) is str)
            pending.extend(item.values())
        elif kind is list:
            pending.extend(item)
    found = _UNSTORABLE.search("".join(strings))
    if found is None:
        return None
    return "contains a NUL character" if found.group() == "\x00" else "contains a lone UTF-16 surrogate"


# Characters a name shown on a kiosk, in the console or in a report must not hold: C0 and C1 controls, and
# the bidirectional controls that make a name display as something else ("Trojan Source").
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def check_display_text(value: str) -> str:
    """``value`` unchanged when a person can read it as written; ValueError naming the first hidden character."""
    found = _HIDDEN.search(value)
    if found is not None:
        kind = "bidirectional" if found.group() > "\x9f" else "control"
        raise ValueError(f"contains a {kind} character (U+{ord(found.group()):04X})")
    return value


class Message(BaseModel):
    """Every message refuses unknown keys and text no database can store (NUL, lone surrogates).

    ``item_lists`` names the list fields whose items are validated one by one later (a batch's
    punches): a bad item there is refused on its own, not with its whole batch.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)
    item_lists: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            checked = {k: v for k, v in data.items() if k not in cls.item_lists} if cls.item_lists else data
            problem = unstorable_text(checked)
            if problem:  # name the first key that holds it
                key = next(k for k, v in checked.items() if unstorable_text(k) or unstorable_text(v))
                raise ValueError(f"{str(key)[:40]!r} {problem}")
        return data


def _check_stamp(value: str | None) -> str | None:
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
    score: float | None = Field(None, allow_inf_nan=False, ge=-1e6, le=1e6)
    punched_at: str = Field(pattern=STAMP_RE)
    boot_id: str = Field(min_length=1, max_length=100)
    monotonic_ns: int = Field(ge=0, lt=2**63)
    time_source: Literal["ntp", "rtc", "unsynced"]
    original_punched_at: str | None = Field(None, pattern=STAMP_RE)
    restamped_at: str | None = Field(None, pattern=STAMP_RE)

    _stamps = field_validator("punched_at", "original_punched_at", "restamped_at")(_check_stamp)


class PunchBatch(Message):
    item_lists = ("punches",)
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
    item_lists = ("events",)
    batch: str = Field(pattern=UUID_RE)
    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH, description="each item is validated on its own")


class Rejection(Message):
    id: str | None = Field(None, max_length=100)
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
    device: str | None = Field(None, pattern=DEVICE_RE)
    site: str | None = Field(None, pattern=DEVICE_RE)
    at: str | None = Field(None, pattern=STAMP_RE)
    reason: str | None = Field(None, max_length=200)
    versions: dict[str, Any] = Field(default_factory=dict, max_length=20)
    queue_depth: int | None = Field(None, ge=0)
    last_ack_at: str | None = Field(None, pattern=STAMP_RE)
    clock_offset_s: float | None = Field(None, allow_inf_nan=False)
    time_source: str | None = Field(None, max_length=20)
    last_ntp_at: str | None = Field(None, pattern=STAMP_RE)
    storage: dict[str, Any] = Field(default_factory=dict, max_length=20)
    hardware: dict[str, Any] = Field(default_factory=dict, max_length=50)


class RosterSet(Message):
    """Which roster message a set of parts makes up: what a terminal names when it asks for missing parts."""

    version: int = Field(ge=0, lt=2**62)
    base: int = Field(ge=0, lt=2**62)
    full: bool
    digest: str = Field(pattern=DIGEST_RE)
    parts: int = Field(ge=1, le=MAX_ROSTER_PARTS)


class RosterRequest(Message):
    """A terminal asks for the roster: it has version ``have`` of the central's history ``history``.

    ``history`` is None when the terminal holds no history (a new terminal, or one from before
    histories existed); with ``pending`` (a set of parts it holds some of) ``missing`` names the
    parts it still needs, and the central sends only those when it can still build that set.
    """

    have: int = Field(ge=0, lt=2**62)
    reason: str = Field("", max_length=200)
    history: str | None = Field(None, pattern=HISTORY_RE)
    pending: RosterSet | None = None
    missing: list[int] = Field(default_factory=list, max_length=MAX_ROSTER_PARTS)

    @model_validator(mode="after")
    def _missing_parts(self) -> RosterRequest:
        if self.missing and self.pending is None:
            raise ValueError("missing parts named without the pending set they belong to")
        if self.pending is not None and any(not 0 <= i < self.pending.parts for i in self.missing):
            raise ValueError("missing names a part outside the pending set")
        return self


class FingerTemplate(Message):
    finger: int = Field(ge=0, le=9)
    template: str = Field(min_length=4, max_length=8192)

    @field_validator("template")
    @classmethod
    def _b64(cls, value: str) -> str:
        from contract.roster_rules import check_finger_template

        check_finger_template(value)
        return value


MAX_ENROLMENT_BATCH = 20  # an enrolment carries up to 20 faces and 10 fingers: 20 of them stay far below MAX_PAYLOAD


def _check_faces(value: list[str] | None) -> list[str] | None:
    from contract.roster_rules import check_face_descriptor

    for index, item in enumerate(value or ()):
        try:
            check_face_descriptor(item)
        except ValueError as exc:
            raise ValueError(f"face {index}: {exc}") from None
    return value


class Enrolment(Message):
    """Templates an admin enrolled at a door for an employee of the roster (terminal → central): the employee's whole
    set of each kind sent, which the central then holds and carries to every terminal with the roster.
    ``None`` for a kind that did not change; an empty list when the admin deleted them all."""

    id: str = Field(pattern=UUID_RE)
    employee_number: str = Field(pattern=NUMBER_RE)
    enrolled_at: str = Field(pattern=STAMP_RE)
    faces: list[str] | None = Field(None, max_length=20, description="base64 float32[128] descriptors")
    fingers: list[FingerTemplate] | None = Field(None, max_length=10)

    _stamps = field_validator("enrolled_at")(_check_stamp)
    _face_rules = field_validator("faces")(_check_faces)

    @model_validator(mode="after")
    def _something(self) -> Enrolment:
        if self.faces is None and self.fingers is None:
            raise ValueError("an enrolment carries faces, fingers or both")
        return self


class EnrolmentBatch(Message):
    item_lists = ("enrolments",)
    batch: str = Field(pattern=UUID_RE)
    enrolments: list[Any] = Field(min_length=1, max_length=MAX_ENROLMENT_BATCH,
                                  description="each item is validated on its own")


class RosterEmployee(Message):
    """One employee as the roster carries it.

    The per-record rules of :mod:`contract.roster_rules` are validators here, so the central
    (which builds these) and the terminal (which applies them) refuse exactly the same records.
    The rules are imported inside the validators: ``roster_rules`` itself builds on this module.
    """

    number: str = Field(pattern=NUMBER_RE)
    name: str = Field(min_length=1, max_length=100)
    department: str = Field("", max_length=100)
    card: str | None = Field(None, max_length=40, description="card number in any reader format; stored normalised")
    pin_hash: str | None = Field(None, max_length=300)
    role: Literal["employee", "admin"] = "employee"
    verify_mode: str = Field("any", max_length=32, description="one of contract.roster_rules.VERIFY_MODES")
    allowed_devices: list[str] = Field(default_factory=list, max_length=1000)
    active: bool = True
    faces: list[str] | None = Field(None, max_length=20, description="base64 float32[128] descriptors; None leaves them as they are")
    fingers: list[FingerTemplate] | None = Field(None, max_length=10)

    @field_validator("allowed_devices")
    @classmethod
    def _devices(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.match(DEVICE_RE, item):
                raise ValueError("allowed_devices holds something that is not a device id")
        return value

    @field_validator("card")
    @classmethod
    def _card(cls, value: str | None) -> str | None:
        """One canonical form on every terminal, so a roster card matches a tap at the door."""
        from contract.roster_rules import roster_card

        return roster_card(value)

    @field_validator("verify_mode")
    @classmethod
    def _verify_mode(cls, value: str) -> str:
        from contract.roster_rules import check_verify_mode

        return check_verify_mode(value)

    @field_validator("pin_hash")
    @classmethod
    def _pin_hash(cls, value: str | None) -> str | None:
        from contract.roster_rules import check_pin_hash

        return check_pin_hash(value)

    _face_rules = field_validator("faces")(_check_faces)

    @field_validator("name", "department")
    @classmethod
    def _printable(cls, value: str) -> str:
        return check_display_text(value)


class RosterEnvelope(Message):
    """A roster message whose upserts are not validated yet: each is checked on its own.

    A terminal validates the envelope with this model and every upsert with
    :func:`contract.roster_rules.check_roster`, so one bad record is skipped (and reported)
    instead of refusing the whole message and stalling the site's roster.
    """

    item_lists = ("upserts",)
    version: int = Field(ge=0, lt=2**62, description="0 only for the full roster of a central with no employees yet")
    base: int = Field(ge=0, lt=2**62, description="The version this message applies on top of (ignored when full).")
    full: bool = False
    issued_at: str | None = Field(None, pattern=STAMP_RE)
    upserts: list[Any] = Field(default_factory=list, max_length=100_000, description="each item is checked on its own")
    deletes: list[str] = Field(default_factory=list, max_length=100_000)
    history: str | None = Field(None, pattern=HISTORY_RE, description="the central's history the version belongs to")
    part: int = Field(0, ge=0, lt=MAX_ROSTER_PARTS, description="this part's index in the set")
    parts: int = Field(1, ge=1, le=MAX_ROSTER_PARTS, description="how many parts carry this version")
    digest: str | None = Field(None, pattern=DIGEST_RE, description="roster_digest() of the whole set's content")

    @field_validator("deletes")
    @classmethod
    def _numbers(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.match(NUMBER_RE, item):
                raise ValueError("deletes holds something that is not an employee number")
        return value

    @model_validator(mode="after")
    def _set(self) -> RosterEnvelope:
        if not self.full and self.version < 1:
            raise ValueError("a delta has a version of 1 or more")
        if self.part >= self.parts:
            raise ValueError("part is outside the set")
        if self.parts > 1 and self.digest is None:
            raise ValueError("a roster in several parts carries the digest of its content")
        return self


def roster_digest(upserts: Iterable[bytes], deletes: Iterable[bytes]) -> str:
    """SHA-256 (hex) of a roster version's content, from each item's canonical JSON in order.

    ``upserts`` and ``deletes`` are the items as :func:`canonical_json` encodes them (the parsed
    JSON of a record, an employee number), in the order of the parts and within each part. The
    central computes it once for a version and every part carries it; the terminal recomputes it
    over the assembled parts and applies nothing when it differs.
    """
    digest = hashlib.sha256()
    for item in upserts:
        digest.update(item)
        digest.update(b"\n")
    digest.update(b"--\n")
    for item in deletes:
        digest.update(item)
        digest.update(b"\n")
    return digest.hexdigest()


class Roster(RosterEnvelope):
    """A roster message with every upsert valid (what the central builds and publishes)."""

    upserts: list[RosterEmployee] = Field(default_factory=list, max_length=100_000)


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
        loc = tuple(first["loc"])
        where = ".".join(str(p) for p in loc) or "(message)"
        reason = {"extra_forbidden": "unknown key",
                  "string_pattern_mismatch": "has the wrong format"}.get(first["type"], first["msg"])
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        detail = str(first["ctx"]["error"]) if first["type"] == "value_error" and "ctx" in first else reason
        raise ProtocolError(f"{where}: {reason}{more}"[:300], where=loc, detail=detail[:300]) from None


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

"""Employee writes and the versioned roster sent to terminals.

Every change (upsert or delete of one employee) takes the next roster version and is
logged as a :class:`~central.people.models.RosterChange`; a terminal at version *n* gets
the delta ``n → current`` or, when it is behind or asks, the full roster. A record is
checked with the same rules the terminals apply (``contract``) before it is stored, so the
central can never publish a roster a terminal refuses: a bad record is refused here with a
reason naming the field, and the rest of the roster keeps flowing.

Every roster message names the central's *history* (:class:`~central.people.models.RosterHistory`):
version numbers mean something only within one history. A new database starts a history of
its own the first time the roster is read; :func:`rotate_history` starts another when the
database was restored from a backup or replaced (see ``central.ingest.service`` for how the
receiver finds out), and a terminal that sees another history takes a full roster.

A roster message is sent as parts (:func:`split_roster`), each well under the contract's
payload limit by measured size, all carrying the version, the history and the digest of the
whole content (``contract.protocol.roster_digest``) so the terminal applies the version only
once it holds every part and the digest checks.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from central.people.models import Department, Employee, EmployeeMove, RosterChange, RosterHistory, Site
from contract import protocol as p
from contract.roster_rules import RosterRuleError, check_roster, check_unique_card

log = logging.getLogger(__name__)
DEFAULT_SITE = "default"


class RosterError(ValueError):
    """An employee record the roster cannot take; the message names the employee and the field."""

    def __init__(self, message: str, *, field: str = "", number: str | None = None, reason: str = "",
                 holder: str | None = None):
        super().__init__(message)
        self.field = field
        self.number = number
        self.reason = reason or message  # the rule's own words, without the employee and field
        self.holder = holder  # for a card already held: the employee who holds it


def current_version() -> int:
    return int(RosterChange.objects.aggregate(v=Max("version"))["v"] or 0)


def _site(code: str | None, cache: dict[str, Site]) -> Site:
    """The site of this code, or without one the first site (made when there is none); read once for a store
    (``cache``, as :func:`_department` keeps its departments)."""
    key = code or ""
    if key not in cache:
        cache[key] = _find_site(code)
    return cache[key]


def _find_site(code: str | None) -> Site:
    if code:
        found = Site.objects.filter(code=code).first()
        if found is None:
            raise RosterError(f"site {code!r} does not exist", field="site")
        return found
    site = Site.objects.order_by("pk").first()
    if site is None:
        site = Site.objects.create(code=DEFAULT_SITE, name=DEFAULT_SITE)
    return site


def _department(site: Site, name: str, cache: dict[tuple[int, str], Department]) -> Department | None:
    name = name.strip()
    if not name:
        return None
    key = (site.pk, name)
    if key not in cache:
        cache[key], _ = Department.objects.get_or_create(site=site, name=name)
    return cache[key]


def _refused(rule: RosterRuleError) -> RosterError:
    return RosterError(str(rule), field=rule.field, number=rule.number, reason=rule.reason, holder=rule.holder)


def refusals(records: Iterable[Mapping[str, Any]]) -> tuple[list[p.RosterEmployee], list[RosterError]]:
    """The terminals' rules applied to new records, also against the cards already held in the database: (the
    records accepted, in order; every record refused, each with its reason)."""
    items = [dict(r) for r in records]
    good, bad = check_roster([{k: v for k, v in r.items() if k != "site"} for r in items])
    refused = [_refused(rule) for rule in bad]
    cards = [e.card for e in good if e.card]
    held = Employee.objects.filter(card__in=cards).exclude(number__in=[e.number for e in good])
    holders = {card: number for card, number in held.values_list("card", "number") if card} if cards else {}
    accepted = []
    for employee in good:
        try:
            check_unique_card(employee.card, employee.number, holders)
        except RosterRuleError as rule:
            refused.append(_refused(rule))
            continue
        accepted.append(employee)
    return accepted, refused


def check_records(records: Iterable[Mapping[str, Any]]) -> list[p.RosterEmployee]:
    """Apply the terminals' rules to new records, also against the cards already held in the database; the first
    record refused raises :class:`RosterError`."""
    good, refused = refusals(records)
    if refused:
        raise refused[0]
    return good


def upsert_employees(records: Iterable[Mapping[str, Any]], *, actor: str = "system", moved_on: date | None = None,
                     templates_at: datetime | None = None) -> int:
    """Add or change employees (one version each, one transaction); returns the new roster version.

    A record may carry ``site`` (a site code); without it a new employee joins the first site.
    ``faces`` / ``fingers`` left out (None) keep the stored templates; those sent were made at ``templates_at``
    (a door's enrolment; default: now). An employee whose site or department changes is recorded as moved
    (:class:`EmployeeMove`) from ``moved_on`` (default: today) on.
    """
    items = [dict(r) for r in records]
    checked = check_records(items)
    now = timezone.now()
    cache: dict[tuple[int, str], Department] = {}
    sites: dict[str, Site] = {}
    changes: list[RosterChange] = []
    with transaction.atomic():
        version = start = current_version()
        # the employees already there read together, not one query each: an import of thousands spent most of its
        # time preparing those queries (benchmarks/roster.py, docs/benchmarks-roster.md)
        held = _employees_by_number([emp.number for emp in checked])
        for raw, emp in zip(items, checked, strict=True):
            version += 1
            existing = held.get(emp.number)
            site = _site(raw.get("site"), sites) if raw.get("site") or existing is None else existing.site
            row = existing or Employee(number=emp.number)
            department = _department(site, emp.department, cache)
            if existing is not None and (existing.site_id, existing.department_id) != (
                    site.pk, department.pk if department else None):
                EmployeeMove.objects.create(employee=existing, since=moved_on or timezone.localdate(),
                                            from_site_id=existing.site_id, from_department_id=existing.department_id,
                                            to_site=site, to_department=department, moved_by=actor[:150])
            row.name, row.site, row.department = emp.name, site, department
            row.card, row.pin_hash, row.role = emp.card or None, emp.pin_hash, emp.role
            row.verify_mode, row.active = emp.verify_mode, emp.active
            row.allowed_devices = sorted(set(emp.allowed_devices))
            if emp.faces is not None:  # sent: from now on the central holds them, and the roster carries them
                row.faces, row.faces_managed, row.faces_since = list(emp.faces), True, templates_at or now
            if emp.fingers is not None:
                row.fingers, row.fingers_managed = [f.model_dump() for f in emp.fingers], True
                row.fingers_since = templates_at or now
            row.version = version
            row.save()
            changes.append(RosterChange(version=version, number=emp.number, op="upsert", at=now))
        RosterChange.objects.bulk_create(changes, batch_size=500)
    if version != start:
        log.info("roster now at version %s (%s employees changed by %s)", version, len(checked), actor)
    return version


def _employees_by_number(numbers: list[str]) -> dict[str, Employee]:
    found: dict[str, Employee] = {}
    for i in range(0, len(numbers), 900):  # SQLite's limit on a statement's parameters
        rows = Employee.objects.filter(number__in=numbers[i:i + 900]).select_related("site")
        found.update((row.number, row) for row in rows)
    return found


def upsert_employee(employee: Mapping[str, Any], *, actor: str = "system", moved_on: date | None = None) -> int:
    return upsert_employees([employee], actor=actor, moved_on=moved_on)


def delete_employee(number: str, *, actor: str = "system") -> int:
    """Remove an employee; terminals delete them and purge their templates. Returns the new version."""
    with transaction.atomic():
        found = Employee.objects.filter(number=number).first()
        if found is None:
            raise RosterError(f"no employee {number}", field="number", number=number)
        version = current_version() + 1
        found.delete()
        RosterChange.objects.create(version=version, number=number, op="delete", at=timezone.now())
    log.info("employee %s deleted by %s; roster now at version %s", number, actor, version)
    return version


def employee_message(row: Employee) -> dict[str, Any]:
    """An employee as the roster carries it (the contract's RosterEmployee)."""
    return {
        "number": row.number, "name": row.name, "department": row.department.name if row.department else "",
        "card": row.card, "pin_hash": row.pin_hash, "role": row.role, "verify_mode": row.verify_mode,
        "allowed_devices": list(row.allowed_devices), "active": row.active,
        # templates the central does not hold travel as None ("leave them as they are"), never as an empty list:
        # the terminals replace their own with a list, so [] would delete what was enrolled at the door
        "faces": list(row.faces) if row.faces_managed else None,
        "fingers": list(row.fingers) if row.fingers_managed else None,
    }


def list_employees() -> list[dict[str, Any]]:
    return [employee_message(r) for r in Employee.objects.select_related("department").order_by("number")]


def full_roster() -> dict[str, Any]:
    with transaction.atomic():  # one consistent snapshot of history, version and rows
        history = current_history()
        version = current_version()
        upserts = [employee_message(r) for r in Employee.objects.select_related("department").order_by("number")]
    return {"history": history, "version": version, "base": 0, "full": True, "issued_at": p.utc_stamp(),
            "upserts": upserts, "deletes": []}


def delta(since: int) -> dict[str, Any] | None:
    """Changes after version ``since`` as one message, or None when there are none."""
    with transaction.atomic():
        changes = list(RosterChange.objects.filter(version__gt=since).order_by("version").values_list(
            "version", "number", "op"))
        if not changes:
            return None
        history = current_history()
        last_op: dict[str, str] = {}
        for _, number, op in changes:
            last_op[number] = op
        upsert_numbers = sorted(n for n, op in last_op.items() if op == "upsert")
        upserts = [employee_message(r) for r in
                   Employee.objects.filter(number__in=upsert_numbers).select_related("department").order_by("number")]
    return {"history": history, "version": int(changes[-1][0]), "base": since, "full": False,
            "issued_at": p.utc_stamp(), "upserts": upserts,
            "deletes": sorted(n for n, op in last_op.items() if op == "delete")}


# -- histories --------------------------------------------------------------------------------
def current_history() -> str:
    """The id of the roster's current history; a database without one starts its first here."""
    found = RosterHistory.objects.order_by("-pk").values_list("history", flat=True).first()
    if found is not None:
        return found
    with transaction.atomic():
        if not RosterHistory.objects.select_for_update().exists():
            RosterHistory.objects.create(history=uuid.uuid4().hex, started_at=timezone.now(),
                                         version=current_version(), reason="new database")
    history = RosterHistory.objects.order_by("-pk").values_list("history", flat=True).first()
    assert history is not None
    log.info("roster history %s started (new database)", history)
    return history


def rotate_history(reason: str) -> str:
    """Start a new history (a restore or replacement of the database was found): terminals resync in full."""
    current_history()
    row = RosterHistory.objects.create(history=uuid.uuid4().hex, started_at=timezone.now(),
                                       version=current_version(), reason=reason[:300])
    log.warning("roster history %s started at version %s: %s", row.history, row.version, reason)
    return row.history


def change_mark(version: int) -> str | None:
    """What the change at ``version`` was (employee, operation, second), or None when there is none."""
    row = RosterChange.objects.filter(version=version).values_list("number", "op", "at").first()
    if row is None:
        return None
    number, op, at = row
    return f"{number}|{op}|{at.astimezone(dt_timezone.utc).isoformat(timespec='seconds')}"


def histories() -> list[dict[str, Any]]:
    """Every history this database has had, oldest first."""
    return [{"history": h.history, "started_at": h.started_at.isoformat(), "version": h.version, "reason": h.reason}
            for h in RosterHistory.objects.order_by("pk")]


# -- parts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RosterParts:
    """One roster message as the payloads that carry it, in order."""

    history: str
    version: int
    base: int
    full: bool
    digest: str
    payloads: tuple[bytes, ...]

    @property
    def key(self) -> tuple[str, int, int, bool]:
        return self.history, self.version, self.base, self.full


def split_roster(message: Mapping[str, Any], part_bytes: int = p.ROSTER_PART_BYTES) -> RosterParts:
    """Cut a roster message (:func:`full_roster`, :func:`delta`) into payloads of at most about ``part_bytes``.

    Each upsert and delete is encoded once (``canonical_json``); those bytes make both the
    digest and the payloads, and the cuts fall by their measured size. A record larger than a
    part on its own travels alone (the contract's limits keep it far under the payload limit).
    """
    upserts = [p.canonical_json(item) for item in message["upserts"]]
    deletes = [p.canonical_json(number) for number in message["deletes"]]
    digest = p.roster_digest(upserts, deletes)
    head = {"history": message["history"], "version": message["version"], "base": message["base"],
            "full": message["full"], "issued_at": message.get("issued_at") or p.utc_stamp(), "digest": digest}
    budget = part_bytes - len(p.dumps({**head, "part": p.MAX_ROSTER_PARTS, "parts": p.MAX_ROSTER_PARTS})) - 40
    cuts: list[tuple[list[bytes], list[bytes]]] = [([], [])]
    size = 0
    for kind, items in ((0, upserts), (1, deletes)):
        for item in items:
            if size and size + len(item) + 1 > budget:
                cuts.append(([], []))
                size = 0
            cuts[-1][kind].append(item)
            size += len(item) + 1
    payloads = tuple(
        p.dumps({**head, "part": index, "parts": len(cuts)})[:-1] + b',"upserts":[' + b",".join(ups)
        + b'],"deletes":[' + b",".join(dels) + b"]}"
        for index, (ups, dels) in enumerate(cuts))
    return RosterParts(message["history"], int(message["version"]), int(message["base"]), bool(message["full"]),
                       digest, payloads)


__all__ = ["RosterError", "RosterParts", "RosterRuleError", "change_mark", "current_history", "current_version",
           "delete_employee", "delta", "full_roster", "histories", "list_employees", "rotate_history", "split_roster",
           "upsert_employee", "upsert_employees"]

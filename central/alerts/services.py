"""Writes of the alerts app: evaluating the rules at a moment, fanning new alerts out, managing rules, reading.

:func:`evaluate` takes the clock as a parameter and never reads one. Every fact it finds is inserted with its
unique ``(rule, key)``; a key already there (this pass's, an earlier pass's, another instance's) inserts
nothing, and only the insert that succeeded queues the webhook deliveries and the mails, in the same
transaction. So an alert is raised once, whatever the number of central instances, and a restart repeats
nothing: everything it needs is in the database.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from central import backup
from central.accounts import audit, scope
from central.alerts import mail
from central.alerts.models import Alert, AlertEpisode, AlertMail, AlertRead, AlertRule
from central.alerts.texts import describe
from central.attendance import engine, overtime_limit
from central.attendance.inputs import Rules, load_rules, local, plans
from central.attendance.models import ClosedMonth, DailyRecord, LeaveRecord, MakeupPunch, OvertimeRequest, ShiftChange
from central.attendance.overtime_limit import MonthOvertime
from central.attendance.selectors import shift_month
from central.ingest.models import Event
from central.people.models import Department, Device, Employee, Site
from central.webhooks import services as webhooks

if TYPE_CHECKING:
    from central.accounts.models import User

log = logging.getLogger(__name__)

SECURITY_KINDS = ("tailgating", "spoof_suspected", "spoof", "spoof_attempt")
SECURITY_WINDOW = timedelta(minutes=60)
MAX_THRESHOLD = 100_000


class AlertError(ValueError):
    """A rule the product refuses, with a message for a person (Chinese first) and the field it concerns."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


# -- evaluating ---------------------------------------------------------------------------------------
@dataclass
class Fact:
    key: str
    at: datetime
    detail: dict[str, Any]
    employee: Employee | None = None
    device: Device | None = None
    site_id: int | None = None
    department_id: int | None = None


@dataclass
class _Pass:
    """What one evaluation reads once and every rule shares."""
    now: datetime
    rules: Rules | None = None
    situations: dict[int, Any] | None = None
    staff: list[Employee] = field(default_factory=list)

    def attendance_rules(self) -> Rules:
        if self.rules is None:
            self.rules = load_rules(self.now)
        return self.rules


def evaluate(now: datetime) -> list[Alert]:
    """Every enabled rule at ``now`` (aware); returns the alerts this call raised (new ones only)."""
    state = _Pass(now)
    raised: list[Alert] = []
    for rule in AlertRule.objects.filter(enabled=True).select_related("site", "department").order_by("pk"):
        try:
            facts = list(_facts(rule, state))
        except Exception:
            log.exception("alert rule %s (%s): evaluation failed", rule.pk, rule.kind)
            continue
        raised.extend(_raise(rule, facts, now))
    if raised:
        log.info("alerts: %s new at %s", len(raised), now.isoformat())
    return raised


def _facts(rule: AlertRule, state: _Pass) -> Iterable[Fact]:
    if rule.kind == AlertRule.LATE:
        return _late(rule, state)
    if rule.kind == AlertRule.MISSING_OUT:
        return _missing_out(rule, state)
    if rule.kind == AlertRule.ABSENT:
        return _absent(rule, state)
    if rule.kind == AlertRule.REQUEST_WAITING:
        return _request_waiting(rule, state)
    if rule.kind == AlertRule.HELD_CHANGES:
        return _held_changes(rule, state)
    if rule.kind == AlertRule.OVERTIME_MONTH:
        return _overtime_month(rule, state)
    if rule.kind == AlertRule.BACKUP_STALE:
        return _backup_stale(rule, state)
    return _device_facts(rule, state)


def _in_scope(rule: AlertRule, via: str = "") -> Q:
    """The rule's department and site as a filter (``via``: the path to the employee, ``"employee__"``)."""
    where = Q()
    if rule.department_id is not None:
        where &= Q(**{f"{via}department_id": rule.department_id})
    if rule.site_id is not None:
        where &= Q(**{f"{via}site_id": rule.site_id})
    return where


def _employees(rule: AlertRule) -> list[Employee]:
    return list(Employee.objects.filter(_in_scope(rule), active=True).order_by("pk"))


def _person(emp: Employee) -> dict[str, Any]:
    return {"number": emp.number, "name": emp.name}


def _recent_dates(rules: Rules, site_ids: Iterable[int], now: datetime) -> dict[int, set[date]]:
    """Each site's today and yesterday, in its own zone."""
    found: dict[int, set[date]] = {}
    for site_id in set(site_ids):
        today = local(now, rules.zone(site_id)).date()
        found[site_id] = {today, today - timedelta(days=1)}
    return found


def _late(rule: AlertRule, state: _Pass) -> Iterable[Fact]:
    staff = {emp.pk: emp for emp in _employees(rule)}
    if not staff:
        return
    days = _recent_dates(state.attendance_rules(), (e.site_id for e in staff.values()), state.now)
    every_day = set().union(*days.values())
    for rec in DailyRecord.objects.filter(employee_id__in=list(staff), date__in=every_day,
                                          late_min__gt=rule.threshold, first_in__isnull=False,
                                          first_in__lte=state.now).order_by("employee_id", "date", "shift_name"):
        emp = staff[rec.employee_id]
        if rec.date not in days[emp.site_id] or rec.first_in is None:
            continue
        yield Fact(f"late:{emp.pk}:{rec.date.isoformat()}", rec.first_in,
                   {**_person(emp), "date": rec.date.isoformat(), "shift": rec.shift_name, "late_min": rec.late_min,
                    "first_in": rec.first_in.isoformat()}, employee=emp)


def _missing_out(rule: AlertRule, state: _Pass) -> Iterable[Fact]:
    staff = {emp.pk: emp for emp in _employees(rule)}
    if not staff:
        return
    rules = state.attendance_rules()
    days = _recent_dates(rules, (e.site_id for e in staff.values()), state.now)
    every_day = set().union(*days.values())
    records = list(DailyRecord.objects.filter(employee_id__in=list(staff), date__in=every_day, missing_out=True)
                   .order_by("employee_id", "date", "shift_name"))
    if not records:
        return
    planned = plans(rules, [staff[r.employee_id] for r in records])
    wait = timedelta(minutes=rule.threshold)
    for rec in records:
        emp = staff[rec.employee_id]
        if rec.date not in days[emp.site_id]:
            continue
        person, schedule = planned[emp.pk]
        found = [o for o in engine.occurrences(schedule, person, rec.date, rec.date) if o.shift.name == rec.shift_name]
        if not found:
            continue  # a record without a planned shift (entered by hand): no window closes
        zone = rules.zone(emp.site_id)
        closes = found[0].closes
        if local(state.now, zone) < closes + wait:
            continue
        yield Fact(f"missing_out:{emp.pk}:{rec.date.isoformat()}", (closes + wait).replace(tzinfo=zone),
                   {**_person(emp), "date": rec.date.isoformat(), "shift": rec.shift_name,
                    "first_in": rec.first_in.isoformat() if rec.first_in else None,
                    "closes": closes.isoformat()}, employee=emp)


def _absent(rule: AlertRule, state: _Pass) -> Iterable[Fact]:
    from central.attendance.situations import situations

    staff = _employees(rule)
    if not staff:
        return
    rules = state.attendance_rules()
    found = situations(staff, state.now, rules=rules)
    for emp in staff:
        s = found.get(emp.pk)
        if s is None or not s.expected or s.arrived or s.since_start_min is None or s.date is None:
            continue
        if s.since_start_min < rule.threshold or s.begins is None:
            continue
        zone = rules.zone(emp.site_id)
        yield Fact(f"absent:{emp.pk}:{s.date.isoformat()}:{s.shift}",
                   (s.begins + timedelta(minutes=rule.threshold)).replace(tzinfo=zone),
                   {**_person(emp), "date": s.date.isoformat(), "shift": s.shift,
                    "begins": s.begins.isoformat(), "since_start_min": s.since_start_min}, employee=emp)


def _request_waiting(rule: AlertRule, state: _Pass) -> Iterable[Fact]:
    """Leave, make-up punch and shift change requests still pending N hours after they were filed (0: as soon as
    filed; a swap once the colleague agreed, since only then can it be decided), and
    overtime waiting for approval N hours after its last punch, of the rule's active employees; the alert goes to
    whoever sees the employee (their manager, HR) and the rule's mails. Overtime whose minutes change waits anew:
    its alert is keyed by them."""
    due = state.now - timedelta(hours=rule.threshold)
    zones = state.attendance_rules()
    overtime = DailyRecord.objects.filter(_in_scope(rule, "employee__"), overtime_state="pending", overtime_min__gt=0,
                                          last_out__isnull=False, last_out__lte=due, employee__active=True)
    for rec in overtime.select_related("employee").order_by("last_out", "pk"):
        emp, worked = rec.employee, rec.last_out
        if worked is None:  # filtered out above
            continue
        told = {**_person(emp), "kind": "overtime", "id": rec.pk, "hours": rule.threshold, "date": rec.date.isoformat(),
                "shift": rec.shift_name, "minutes": rec.overtime_min, "overtime_kind": rec.overtime_kind,
                "worked_until": local(worked, zones.zone(emp.site_id)).isoformat(" ", "minutes")}
        yield Fact(f"request:overtime:{rec.pk}:{rec.overtime_min}", worked + timedelta(hours=rule.threshold), told,
                   employee=emp)
    waiting = Q(_in_scope(rule, "employee__"), state="pending", created_at__lte=due, employee__active=True)
    requests: list[Iterable[LeaveRecord | MakeupPunch | ShiftChange | OvertimeRequest]] = [
        LeaveRecord.objects.filter(waiting).select_related("employee", "leave_type").order_by("created_at", "pk"),
        MakeupPunch.objects.filter(waiting).select_related("employee").order_by("created_at", "pk"),
        OvertimeRequest.objects.filter(waiting).select_related("employee").order_by("created_at", "pk"),
        ShiftChange.objects.filter(waiting).exclude(partner_answer="asked")  # a swap the colleague has not agreed to
        .select_related("employee", "shift", "partner", "partner_shift").order_by("created_at", "pk")]
    for rows in requests:
        for request in rows:
            emp = request.employee
            detail: dict[str, Any] = {**_person(emp), "id": request.pk, "hours": rule.threshold,
                                      "filed_at": local(request.created_at, zones.zone(emp.site_id)).isoformat(" ", "minutes")}
            if isinstance(request, LeaveRecord):
                detail.update(kind="leave", leave_type=request.leave_type.name, start=request.start.isoformat(),
                              end=request.end.isoformat(), half_day=request.half_day)
            elif isinstance(request, OvertimeRequest):
                detail.update(kind="overtime_request", date=request.date.isoformat(), minutes=request.minutes)
            elif isinstance(request, ShiftChange):
                partner = request.partner
                detail.update(kind="shift_change", start=request.start.isoformat(), end=request.end.isoformat(),
                              shift=request.shift.name if request.shift else None,
                              partner=_person(partner) if partner else None,
                              partner_shift=request.partner_shift.name if request.partner_shift else None)
            else:
                detail.update(kind="makeup_punch", direction=request.direction,
                              at=local(request.at, zones.zone(emp.site_id)).isoformat(" ", "minutes"))
            yield Fact(f"request:{detail['kind']}:{request.pk}", request.created_at + timedelta(hours=rule.threshold),
                       detail, employee=emp)


def _overtime_month(rule: AlertRule, state: _Pass) -> Iterable[Fact]:
    """Active employees of the rule whose counted overtime (:mod:`central.attendance.overtime_limit`: pending
    included, rejected and unpaid left out) in their site's current or previous month is above N hours: once per
    employee and month, so the days that still come in after the month turned are seen too."""
    staff = _employees(rule)
    if not staff:
        return
    rules = state.attendance_rules()
    months = {emp.pk: _recent_months(local(state.now, rules.zone(emp.site_id)).date()) for emp in staff}
    found = overtime_limit.month_minutes(months, set().union(*months.values()))
    for emp in staff:
        for month in months[emp.pk]:
            minutes = found.get((emp.pk, month), 0)
            if minutes <= rule.threshold * 60:
                continue
            told = {**_person(emp), "month": f"{month:%Y-%m}", "hours": str(MonthOvertime(minutes, 0).hours),
                    "threshold": rule.threshold, "limit_h": overtime_limit.limit_h()}
            yield Fact(f"overtime_month:{emp.pk}:{month:%Y-%m}", state.now, told, employee=emp)


def _recent_months(today: date) -> tuple[date, date]:
    first = today.replace(day=1)
    return shift_month(first, -1), first


def _rule_site(rule: AlertRule) -> int | None:
    """The site a rule watches for its site-wide kinds (doors, closed months): its own, else its department's."""
    return rule.site_id if rule.site_id is not None else (rule.department.site_id if rule.department else None)


def _held_changes(rule: AlertRule, state: _Pass) -> Iterable[Fact]:
    """Closed months (月结) of the rule's site (a department's: its site) on which the rules found at least N changes
    (at least 1) after closing and did not write them (:mod:`central.attendance.closing`): once per closing, so HR
    decides whether to reopen. Told to HR admins of the site and superusers."""
    rows = ClosedMonth.objects.select_related("site").order_by("month", "site_id")
    site_id = _rule_site(rule)
    if site_id is not None:
        rows = rows.filter(site_id=site_id)
    for row in rows:
        held = len(row.held or [])
        if held < max(rule.threshold, 1):
            continue
        yield Fact(f"held:{row.site_id}:{row.month:%Y-%m}:{row.closed_at.timestamp():.0f}", state.now,
                   {"site": row.site.code, "site_name": row.site.name or row.site.code, "month": f"{row.month:%Y-%m}",
                    "held": held, "closed_by": row.closed_by}, site_id=row.site_id)


def _devices(rule: AlertRule) -> list[Device]:
    rows = Device.objects.all()
    site_id = _rule_site(rule)
    if site_id is not None:
        rows = rows.filter(site_id=site_id)
    return list(rows.order_by("pk"))


def _device_condition(rule: AlertRule, devices: Sequence[Device], now: datetime) -> dict[int, dict[str, Any]]:
    """Device pk → the detail of the condition, for the devices where it holds at ``now``."""
    n = rule.threshold
    holds: dict[int, dict[str, Any]] = {}
    if rule.kind == AlertRule.DEVICE_OFFLINE:
        for d in devices:
            if not d.online and d.last_seen_at is not None and d.last_seen_at <= now - timedelta(minutes=n):
                holds[d.pk] = {"last_seen_at": d.last_seen_at.isoformat(),
                               "minutes": int((now - d.last_seen_at).total_seconds() // 60)}
    elif rule.kind == AlertRule.QUEUE_DEPTH:
        for d in devices:
            if d.queue_depth is not None and d.queue_depth > n:
                holds[d.pk] = {"queue_depth": d.queue_depth}
    elif rule.kind == AlertRule.CLOCK_OFFSET:
        for d in devices:
            offset = d.clock_offset_s
            if offset is not None and abs(offset) > n:
                holds[d.pk] = {"clock_offset_s": offset}
    elif rule.kind == AlertRule.SECURITY_EVENTS:
        by_id = {d.device_id: d for d in devices}
        counts = (Event.objects.filter(device_id__in=list(by_id), kind__in=SECURITY_KINDS,
                                       at__gt=now - SECURITY_WINDOW, at__lte=now)
                  .values("device_id").annotate(n=Count("id")))
        for row in counts:
            if row["n"] > n:
                holds[by_id[row["device_id"]].pk] = {"count": row["n"]}
    return holds


def _backup_stale(rule: AlertRule, state: _Pass) -> Iterable[Fact]:
    """The central's newest backup (:mod:`central.backup`, in the folder its commands use) older than N hours, or no
    backup at all: one alert while that lasts (an episode), and the next backup ends it. Superusers see it."""
    standing = backup.standing(state.now)
    newest = standing.newest
    age_h = (state.now - newest.made_at).total_seconds() / 3600 if newest else None
    if age_h is not None and age_h <= rule.threshold:
        AlertEpisode.objects.filter(rule=rule).delete()
        return
    episode = _episode(rule, "backup", state.now)
    yield Fact(f"backup_stale:{episode.pk}", episode.opened_at,
               {"threshold": rule.threshold, "folder": str(standing.folder),
                "newest": newest.manifest["made_at"] if newest else None,
                "hours": int(age_h) if age_h is not None else None})


def _device_facts(rule: AlertRule, state: _Pass) -> Iterable[Fact]:
    """An episode per device while its condition holds; the alert's key carries the episode's row."""
    devices = _devices(rule)
    holds = _device_condition(rule, devices, state.now)
    subjects = {f"device:{pk}" for pk in holds}
    # a condition that cleared ends its episode: the next time it holds is a new fact
    AlertEpisode.objects.filter(rule=rule).exclude(subject__in=subjects).delete()
    for d in devices:
        detail = holds.get(d.pk)
        if detail is None:
            continue
        episode = _episode(rule, f"device:{d.pk}", state.now)
        yield Fact(f"{rule.kind}:{d.pk}:{episode.pk}", episode.opened_at,
                   {"device": d.device_id, "threshold": rule.threshold, **detail}, device=d, site_id=d.site_id)


def _episode(rule: AlertRule, subject: str, now: datetime) -> AlertEpisode:
    try:
        with transaction.atomic():
            episode, _created = AlertEpisode.objects.get_or_create(rule=rule, subject=subject,
                                                                   defaults={"opened_at": now})
            return episode
    except IntegrityError:  # another instance opened it between our read and our insert
        return AlertEpisode.objects.get(rule=rule, subject=subject)


def _raise(rule: AlertRule, facts: list[Fact], now: datetime) -> list[Alert]:
    if not facts:
        return []
    known = set(Alert.objects.filter(rule=rule, key__in=[f.key for f in facts]).values_list("key", flat=True))
    raised = []
    for fact in facts:
        if fact.key in known:
            continue
        alert = _insert(rule, fact, now)
        if alert is not None:
            raised.append(alert)
    return raised


def _insert(rule: AlertRule, fact: Fact, now: datetime) -> Alert | None:
    """The alert and its fan-out in one transaction; None when the key is already there (another instance)."""
    emp = fact.employee
    site_id = fact.site_id if fact.site_id is not None else (emp.site_id if emp else None)
    department_id = fact.department_id if fact.department_id is not None else (emp.department_id if emp else None)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(rule=rule, kind=rule.kind, key=fact.key[:200], site_id=site_id,
                                         department_id=department_id, employee=emp, device=fact.device, at=fact.at,
                                         detail=fact.detail, created_at=now)
            _fan_out(rule, alert, now)
    except IntegrityError:
        return None
    log.info("alert %s raised: rule %s, %s", alert.pk, rule.pk, alert.key)
    return alert


def payload(alert: Alert) -> dict[str, Any]:
    zh, en = describe(alert.kind, alert.detail)
    return {"id": alert.pk, "rule": alert.rule_id, "kind": alert.kind, "key": alert.key, "at": alert.at.isoformat(),
            "site": alert.site.code if alert.site else None,
            "department": alert.department.name if alert.department else None,
            "employee": alert.employee.number if alert.employee else None,
            "device": alert.device.device_id if alert.device else None,
            "detail": alert.detail, "text_zh": zh, "text_en": en}


def _fan_out(rule: AlertRule, alert: Alert, now: datetime) -> None:
    if webhooks.wanted("alert"):
        webhooks.emit("alert", payload(alert), key=f"alert-rule:{rule.pk}", event_id=f"alert:{alert.pk}",
                      site=alert.site_id)
    if rule.emails and mail.smtp() is not None:
        AlertMail.objects.bulk_create([AlertMail(alert=alert, address=address, next_at=now)
                                       for address in dict.fromkeys(rule.emails)], ignore_conflicts=True)


# -- rules ----------------------------------------------------------------------------------------------
def clean_emails(text: str | Sequence[str]) -> list[str]:
    parts = text.replace(";", ",").replace("\n", ",").split(",") if isinstance(text, str) else list(text)
    found: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        try:
            validate_email(part)
        except ValidationError:
            raise AlertError(f"邮件地址无效 / Not a valid email address: {part}", "emails") from None
        if part not in found:
            found.append(part)
    if len(found) > 20:
        raise AlertError("最多 20 个邮件地址 / At most 20 email addresses", "emails")
    return found


def _check(user: User, values: dict[str, Any]) -> dict[str, Any]:
    if not scope.can_manage(user):
        raise scope.ScopeDenied("只有超级管理员和人事管理员可以管理告警规则 / Only superusers and HR admins manage alert rules")
    kind = str(values.get("kind") or "")
    if kind not in dict(AlertRule.KINDS):
        raise AlertError("请选择规则类型 / Choose the kind of rule", "kind")
    try:
        threshold = int(values.get("threshold"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AlertError("阈值必须是整数 / The threshold must be a whole number", "threshold") from None
    if threshold < 0 or threshold > MAX_THRESHOLD:
        raise AlertError(f"阈值必须在 0 到 {MAX_THRESHOLD} 之间 / The threshold must be 0 to {MAX_THRESHOLD}",
                         "threshold")
    site: Site | None = values.get("site")
    department: Department | None = values.get("department")
    if kind in AlertRule.SUPERUSER_KINDS:
        if not user.is_superuser:
            raise AlertError("只有超级管理员可以设置这类告警 / Only superusers set this kind of alert", "kind")
        if site is not None or department is not None:
            raise AlertError("这类告警针对整个系统，不选站点或部门 / This kind of alert is the whole central's: "
                             "leave the site and department empty", "site")
    if department is not None:
        if not scope.departments(user).filter(pk=department.pk).exists():
            raise AlertError("您不能为这个部门设置告警 / You cannot set alerts for this department", "department")
        if site is not None and department.site_id != site.pk:
            raise AlertError("部门不属于所选站点 / The department is not in the chosen site", "department")
    if site is not None and not (user.is_superuser or site.pk in scope.grants(user).sites):
        raise AlertError("您不能为这个站点设置告警 / You cannot set alerts for this site", "site")
    if site is None and department is None and not user.is_superuser:
        raise AlertError("人事管理员的规则必须选择站点或部门 / An HR admin's rule names a site or a department", "site")
    return {"kind": kind, "threshold": threshold, "site": site, "department": department,
            "emails": clean_emails(values.get("emails") or ""), "enabled": bool(values.get("enabled", True))}


def _detail(rule: AlertRule) -> dict[str, Any]:
    return {"id": rule.pk, "kind": rule.kind, "threshold": rule.threshold,
            "site": rule.site.code if rule.site else None,
            "department": rule.department.name if rule.department else None,
            "emails": rule.emails, "enabled": rule.enabled}


def create_rule(user: User, values: dict[str, Any]) -> AlertRule:
    clean = _check(user, values)
    with transaction.atomic():
        rule = AlertRule.objects.create(**clean, created_by=user.username)
        audit.record(user.username, "alert_rule.create", f"alert_rule:{rule.pk}", _detail(rule))
    log.info("alert rule %s (%s) created by %s", rule.pk, rule.kind, user.username)
    return rule


def _require_rule(user: User, rule: AlertRule) -> None:
    from central.alerts.selectors import manageable_rules

    if not manageable_rules(user).filter(pk=rule.pk).exists():
        raise scope.ScopeDenied("您不能管理这条告警规则 / You cannot manage this alert rule")


def set_enabled(user: User, rule: AlertRule, enabled: bool) -> AlertRule:
    _require_rule(user, rule)
    with transaction.atomic():
        AlertRule.objects.filter(pk=rule.pk).update(enabled=enabled)
        rule.enabled = enabled
        audit.record(user.username, "alert_rule.enable" if enabled else "alert_rule.disable",
                     f"alert_rule:{rule.pk}", _detail(rule))
    return rule


def delete_rule(user: User, rule: AlertRule) -> None:
    """The rule goes, and its alerts and their read marks and mails with it."""
    _require_rule(user, rule)
    with transaction.atomic():
        detail = _detail(rule)
        rule.delete()
        audit.record(user.username, "alert_rule.delete", f"alert_rule:{detail['id']}", detail)


# -- reading ----------------------------------------------------------------------------------------------
def mark_read(user: User, alerts: Iterable[int], now: datetime) -> int:
    """Mark these alerts (pks the caller may see) read for ``user`` only; returns how many were new."""
    rows = [AlertRead(alert_id=pk, user=user, read_at=now) for pk in alerts]
    before = AlertRead.objects.filter(user=user).count()
    AlertRead.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return AlertRead.objects.filter(user=user).count() - before

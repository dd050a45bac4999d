"""Scheduled reports: the selectors that read schedules, runs and their files, and the services that change them.

Who sees what: a superuser every schedule; everyone else the schedules they own. Superusers and HR admins add,
edit, deactivate and delete schedules (an HR admin only their own, for sites within their scope); managers and
auditors see the schedules a superuser made for them and download their files. A run is built AS the
schedule's owner (their scope), so its files never hold a row the owner may not see.

Files are written under :func:`reports_dir`: ``SEED_REPORTS_DIR``, else a ``reports`` folder beside the SQLite
database (the working folder with PostgreSQL); never inside a folder the web server serves.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.apps import apps as django_apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from central.accounts import audit, scope
from central.accounts.models import Role
from central.people.models import Site
from central.reports import registry
from central.reports.document import Report
from central.reports.models import PERIODS_OF, Every, ReportRun, ReportSchedule, RunState
from central.reports.registry import ReportError, ReportParams
from central.reports.scheduler import Timing, due_moments, next_moment, period_of

if TYPE_CHECKING:
    from central.accounts.models import User

log = logging.getLogger(__name__)
STALE_AFTER = timedelta(hours=6)  # a run still "running" this long after it started was cut off by a stop
CHUNK = 1 << 16


class ScheduleError(ValueError):
    """A schedule that cannot be saved as given; ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


# -- where files live ------------------------------------------------------------------------------
def _served_folders() -> list[Path]:
    folders = [getattr(settings, "STATIC_ROOT", None), getattr(settings, "MEDIA_ROOT", None),
               *getattr(settings, "STATICFILES_DIRS", ())]
    found = [Path(str(f)).resolve() for f in folders if f]
    found += [Path(app.path, "static").resolve() for app in django_apps.get_app_configs()]
    return found


def reports_dir() -> Path:
    """The folder scheduled reports are written to (``SEED_REPORTS_DIR``, else ``reports`` beside the database)."""
    configured = os.environ.get("SEED_REPORTS_DIR", "").strip()
    if configured:
        folder = Path(configured).expanduser().resolve()
    else:
        db = settings.DATABASES["default"]
        base = Path(str(db["NAME"])).parent if str(db["ENGINE"]).endswith("sqlite3") else Path.cwd()
        folder = (base / "reports").resolve()
    for served in _served_folders():
        if folder == served or folder.is_relative_to(served) or served.is_relative_to(folder):
            raise ReportError(f"报表文件夹不能在网站目录中 / the reports folder {folder} is inside (or holds) "
                              f"{served}, which the web server serves: set SEED_REPORTS_DIR to a private folder")
    return folder


# -- selectors -------------------------------------------------------------------------------------
def may_manage(user: User) -> bool:
    """Adds, edits, deactivates and deletes schedules (an HR admin: their own)."""
    return scope.can_manage(user)


def is_staff_reader(user: User) -> bool:
    return bool(user.is_active and (user.is_superuser or user.role in (Role.HR_ADMIN, Role.MANAGER, Role.AUDITOR)))


def visible_schedules(user: User) -> QuerySet[ReportSchedule]:
    found = ReportSchedule.objects.select_related("site", "owner")
    if user.is_superuser:
        return found
    if not is_staff_reader(user):
        return found.none()
    return found.filter(owner=user)


def schedule_for(user: User, pk: int) -> ReportSchedule:
    """One schedule the user sees (``ReportSchedule.DoesNotExist`` otherwise: a 404)."""
    return visible_schedules(user).get(pk=pk)


def visible_runs(user: User, limit: int = 100) -> list[ReportRun]:
    return list(ReportRun.objects.filter(schedule__in=visible_schedules(user))
                .select_related("schedule", "schedule__site")[:limit])


def active_schedules() -> QuerySet[ReportSchedule]:
    return ReportSchedule.objects.filter(active=True).select_related("site", "owner").order_by("pk")


def timing_of(schedule: ReportSchedule) -> Timing:
    return Timing(every=schedule.every, at=schedule.at, zone=ZoneInfo(schedule.time_zone),
                  weekday=schedule.weekday or 0, day=schedule.day or 1)


def due_for(schedule: ReportSchedule, now: datetime) -> list[datetime]:
    """The moments of ``schedule`` due at ``now`` since its last run (or since it was made)."""
    last = schedule.runs.aggregate(last=Max("due_at"))["last"]
    return due_moments(timing_of(schedule), last or schedule.created_at, now)


def next_run_at(schedule: ReportSchedule, now: datetime) -> datetime | None:
    return next_moment(timing_of(schedule), now) if schedule.active else None


def run_file(user: User, run_id: int, fmt: str) -> tuple[Path, str, str]:
    """The stored file of a run the user may read: (path, download name, content type).

    ``ReportRun.DoesNotExist`` for a run or file the user does not see (a 404); ``ScopeDenied`` when the
    schedule's site is no longer in the user's scope.
    """
    run = ReportRun.objects.select_related("schedule", "schedule__site").get(
        pk=run_id, schedule__in=visible_schedules(user))
    site = run.schedule.site
    if site is not None and not user.is_superuser and not scope.sites(user).filter(pk=site.pk).exists():
        raise scope.ScopeDenied("the schedule's site is outside your scope")
    for entry in run.files:
        if entry.get("format") == fmt:
            root = reports_dir()
            path = (root / str(entry["path"])).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise ReportRun.DoesNotExist(f"file {entry['path']} of run {run.pk} is gone")
            return path, str(entry["name"]), registry.CONTENT_TYPES.get(fmt, "application/octet-stream")
    raise ReportRun.DoesNotExist(f"run {run.pk} has no {fmt} file")


# -- services: schedules ---------------------------------------------------------------------------
@dataclass
class ScheduleInput:
    report: str
    period: str
    every: str
    at: time
    formats: list[str]
    site: Site | None = None
    department: str = ""
    employee: str = ""
    weekday: int | None = None
    day: int | None = None
    owner: User | None = None  # a superuser may name another staff user; everyone else owns what they make
    active: bool = True
    changes: dict[str, Any] = field(default_factory=dict)


def _check(actor: User, data: ScheduleInput) -> User:
    """The schedule's owner, once ``data`` is checked against the report, its periods and both users' scopes."""
    if data.report not in registry.REPORTS:
        raise ScheduleError(f"没有这个报表 / no report named {data.report!r}", "report")
    if data.period not in PERIODS_OF[data.report]:
        raise ScheduleError(f"此报表不能按该期间生成 / {data.report} cannot cover {data.period!r} "
                            f"(one of: {', '.join(PERIODS_OF[data.report])})", "period")
    if data.every == Every.WEEKLY and (data.weekday is None or not 0 <= data.weekday <= 6):
        raise ScheduleError("请选择星期几 / choose the weekday a weekly report runs on", "weekday")
    if data.every == Every.MONTHLY and (data.day is None or not 1 <= data.day <= 31):
        raise ScheduleError("请填写 1–31 日 / give the day of the month (1–31) a monthly report runs on", "day")
    if not data.formats or any(f not in registry.FORMATS for f in data.formats):
        raise ScheduleError(f"请至少选择一种格式 / choose at least one format of {', '.join(registry.FORMATS)}",
                            "formats")
    owner = data.owner if (data.owner is not None and actor.is_superuser) else actor
    if not is_staff_reader(owner):
        raise ScheduleError("所有者须为在职的管理人员 / the owner must be an active staff user (not an employee)",
                            "owner")
    for who in {actor, owner}:
        if data.site is not None and not who.is_superuser and not scope.sites(who).filter(pk=data.site.pk).exists():
            raise ScheduleError(f"站点不在 {who.username} 的范围内 / site {data.site.code} is outside "
                                f"{who.username}'s scope", "site")
        if data.department:
            departments = scope.departments(who).filter(name=data.department)
            if data.site is not None:
                departments = departments.filter(site=data.site)
            if not departments.exists():
                raise ScheduleError(f"部门不在 {who.username} 的范围内 / no department {data.department!r} "
                                    f"in {who.username}'s scope", "department")
    return owner


def _fields(schedule: ReportSchedule) -> dict[str, Any]:
    return {"report": schedule.report, "site": schedule.site.code if schedule.site else "",
            "department": schedule.department, "employee": schedule.employee, "period": schedule.period,
            "every": schedule.every, "at": schedule.at.strftime("%H:%M"), "weekday": schedule.weekday,
            "day": schedule.day, "formats": list(schedule.formats), "owner": schedule.owner.username,
            "active": schedule.active}


def save_schedule(actor: User, data: ScheduleInput, schedule: ReportSchedule | None = None) -> ReportSchedule:
    """Add a schedule, or change ``schedule`` (one the actor sees); audited."""
    scope.require_manage(actor)
    if schedule is not None and not visible_schedules(actor).filter(pk=schedule.pk).exists():
        raise scope.ScopeDenied("not your schedule")
    owner = _check(actor, data)
    creating = schedule is None
    before = {} if schedule is None else _fields(schedule)
    target = schedule or ReportSchedule()
    target.report, target.period, target.every, target.at = data.report, data.period, data.every, data.at
    target.site, target.department, target.employee = data.site, data.department.strip(), data.employee.strip()
    target.weekday = data.weekday if data.every == Every.WEEKLY else None
    target.day = data.day if data.every == Every.MONTHLY else None
    target.formats = [f for f in registry.FORMATS if f in data.formats]
    target.owner, target.active = owner, data.active
    with transaction.atomic():
        target.save()
        after = _fields(target)
        detail = after if creating else {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
        audit.record(actor.username, "report_schedule.create" if creating else "report_schedule.update",
                     f"report_schedule:{target.pk}", detail)
    return target


def set_active(actor: User, schedule: ReportSchedule, active: bool) -> None:
    scope.require_manage(actor)
    if not visible_schedules(actor).filter(pk=schedule.pk).exists():
        raise scope.ScopeDenied("not your schedule")
    with transaction.atomic():
        schedule.active = active
        schedule.save(update_fields=["active", "updated_at"])
        audit.record(actor.username, "report_schedule.activate" if active else "report_schedule.deactivate",
                     f"report_schedule:{schedule.pk}", {"report": schedule.report})


def delete_schedule(actor: User, schedule: ReportSchedule) -> None:
    """Delete a schedule, its runs and their files; audited."""
    scope.require_manage(actor)
    if not visible_schedules(actor).filter(pk=schedule.pk).exists():
        raise scope.ScopeDenied("not your schedule")
    paths = [entry["path"] for run in schedule.runs.all() for entry in run.files]
    pk = schedule.pk
    with transaction.atomic():
        detail = _fields(schedule) | {"runs": schedule.runs.count()}
        schedule.delete()
        audit.record(actor.username, "report_schedule.delete", f"report_schedule:{pk}", detail)
    root = reports_dir()
    for relative in paths:
        path = (root / str(relative)).resolve()
        if path.is_relative_to(root):
            path.unlink(missing_ok=True)
            for folder in (path.parent, path.parent.parent):
                try:
                    folder.rmdir()  # only when empty
                except OSError:
                    break


# -- services: runs --------------------------------------------------------------------------------
def claim_run(schedule: ReportSchedule, moment: datetime) -> ReportRun | None:
    """The run of ``schedule`` for the period of ``moment``, claimed by this caller; None when one exists already.

    The unique constraint on (schedule, period) decides between two central instances claiming at once.
    """
    first, last = period_of(schedule.period, moment.astimezone(ZoneInfo(schedule.time_zone)).date())
    if ReportRun.objects.filter(schedule=schedule, period_first=first, period_last=last).exists():
        return None
    try:
        with transaction.atomic():
            return ReportRun.objects.create(schedule=schedule, due_at=moment, period_first=first, period_last=last)
    except IntegrityError:
        log.info("report run of schedule %s for %s – %s was claimed by another instance", schedule.pk, first, last)
        return None


def _write(report: Report, fmt: str, folder: Path, relative: Path) -> dict[str, Any]:
    name = report.filename(fmt)
    path = folder / name
    partial = folder / f".{name}.part"
    with open(partial, "wb") as out:
        registry.render(report, fmt, out)
    os.replace(partial, path)
    digest = hashlib.sha256()
    with open(path, "rb") as stored:
        while chunk := stored.read(CHUNK):
            digest.update(chunk)
    return {"format": fmt, "name": name, "path": str(relative / name), "size": path.stat().st_size,
            "sha256": digest.hexdigest()}


def make_run(run: ReportRun, now: datetime | None = None) -> ReportRun:
    """Build a claimed run as its schedule's owner and write each format; the run ends done or failed."""
    schedule = run.schedule
    run.state, run.started_at = RunState.RUNNING, timezone.now()
    run.save(update_fields=["state", "started_at"])
    errors: list[str] = []
    files: list[dict[str, Any]] = []
    try:
        owner = schedule.owner
        if not owner.is_active:
            raise ReportError(f"所有者已停用 / the schedule's owner {owner.username} is deactivated")
        params = ReportParams(run.period_first, run.period_last, site=schedule.site.code if schedule.site else "",
                              department=schedule.department, employee=schedule.employee)
        report = registry.build(schedule.report, owner, params, now=now)
        relative = Path(str(schedule.pk)) / str(run.pk)
        folder = reports_dir() / relative
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for fmt in schedule.formats:
            try:
                files.append(_write(report, fmt, folder, relative))
            except Exception as exc:  # one format failing keeps the others
                log.exception("report run %s: the %s file failed", run.pk, fmt)
                errors.append(f"{fmt.upper()}: {exc}")
    except Exception as exc:
        log.exception("report run %s of schedule %s failed", run.pk, schedule.pk)
        errors.append(str(exc) or type(exc).__name__)
    run.files, run.error = files, "\n".join(errors)
    run.state = RunState.FAILED if errors else RunState.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["files", "error", "state", "finished_at"])
    log.info("report run %s of schedule %s (%s, %s – %s): %s", run.pk, schedule.pk, schedule.report,
             run.period_first, run.period_last, run.state)
    return run


def fail_interrupted(now: datetime) -> int:
    """Runs left queued or running by a stop long ago are failed, saying so (their files may be missing)."""
    return ReportRun.objects.filter(state__in=[RunState.QUEUED, RunState.RUNNING],
                                    created_at__lt=now - STALE_AFTER).update(
        state=RunState.FAILED, finished_at=now, error="中断：服务器在生成时停止 / interrupted: the server stopped while making it")

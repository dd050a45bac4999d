"""The one place that decides what a user may see and change.

Every console page, API endpoint and export reads through these functions; none filters by
role on its own. Grants: ``user.sites`` and ``user.departments``.

| role | sites / departments / employees / devices / punches / events | audit log | may change people and devices |
| --- | --- | --- | --- |
| superuser | all | yes | yes |
| HR admin | granted sites, plus granted departments (and their sites) | no | yes, within scope |
| manager | granted departments; their sites' devices (read) | no | no (decides their employees' requests) |
| auditor | granted sites and departments, or all when none is granted | yes | no |
| employee | own record and own punches only | no | no |

Console users (who may sign in, with which role and grants): superusers and auditors see all of them (who may do
what is part of what an auditor checks); an HR admin sees, and may change, the managers and employees whose every
grant lies inside their own scope (:func:`users_to_change`); everyone sees their own account; only a superuser
changes HR admins, auditors and superusers.

The admin audit log is one hash chain for the whole company: it can only be verified whole, so
superusers and auditors read all of it (an auditor's grants narrow the people, doors and punches
they see, not the log of who changed what).
"""
from __future__ import annotations

from typing import NamedTuple

from django.db.models import Q, QuerySet

from central.accounts.models import GRANTS_KEPT, AuditEntry, Role, User
from central.ingest.models import Command, Event, Punch
from central.people.models import Department, Device, Employee, Site


class ScopeDenied(PermissionError):
    """The user may not do this; the console answers 403, the API 403."""


class Grants(NamedTuple):
    sites: frozenset[int]  # the granted sites' ids
    departments: frozenset[int]  # the granted departments' ids
    department_sites: frozenset[int]  # the ids of the granted departments' sites


def grants(user: User) -> Grants:
    """The user's grants, read once for this user object and kept on it: a page asked the same three questions a
    dozen times (a console request's user is read afresh at every request). A change of the object's sites or
    departments, and its ``refresh_from_db()``, makes them read again (central.accounts.models.forget_grants)."""
    kept = user.__dict__.get(GRANTS_KEPT)
    if kept is None:
        departments = frozenset(user.departments.values_list("pk", flat=True))
        kept = Grants(frozenset(user.sites.values_list("pk", flat=True)), departments,
                      frozenset(Department.objects.filter(pk__in=departments).values_list("site_id", flat=True))
                      if departments else frozenset())
        user.__dict__[GRANTS_KEPT] = kept
    return kept


def _all(user: User) -> bool:
    """Sees every row: a superuser, or an auditor with no grant."""
    if user.is_superuser:
        return True
    return user.role == Role.AUDITOR and not grants(user).sites and not grants(user).departments


def _grant_q(user: User, site_field: str, department_field: str | None) -> Q:
    granted = grants(user)
    q = Q(**{f"{site_field}__in": sorted(granted.sites)})
    if department_field is not None:
        q |= Q(**{f"{department_field}__in": sorted(granted.departments)})
    else:  # rows with only a site: the sites of the granted departments count
        q |= Q(**{f"{site_field}__in": sorted(granted.department_sites)})
    return q


def sites(user: User) -> QuerySet[Site]:
    if _all(user):
        return Site.objects.all()
    if user.role in (Role.HR_ADMIN, Role.AUDITOR, Role.MANAGER):
        return Site.objects.filter(_grant_q(user, "pk", None)).distinct()
    return Site.objects.none()


def departments(user: User) -> QuerySet[Department]:
    if _all(user):
        return Department.objects.all()
    if user.role in (Role.HR_ADMIN, Role.AUDITOR):
        return Department.objects.filter(_grant_q(user, "site", "pk")).distinct()
    if user.role == Role.MANAGER:
        return Department.objects.filter(pk__in=sorted(grants(user).departments))
    return Department.objects.none()


def employees(user: User) -> QuerySet[Employee]:
    if _all(user):
        return Employee.objects.all()
    if user.role in (Role.HR_ADMIN, Role.AUDITOR):
        return Employee.objects.filter(_grant_q(user, "site", "department"))
    if user.role == Role.MANAGER:
        return Employee.objects.filter(department__in=sorted(grants(user).departments))
    if user.employee_id is not None:
        return Employee.objects.filter(pk=user.employee_id)
    return Employee.objects.none()


def employees_in(user: User, site: str | None = "", department: str | None = "",
                 employee: str | None = "") -> QuerySet[Employee]:
    """The user's employees narrowed to a site (code), a department (name) and an employee (number) when given."""
    return narrowed(employees(user), site, department, employee)


def narrowed(rows: QuerySet[Employee], site: str | None = "", department: str | None = "",
             employee: str | None = "") -> QuerySet[Employee]:
    """``rows`` narrowed to a site (code), a department (name) and an employee (number), each when given."""
    if site:
        rows = rows.filter(site__code=site)
    if department:
        rows = rows.filter(department__name=department)
    if employee:
        rows = rows.filter(number=employee)
    return rows


def devices(user: User) -> QuerySet[Device]:
    if _all(user):
        return Device.objects.all()
    if user.role in (Role.HR_ADMIN, Role.AUDITOR, Role.MANAGER):
        return Device.objects.filter(_grant_q(user, "site", None))
    return Device.objects.none()


def _site_codes(user: User) -> list[str]:
    return list(sites(user).values_list("code", flat=True))


def punches(user: User) -> QuerySet[Punch]:
    if _all(user):
        return Punch.objects.all()
    numbers = employees(user).values("number")
    if user.role in (Role.HR_ADMIN, Role.AUDITOR):
        return Punch.objects.filter(Q(employee_number__in=numbers) | Q(site__in=_site_codes(user)))
    return Punch.objects.filter(employee_number__in=numbers)


def events(user: User) -> QuerySet[Event]:
    if _all(user):
        return Event.objects.all()
    if user.role in (Role.HR_ADMIN, Role.AUDITOR, Role.MANAGER):
        return Event.objects.filter(site__in=_site_codes(user))
    return Event.objects.none()


def commands(user: User) -> QuerySet[Command]:
    if _all(user):
        return Command.objects.all()
    if user.role in (Role.HR_ADMIN, Role.AUDITOR):
        return Command.objects.filter(device_id__in=devices(user).values("device_id"))
    return Command.objects.none()


def audit_entries(user: User) -> QuerySet[AuditEntry]:
    if user.is_superuser or user.role == Role.AUDITOR:
        return AuditEntry.objects.all()
    return AuditEntry.objects.none()


def can_manage(user: User) -> bool:
    """May change people, devices and send commands (within scope)."""
    return bool(user.is_active and (user.is_superuser or user.role == Role.HR_ADMIN))


def can_decide_requests(user: User) -> bool:
    """May approve or reject leave, make-up punches and overtime: of the employees it sees, never its own."""
    return bool(user.is_active and (user.is_superuser or user.role in (Role.HR_ADMIN, Role.MANAGER)))


def can_see_audit(user: User) -> bool:
    return bool(user.is_superuser or user.role == Role.AUDITOR)


def require_manage(user: User) -> None:
    if not can_manage(user):
        raise ScopeDenied("this role may not change anything")


def check_site_allowed(user: User, site: Site, department: Department | None = None) -> None:
    """A write placing a record at ``site`` / ``department`` must stay within the user's scope."""
    require_manage(user)
    if user.is_superuser:
        return
    granted = grants(user)  # an HR admin's (require_manage): sites(user) is the granted sites and departments' sites
    if site.pk in granted.sites or (department is not None and department.pk in granted.departments
                                    and site.pk in granted.department_sites):
        return
    raise ScopeDenied("outside your sites and departments")


def users(user: User) -> QuerySet[User]:
    """The console users ``user`` may see: all of them for a superuser and an auditor; for an HR admin their own
    account and :func:`users_to_change`; for anyone else their own account."""
    if user.is_superuser or user.role == Role.AUDITOR:
        return User.objects.all()
    own = User.objects.filter(pk=user.pk)
    if user.role != Role.HR_ADMIN:
        return own
    return User.objects.filter(Q(pk=user.pk) | Q(pk__in=users_to_change(user).values("pk")))


def users_to_change(user: User) -> QuerySet[User]:
    """The console users ``user`` may change: every one for a superuser; for an HR admin the managers whose every
    granted department (at least one) and site lie in the HR admin's scope, and the employees' own accounts whose
    employee does; nobody for anyone else."""
    if user.is_superuser:
        return User.objects.all()
    if user.role != Role.HR_ADMIN:
        return User.objects.none()
    granted_elsewhere = {*User.objects.filter(departments__in=Department.objects.exclude(pk__in=departments(user)))
                         .values_list("pk", flat=True),
                         *User.objects.filter(sites__in=Site.objects.exclude(pk__in=sites(user))).values_list("pk", flat=True)}
    managers = Q(role=Role.MANAGER, pk__in=User.objects.filter(departments__isnull=False).values("pk"))
    own_accounts = Q(role=Role.EMPLOYEE, employee__in=employees(user))
    return (User.objects.filter(is_superuser=False).filter(managers | own_accounts)
            .exclude(pk__in=granted_elsewhere))

"""Console accounts managed from the console (用户与权限): who may sign in, with which role, over which sites and
departments, linked to which employee.

- **Who changes whom**: a superuser any account; an HR admin the managers and the employees' own accounts inside
  their scope (:func:`central.accounts.scope.users_to_change`), and may grant only departments and employees they
  see. Nobody changes their own role, grants or active state (a slip would lock them out), and the last active
  superuser stays one.
- **Grants by role**: an employee's account is linked to their employee (one account per employee) and has no
  grants; a manager has at least one department; an HR admin at least one site or department; an auditor with no
  grant sees everything; a superuser needs none.
- **Passwords**: a new account and a reset get a one-time password, returned once to be handed over and never
  stored in clear; its holder must set their own at the first sign-in (``must_change_password``). A reset signs the
  account out of every browser (Django's session hash follows the password).
- **Employees' accounts in one go** (:func:`open_employee_accounts`): for a site or a department, every active
  employee without an account gets one, their number as user name, each with a one-time password to hand out.
- **Deactivating** keeps the account and its history: it cannot sign in and its API tokens stop answering; it can
  be reactivated.

Every change is in the audit log (``user.create``, ``user.change``, ``user.password_reset``,
``user.deactivate``, ``user.reactivate``, ``user.password_changed``), never a password.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from central.accounts import audit, scope
from central.accounts.hashers import one_time_hash
from central.accounts.models import ApiToken, Role, User
from central.accounts.services import AccountError, one_time_password
from central.people.models import Department, Employee, Site

SUPERUSER = "superuser"
ROLES = (SUPERUSER, *Role.values)
HR_GRANTABLE = (Role.MANAGER.value, Role.EMPLOYEE.value)


@dataclass(frozen=True)
class UserInput:
    """What a form or a command says an account should be. ``sites`` are site codes, ``departments`` department
    ids, ``employee`` an employee number."""
    username: str
    role: str
    name: str = ""
    sites: tuple[str, ...] = field(default_factory=tuple)
    departments: tuple[int, ...] = field(default_factory=tuple)
    employee: str = ""


@dataclass(frozen=True)
class Grants:
    role: str
    sites: list[Site]
    departments: list[Department]
    employee: Employee | None

    def describe(self) -> dict[str, Any]:
        """For the audit log: the role and what it reaches, by code, name and number."""
        return {"role": self.role, "sites": sorted(s.code for s in self.sites),
                "departments": sorted(f"{d.site.code}/{d.name}" for d in self.departments),
                "employee": self.employee.number if self.employee else None}


def role_of(user: User) -> str:
    return SUPERUSER if user.is_superuser else user.role


def grants_of(user: User) -> Grants:
    return Grants(role_of(user), list(user.sites.all()), list(user.departments.select_related("site")), user.employee)


def input_of(user: User) -> UserInput:
    """An account as it is, in the form a change is given (a form's first values; a partial change's defaults)."""
    return UserInput(username=user.username, role=role_of(user), name=user.first_name,
                     sites=tuple(user.sites.values_list("code", flat=True)),
                     departments=tuple(user.departments.values_list("pk", flat=True)),
                     employee=user.employee.number if user.employee else "")


def _username(raw: str) -> str:
    username = raw.strip()
    if not username or len(username) > 150:
        raise AccountError("用户名须为 1 至 150 个字符 / A user name is 1 to 150 characters", "username")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise AccountError("用户名只能包含字母、数字和 @ . + - _ / A user name holds letters, digits and @ . + - _ only",
                           "username") from None
    return username


def _grants(actor: User | None, data: UserInput, *, target: User | None = None) -> Grants:
    """The grants ``data`` asks for, checked against the role and against what ``actor`` may grant (None: the
    server's own command line, which may grant anything)."""
    role = data.role
    if role not in ROLES:
        raise AccountError(f"未知的角色 {role!r} / Unknown role {role!r}", "role")
    everything = actor is None or actor.is_superuser
    if not everything and role not in HR_GRANTABLE:
        raise AccountError("人事管理员只能开通经理和员工账号 / An HR admin opens manager and employee accounts only", "role")
    codes = sorted(set(data.sites))
    sites = list(Site.objects.filter(code__in=codes))
    missing = sorted(set(codes) - {s.code for s in sites})
    if missing:
        raise AccountError(f"没有站点 {', '.join(missing)} / No site {', '.join(missing)}", "sites")
    if not everything:  # sites are a superuser's to grant: an HR admin's change keeps those the account has
        held = list(target.sites.all()) if target is not None and target.pk else []
        if codes and codes != sorted(s.code for s in held):
            raise AccountError("只有超级管理员可以授予站点 / Only a superuser grants sites", "sites")
        sites = held
    departments = list(Department.objects.select_related("site").filter(pk__in=set(data.departments)))
    if len(departments) != len(set(data.departments)):
        raise AccountError("所选部门不存在 / A department chosen does not exist", "departments")
    if actor is not None and not everything:
        mine = set(scope.departments(actor).values_list("pk", flat=True))
        if any(d.pk not in mine for d in departments):
            raise AccountError("所选部门不在您的管理范围内 / A department chosen is outside your scope", "departments")
    employee = None
    if data.employee.strip():
        number = data.employee.strip()
        employee = scope.employees(actor).filter(number=number).first() if actor is not None and not everything \
            else Employee.objects.filter(number=number).first()
        if employee is None:
            raise AccountError(f"没有工号为 {number} 的员工（或不在您的管理范围内） / No employee {number} in your scope",
                               "employee")
        others = User.objects.filter(employee=employee)
        taken = (others.exclude(pk=target.pk) if target is not None and target.pk else others).first()
        if taken is not None:
            raise AccountError(f"员工 {number} 已有账号 {taken.username} / Employee {number} already has the account "
                               f"{taken.username}", "employee")
    if role == Role.EMPLOYEE:
        if employee is None:
            raise AccountError("员工账号须关联一名员工 / An employee's account is linked to the employee", "employee")
        sites, departments = [], []
    elif role == Role.MANAGER and not departments:
        raise AccountError("经理至少要管理一个部门 / A manager has at least one department", "departments")
    elif role == Role.HR_ADMIN and not (sites or departments):
        raise AccountError("人事管理员至少要授予一个站点或部门 / An HR admin has at least one site or department", "sites")
    elif role == SUPERUSER:
        sites, departments = [], []
    return Grants(role, sites, departments, employee)


def _apply(user: User, grants: Grants, name: str) -> None:
    user.is_superuser = user.is_staff = grants.role == SUPERUSER
    user.role = Role.HR_ADMIN if grants.role == SUPERUSER else grants.role
    user.employee = grants.employee
    user.first_name = name.strip()[:150]
    user.save()
    user.sites.set(grants.sites)
    user.departments.set(grants.departments)


def _changeable(actor: User, target: User) -> User:
    """``target`` locked for the change, when ``actor`` may change it."""
    held = scope.users_to_change(actor).select_for_update().filter(pk=target.pk).first()
    if held is None:
        raise scope.ScopeDenied("this account is outside your scope")
    return held


def _keeps_a_superuser(target: User, still_superuser: bool) -> None:
    if target.is_superuser and not still_superuser and not User.objects.filter(
            is_superuser=True, is_active=True).exclude(pk=target.pk).exists():
        raise AccountError("这是最后一个可用的超级管理员账号 / This is the last active superuser", "role")


def create_user(actor: User, data: UserInput) -> tuple[User, str]:
    """A new account and its one-time password (returned once, to hand over)."""
    username = _username(data.username)
    scope.require_manage(actor)
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise AccountError(f"用户名 {username} 已被使用 / The user name {username} is taken", "username")
        grants = _grants(actor, data)
        user = User(username=username, must_change_password=True)
        password = one_time_password()
        user.password = one_time_hash(password)
        _apply(user, grants, data.name)
        audit.record(actor.username, "user.create", username, grants.describe())
    return user, password


def command_line_account(data: UserInput, actor: str) -> str:
    """``seed-central createadmin``: the account ``data`` names, created or, when it exists, given that role and
    those grants, active, with a new one-time password (returned once)."""
    username = _username(data.username)
    with transaction.atomic():
        user = User.objects.filter(username=username).select_for_update().first()
        grants = _grants(None, data, target=user)
        user = user or User(username=username)
        password = one_time_password()
        user.password = one_time_hash(password)
        user.must_change_password = user.is_active = True
        _apply(user, grants, data.name or user.first_name)
        audit.record(actor, "user.create", username, grants.describe())
    return password


def change_user(actor: User, target: User, data: UserInput) -> User:
    """New role, grants, linked employee or name for ``target`` (its user name stays)."""
    with transaction.atomic():
        held = _changeable(actor, target)
        was = grants_of(held)
        grants = _grants(actor, data, target=held)
        if held.pk == actor.pk and grants.describe() != was.describe():
            raise AccountError("不能修改自己的角色和权限范围 / You cannot change your own role or grants", "role")
        _keeps_a_superuser(held, grants.role == SUPERUSER)
        name_was = held.first_name
        _apply(held, grants, data.name)
        if grants.describe() != was.describe() or held.first_name != name_was:
            audit.record(actor.username, "user.change", held.username,
                         {"was": was.describe(), "now": grants.describe(), "name": held.first_name})
    return held


def reset_password(actor: User, target: User) -> str:
    """A new one-time password for ``target`` (returned once); every browser it signed in with is signed out and
    every API token it made stops answering: a reset is how a lost phone or a leaked password is dealt with, and a
    token left working would keep the account open to whoever holds it."""
    with transaction.atomic():
        held = _changeable(actor, target)
        password = one_time_password()
        held.password = one_time_hash(password)
        held.must_change_password = True
        held.save(update_fields=["password", "must_change_password"])
        revoked = ApiToken.objects.filter(user=held, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit.record(actor.username, "user.password_reset", held.username, {"tokens_revoked": revoked} if revoked else None)
    return password


def set_active(actor: User, target: User, active: bool) -> User:
    """Deactivate (cannot sign in, tokens stop answering) or reactivate ``target``."""
    with transaction.atomic():
        held = _changeable(actor, target)
        if held.pk == actor.pk:
            raise AccountError("不能停用自己的账号 / You cannot deactivate your own account", "active")
        if held.is_active == active:
            return held
        if not active:
            _keeps_a_superuser(held, False)
        held.is_active = active
        held.save(update_fields=["is_active"])
        audit.record(actor.username, "user.reactivate" if active else "user.deactivate", held.username)
    return held


MAX_OPENED_AT_ONCE = 2_000


@dataclass(frozen=True)
class Opened:
    employee: Employee
    username: str
    password: str


@dataclass
class OpenedAccounts:
    opened: list[Opened] = field(default_factory=list)
    skipped: list[tuple[Employee, str]] = field(default_factory=list)  # and why, for a person
    had_accounts: int = 0  # employees asked for who already have one


def open_employee_accounts(actor: User, employees: QuerySet[Employee]) -> OpenedAccounts:
    """Self-service accounts (role employee, user name = employee number, a one-time password each) for the active
    employees of ``employees`` inside ``actor``'s scope who have none yet: a plant's accounts in one go, one
    transaction, one audit entry each. An employee whose number is another account's user name is skipped, with
    the reason."""
    scope.require_manage(actor)
    asked = scope.employees(actor).filter(pk__in=employees.values("pk"), active=True)
    outcome = OpenedAccounts(had_accounts=asked.filter(user__isnull=False).count())
    wanted = list(asked.filter(user__isnull=True).order_by("number"))
    if len(wanted) > MAX_OPENED_AT_ONCE:
        raise AccountError(f"一次最多开通 {MAX_OPENED_AT_ONCE} 个账号，请按部门分批 / At most {MAX_OPENED_AT_ONCE} accounts at "
                           f"once: go department by department", "department")
    with transaction.atomic():
        taken = {name.casefold() for name in User.objects.values_list("username", flat=True)}
        for employee in wanted:
            username = employee.number
            if username.casefold() in taken:
                outcome.skipped.append((employee, f"用户名 {username} 已被另一个账号使用，请单独开通 / The user name "
                                                  f"{username} is another account's: open this one by hand"))
                continue
            password = one_time_password()
            user = User(username=username, role=Role.EMPLOYEE, employee=employee, first_name=employee.name[:150],
                        password=one_time_hash(password), must_change_password=True)
            user.save()
            taken.add(username.casefold())
            audit.record(actor.username, "user.create", username,
                         {"role": Role.EMPLOYEE.value, "sites": [], "departments": [], "employee": employee.number})
            outcome.opened.append(Opened(employee, username, password))
    return outcome


def password_changed(user: User) -> None:
    """``user`` set their own password (already saved): the one-time password's duty ends."""
    if user.must_change_password:
        user.must_change_password = False
        user.save(update_fields=["must_change_password"])
    audit.record(user.username, "user.password_changed", user.username)

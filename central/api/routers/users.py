"""/users: console accounts (用户与权限) as :mod:`central.accounts.users` keeps them, for an HR system that opens its
people's self-service accounts itself. Everyone reads the accounts they see (:func:`central.accounts.scope.users`:
their own at least); a superuser and an HR admin open, change, deactivate and reset the ones they may change. An
account the caller does not see answers 404, one they see but may not change 403."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from ninja import Query, Router, Status

from central.accounts import scope, selectors, users
from central.accounts.models import User
from central.api import cursor as keyset
from central.api.auth import caller
from central.api.errors import not_found
from central.api.schemas import ERRORS
from central.api.user_schemas import UserCreate, UserIssued, UserOut, UserWrite

router = Router(tags=["users 账号"])


def out(u: User) -> dict:
    return {"username": u.username, "name": u.first_name, "role": users.role_of(u),
            "sites": sorted(s.code for s in u.sites.all()),
            "departments": [{"id": d.pk, "site": d.site.code, "name": d.name}
                            for d in sorted(u.departments.all(), key=lambda d: (d.site.code, d.name))],
            "employee": u.employee.number if u.employee else None, "active": u.is_active,
            "must_change_password": u.must_change_password,
            "last_login": keyset.stamp(u.last_login) if u.last_login else None,
            "created_at": keyset.stamp(u.date_joined)}


def _find(user: User, username: str) -> User:
    found = scope.users(user).select_related("employee").filter(username=username).first()
    if found is None:
        raise not_found("account", username)
    if not scope.users_to_change(user).filter(pk=found.pk).exists():
        raise scope.ScopeDenied("this account is not yours to change")
    return found


@router.get("/users", response={200: list[UserOut], **ERRORS}, summary="账号列表 / the console accounts you see")
def list_users(request, q: str = Query("", max_length=150, description="用户名、姓名或工号 / user name, name or employee "
                                                                         "number"),
               role: str = Query("", description="只看该角色 / only this role"),
               state: str = Query("", description="active、inactive 或 must_change / only these"),
               department: int | None = Query(None, description="部门编号（见 /departments）：其员工的账号与授权了它的经理 / "
                                                                "a department id (see /departments): its employees' "
                                                                "accounts and the managers granted it")):
    user = caller(request)
    found = None
    if department is not None:
        found = scope.departments(user).filter(pk=department).first()
        if found is None:
            raise not_found("department", str(department))
    return [out(u) for u in selectors.user_search(user, q, role, state, found)[:1000]]


@router.post("/users", response={201: UserIssued, **ERRORS},
             summary="开通账号 / open an account (its one-time password in this answer only)")
def create_user(request, payload: UserCreate):
    made, password = users.create_user(caller(request), users.UserInput(
        username=payload.username, role=payload.role, name=payload.name or "", sites=tuple(payload.sites or ()),
        departments=tuple(payload.departments or ()), employee=payload.employee or ""))
    return Status(201, {"user": out(made), "one_time_password": password})


@router.put("/users/{username}", response={200: UserOut, **ERRORS},
            summary="修改账号 / change an account's role, grants, employee, name or state (fields left out keep theirs)")
def update_user(request, username: str, payload: UserWrite):
    user = caller(request)
    target = _find(user, username)
    sent = payload.model_dump(exclude_unset=True)
    # a field left out or null keeps its value, but a null employee unlinks it; lists are held as tuples
    changes: dict[str, Any] = {k: "" if v is None else tuple(v) if isinstance(v, list) else v
                               for k, v in sent.items() if k != "active" and (v is not None or k == "employee")}
    if changes:
        users.change_user(user, target, replace(users.input_of(target), **changes))
    if sent.get("active") is not None:
        users.set_active(user, target, sent["active"])
    target.refresh_from_db()
    return out(target)


@router.post("/users/{username}/password-reset", response={200: UserIssued, **ERRORS},
             summary="重置密码 / a new one-time password (in this answer only); the account is signed out everywhere")
def reset_password(request, username: str):
    user = caller(request)
    target = _find(user, username)
    password = users.reset_password(user, target)
    target.refresh_from_db()
    return {"user": out(target), "one_time_password": password}

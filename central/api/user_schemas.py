"""Bodies of /api/v1/users: console accounts (用户与权限). A one-time password is in the one answer that made it and
nowhere else; no answer carries a password hash."""
from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field, field_validator

from central.api.schemas import STAMP, DepartmentOut, no_nul

ROLE = Literal["superuser", "hr_admin", "manager", "auditor", "employee"]
ROLE_TEXT = ("角色：superuser、hr_admin、manager、auditor、employee（人事管理员只能开通 manager 和 employee）/ role; an HR "
             "admin opens manager and employee accounts only")


class UserOut(Schema):
    username: str = Field(description="用户名（登录时输入）/ user name, typed to sign in")
    name: str = Field(description="显示名称 / display name")
    role: ROLE = Field(description="角色 / role")
    sites: list[str] = Field(description="授权站点代码 / granted site codes")
    departments: list[DepartmentOut] = Field(description="授权部门 / granted departments")
    employee: str | None = Field(description="关联员工的工号 / the number of the employee this account belongs to")
    active: bool = Field(description="可以登录 / may sign in (a deactivated account's API tokens stop answering too)")
    must_change_password: bool = Field(
        description="还在用一次性密码：登录后须先设置自己的密码 / still on a one-time password, to be replaced at sign-in")
    last_login: str | None = Field(description=f"最后登录 / last sign-in, {STAMP}")
    created_at: str = Field(description=f"创建时间 / created, {STAMP}")


class UserWrite(Schema):
    """Fields of an account a client may set; on PUT fields left out keep their value."""
    model_config = ConfigDict(extra="forbid")
    _text = field_validator("*", mode="after")(no_nul)

    role: ROLE | None = Field(None, description=ROLE_TEXT)
    name: str | None = Field(None, max_length=150, description="显示名称 / display name")
    sites: list[str] | None = Field(None, max_length=200, description="授权站点代码（只有超级管理员可授予）/ site codes to "
                                    "grant (a superuser only)")
    departments: list[int] | None = Field(None, max_length=500, description="授权部门编号（见 /departments）/ department "
                                          "ids to grant (see /departments)")
    employee: str | None = Field(None, max_length=32, description="关联员工的工号，空字符串取消关联 / the number of the "
                                 "employee this account belongs to; empty unlinks")
    active: bool | None = Field(None, description="false 停用，true 启用 / false deactivates, true reactivates")


class UserCreate(UserWrite):
    username: str = Field(min_length=1, max_length=150, description="用户名：字母、数字和 @ . + - _ / user name: letters, "
                          "digits and @ . + - _")
    role: ROLE = Field(description=ROLE_TEXT)
    active: None = Field(None, description="新账号总是启用 / a new account is always active")


class UserIssued(Schema):
    user: UserOut = Field(description="账号 / the account")
    one_time_password: str = Field(description="一次性密码，只在这次回答里出现；本人首次登录后须设置自己的密码 / the one-time "
                                   "password, in this answer only; its holder sets their own at the first sign-in")


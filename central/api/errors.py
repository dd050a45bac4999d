"""Every API error as JSON ``{"detail": "中文 / English", ...}``: never an HTML page, never a 500 for bad input.

| raised | status | body |
| --- | --- | --- |
| :class:`ApiError` | its own (400, 404, 409 …) | ``detail`` (+ ``field`` when one field is at fault, ``errors`` when several) |
| missing / unknown / revoked credentials | 401 | ``detail``, ``WWW-Authenticate: Bearer`` |
| :class:`central.accounts.scope.ScopeDenied` | 403 | ``detail`` |
| :class:`central.people.services.PeopleError` | 422 | ``detail``, ``field`` |
| :class:`central.accounts.services.AccountError` | 422 | ``detail``, ``field`` |
| a unique row taken by a concurrent write (``IntegrityError``) | 409 | ``detail`` |
| a request that does not match the schema | 422 | ``detail``, first ``field``, ``errors`` (``field``, ``location``, ``message``) |
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from ninja.errors import AuthenticationError, HttpError, ValidationError

from central.accounts.scope import ScopeDenied
from central.accounts.services import AccountError
from central.people.services import PeopleError

if TYPE_CHECKING:
    from ninja import NinjaAPI

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Exception)

NOT_AUTHENTICATED = "需要令牌或登录 / authentication required: send 'Authorization: Bearer <token>' or sign in to the console"
BAD_TOKEN = "令牌无效或已吊销 / unknown or revoked token"
FORBIDDEN = "您的角色无权执行此操作 / your role may not do this"


class ApiError(Exception):
    """An answer other than success, with a message for people and optionally the field at fault."""

    def __init__(self, status: int, detail: str, field: str | None = None,
                 errors: list[dict[str, str]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.errors = errors  # several fields at fault (rows of an import): ``field``, ``message`` each


def not_found(what: str, key: str) -> ApiError:
    """Unknown and outside the caller's scope read the same, so a scope never leaks what it hides."""
    labels = {"employee": "员工", "account": "账号", "device": "设备", "leave": "请假", "make-up punch": "补卡", "shift change": "调班",
              "overtime request": "加班申请", "daily record": "考勤记录", "department": "部门"}
    return ApiError(404, f"没有该{labels.get(what, what)} / no {what} {key!r}")


def _body(detail: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail}
    if field:
        body["field"] = field
    body.update(extra)
    return body


def _field_of(loc: list[Any]) -> str:
    """``["body", "payload", "card"]`` → ``card``; ``["query", "limit"]`` → ``limit``."""
    parts = [str(x) for x in loc if x not in ("body", "query", "path", "payload", "filters")]
    return ".".join(parts)


def install(api: NinjaAPI) -> None:
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        extra = {"errors": exc.errors} if exc.errors is not None else {}
        return api.create_response(request, _body(exc.detail, exc.field, **extra), status=exc.status)

    def authentication(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        detail = exc.message if exc.message != "Unauthorized" else NOT_AUTHENTICATED
        response = api.create_response(request, _body(detail), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="seed"'
        return response

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        labels = {400: "请求无效 / bad request", 403: "禁止 / forbidden", 429: "请求过多 / too many requests"}
        return api.create_response(request, _body(f"{labels.get(exc.status_code, '请求失败 / request failed')}: {exc}"),
                                   status=exc.status_code)

    def scope_denied(request: HttpRequest, exc: ScopeDenied) -> HttpResponse:
        return api.create_response(request, _body(f"{FORBIDDEN} ({exc})"), status=403)

    def people_error(request: HttpRequest, exc: PeopleError | AccountError) -> HttpResponse:
        return api.create_response(request, _body(str(exc), exc.field or None), status=422)

    def validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = []
        for err in exc.errors:
            loc = list(err.get("loc", ()))
            message = str(err.get("msg", "invalid"))
            if err.get("type") == "extra_forbidden":
                message = "未知字段 / unknown field"
            errors.append({"field": _field_of(loc), "location": str(loc[0]) if loc else "", "message": message})
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        detail = f"请求数据无效 / invalid request: {first['field'] or 'body'}: {first['message']}"
        return api.create_response(request, _body(detail, first["field"] or None, errors=errors), status=422)

    def not_found_error(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api.create_response(request, _body("未找到 / not found"), status=404)

    def conflict(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
        log.warning("API %s %s: %s", request.method, request.path, exc)
        return api.create_response(request, _body("与同时进行的修改冲突，请重试 / conflicts with a change made at the same time; "
                                                  "try again"), status=409)

    def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        log.exception("API %s %s failed", request.method, request.path)
        return api.create_response(request, _body("服务器内部错误 / internal error"), status=500)

    def on(exc_class: type[E], handler: Callable[[HttpRequest, E], HttpResponse]) -> None:
        # ninja types the handler's argument as ``E | type[E]``; it is only ever called with the raised instance
        api.add_exception_handler(exc_class, handler)  # type: ignore[arg-type]

    on(ApiError, api_error)
    on(AuthenticationError, authentication)
    on(HttpError, http_error)
    on(ScopeDenied, scope_denied)
    on(PeopleError, people_error)
    on(AccountError, people_error)
    on(ValidationError, validation)
    on(Http404, not_found_error)
    on(IntegrityError, conflict)
    on(Exception, unexpected)

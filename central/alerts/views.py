"""Alert pages of the console: the notification list (read and unread per user) and the alert rules.

Notifications are for the staff side (superusers, HR admins, managers, auditors), each seeing the alerts of
their employees and doors; rules are read by the same roles and changed by superusers and HR admins within
their scope. Employees get 403.
"""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from central.accounts import scope
from central.alerts import mail, selectors, services
from central.alerts.forms import AlertRuleForm, NotificationFilterForm
from central.alerts.models import Alert, AlertRule
from central.alerts.texts import describe
from central.console.views import AuthedHttpRequest, console_view, page_of, query_without_page, require


def _rows(alerts: list[Alert]) -> list[Alert]:
    for alert in alerts:
        alert.text_zh, alert.text_en = describe(alert.kind, alert.detail)  # type: ignore[attr-defined]
    return alerts


@require_http_methods(["GET", "POST"])
@console_view
def notifications(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    require(selectors.can_read(user))
    if request.method == "POST":  # mark all read: every unread alert this user may see
        marked = services.mark_read(user, list(selectors.unread(user).values_list("pk", flat=True)),
                                    dj_timezone.now())
        messages.success(request, _("已将 %(n)s 条通知标为已读 Marked %(n)s notifications read") % {"n": marked})
        return redirect(reverse("console:alerts"))
    form = NotificationFilterForm(request.GET or None)
    rows = selectors.alerts(user)
    state = form.cleaned_data["state"] if form.is_valid() else ""
    if state == "unread":
        rows = selectors.unread(user)
    elif state == "read":
        rows = selectors.already_read(user)
    page = page_of(request, rows, 50)
    _rows(list(page.object_list))
    return render(request, "alerts/notifications.html", {
        "nav": "alerts", "form": form, "page": page, "query": query_without_page(request),
        "highlight": request.GET.get("alert", "")})


@require_POST
@console_view
def read(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    require(selectors.can_read(user))
    alert = get_object_or_404(selectors.alerts(user), pk=pk)
    services.mark_read(user, [alert.pk], dj_timezone.now())
    if request.htmx:  # the row again, read now
        alert = selectors.alerts(user).get(pk=pk)
        return render(request, "alerts/_row.html", {"a": _rows([alert])[0]})
    return redirect(reverse("console:alerts"))


def _rules_page(request: AuthedHttpRequest, form: AlertRuleForm | None) -> HttpResponse:
    user = request.user
    manageable = set(selectors.manageable_rules(user).values_list("pk", flat=True))
    return render(request, "alerts/rules.html", {
        "nav": "alert_rules", "form": form, "rules": selectors.rules(user), "manageable": manageable,
        "mail_configured": mail.smtp() is not None})


@require_http_methods(["GET", "POST"])
@console_view
def rules(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    require(selectors.can_read(user))
    configured = mail.smtp() is not None
    if request.method != "POST":
        return _rules_page(request, AlertRuleForm(user, mail_configured=configured)
                           if scope.can_manage(user) else None)
    require(scope.can_manage(user))
    form = AlertRuleForm(user, request.POST, mail_configured=configured)
    if form.is_valid():
        try:
            rule = services.create_rule(user, form.cleaned_data)
            messages.success(request, _("告警规则已添加：%(rule)s Alert rule added: %(rule)s") % {"rule": rule})
            return redirect(reverse("console:alert_rules"))
        except services.AlertError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
    return _rules_page(request, form)


def _rule_or_404(request: AuthedHttpRequest, pk: int) -> AlertRule:
    require(scope.can_manage(request.user))
    return get_object_or_404(selectors.manageable_rules(request.user), pk=pk)


@require_POST
@console_view
def toggle(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    rule = _rule_or_404(request, pk)
    services.set_enabled(request.user, rule, not rule.enabled)
    messages.success(request, (_("告警规则已启用 Alert rule switched on") if rule.enabled
                               else _("告警规则已停用 Alert rule switched off")))
    return redirect(reverse("console:alert_rules"))


@require_POST
@console_view
def delete(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    rule = _rule_or_404(request, pk)
    services.delete_rule(request.user, rule)
    messages.success(request, _("告警规则已删除 Alert rule deleted"))
    return redirect(reverse("console:alert_rules"))

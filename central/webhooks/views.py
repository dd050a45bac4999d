"""Webhook pages of the console: the hooks (add, edit, rotate the secret, delete) and the delivery log.

The superuser and HR admins (for their own sites' hooks) use them; every other role gets 403.
"""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.accounts import scope
from central.console.views import AuthedHttpRequest, console_view, page_of, query_without_page, require
from central.webhooks import selectors, services
from central.webhooks.forms import DeliveryFilterForm, HookForm
from central.webhooks.models import Delivery, Hook


def _hook_or_404(request: AuthedHttpRequest, pk: int) -> Hook:
    return get_object_or_404(selectors.hooks(request.user), pk=pk)


def _page(request: AuthedHttpRequest, form: HookForm, editing: Hook | None, secret: str | None = None,
          secret_for: Hook | None = None) -> HttpResponse:
    return render(request, "webhooks/hooks.html", {
        "nav": "webhooks", "form": form, "editing": editing, "hooks": selectors.hooks(request.user),
        "secret": secret, "secret_for": secret_for})


@require_http_methods(["GET", "POST"])
@console_view
def hooks(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    require(scope.can_manage(user))
    editing = _hook_or_404(request, int(request.GET["edit"])) if request.GET.get("edit", "").isdigit() else None
    if request.method != "POST":
        form = HookForm(user, initial=HookForm.initial_of(editing) if editing else None)
        return _page(request, form, editing)
    form = HookForm(user, request.POST)
    if form.is_valid():
        try:
            if editing is not None:
                services.update_hook(user, editing, form.cleaned_data)
                messages.success(request, _("钩子 %(name)s 已保存 Hook %(name)s saved") % {"name": editing.name})
                return redirect(reverse("console:webhooks"))
            hook, secret = services.create_hook(user, form.cleaned_data)
            # the secret is in this one response only
            return _page(request, HookForm(user), None, secret=secret, secret_for=hook)
        except services.WebhookError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
    return _page(request, form, editing)


@require_POST
@console_view
def rotate(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    require(scope.can_manage(request.user))
    hook = _hook_or_404(request, pk)
    secret = services.rotate_secret(request.user, hook)
    return _page(request, HookForm(request.user), None, secret=secret, secret_for=hook)


@require_POST
@console_view
def delete(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    require(scope.can_manage(request.user))
    hook = _hook_or_404(request, pk)
    services.delete_hook(request.user, hook)
    messages.success(request, _("钩子 %(name)s 已删除 Hook %(name)s deleted") % {"name": hook.name})
    return redirect(reverse("console:webhooks"))


@require_GET
@console_view
def deliveries(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    require(scope.can_manage(user))
    choices = [(str(h.pk), f"{h.name}{' ' + _('(已删除 deleted)') if h.deleted_at else ''}")
               for h in selectors.log_hooks(user)]
    form = DeliveryFilterForm(choices, request.GET or None)
    if form.is_valid():
        data = form.cleaned_data
        rows = selectors.deliveries(user, hook=int(data["hook"]) if data["hook"] else None, event=data["event"],
                                    state=data["state"])
    else:
        rows = selectors.deliveries(user)
    return render(request, "webhooks/deliveries.html", {
        "nav": "webhook_deliveries", "form": form, "page": page_of(request, rows, 50),
        "query": query_without_page(request)})


@require_POST
@console_view
def retry(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    require(scope.can_manage(request.user))
    delivery: Delivery = get_object_or_404(selectors.deliveries(request.user), pk=pk)
    try:
        services.retry_delivery(request.user, delivery)
        messages.success(request, _("投递 %(id)s 将立即重试 Delivery %(id)s will be retried now") % {"id": delivery.pk})
    except services.WebhookError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("console:webhook_deliveries"))

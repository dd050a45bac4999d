"""Small display helpers of the console: role checks for menus, labels and status badges."""
from __future__ import annotations

import json

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from central.accounts import scope
from central.attendance.selectors import recompute_jobs_shown
from central.console.event_labels import event_label
from central.console.forms import verify_mode_label

register = template.Library()

SEVERITY_CLASS = {"debug": "muted", "info": "info", "warning": "warn", "error": "bad", "critical": "bad"}


@register.filter
def can_manage(user) -> bool:
    return scope.can_manage(user)


@register.filter
def can_see_audit(user) -> bool:
    return scope.can_see_audit(user)


@register.filter
def mode_label(mode: str) -> str:
    return verify_mode_label(mode)


@register.filter
def event_kind(kind: str) -> str:
    return event_label(kind)


@register.simple_tag
def severity_badge(severity: str):
    labels = {"debug": _("调试"), "info": _("信息"), "warning": _("警告"), "error": _("错误"), "critical": _("严重")}
    return format_html('<span class="badge badge-{}">{}</span>', SEVERITY_CLASS.get(severity, "muted"),
                       labels.get(severity, severity))


@register.simple_tag
def online_badge(device):
    if device.online:
        return format_html('<span class="badge badge-ok">{}</span>', _("在线"))
    return format_html('<span class="badge badge-muted">{}</span>', _("离线"))


@register.simple_tag
def roster_badge(device, current: int):
    if device.roster_version >= current:
        return format_html('<span class="badge badge-ok">{}</span>', _("已同步"))
    return format_html('<span class="badge badge-warn">{}</span>',
                       _("落后 %(n)s 个版本") % {"n": current - device.roster_version})


@register.simple_tag
def command_badge(command):
    if command.result_at is not None or command.ok is not None:
        if command.ok:
            return format_html('<span class="badge badge-ok">{}</span>', _("成功"))
        return format_html('<span class="badge badge-bad">{}</span>', _("失败"))
    if command.published_at is not None:
        return format_html('<span class="badge badge-info">{}</span>', _("已发送，等待结果"))
    return format_html('<span class="badge badge-muted">{}</span>', _("排队中"))


@register.filter
def command_name(cmd: str) -> str:
    from central.console.views import command_label

    return command_label(cmd)


@register.filter
def offset_class(seconds) -> str:
    if seconds is None:
        return ""
    return "text-bad" if abs(seconds) > 2 else "text-ok"


@register.filter
def compact_json(value) -> str:
    if not value:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_actions() -> dict[str, str]:
    return {
        "view": _("查看页面"), "device.command": _("发送终端命令"),
        "employee.create": _("添加员工"), "employee.update": _("修改员工"), "employee.save": _("保存员工"),
        "employee.deactivate": _("设为离职"), "employee.delete": _("删除员工"), "employee.import": _("导入员工"),
        "employee.faces_import": _("导入人脸照片"), "employee.faces_cleared": _("清除人脸模板"),
        "employee.templates_enrolled": _("门上登记模板"),
        "user.create": _("添加用户"), "user.change": _("修改用户角色与授权"), "user.password_reset": _("重置用户密码"),
        "user.password_changed": _("修改自己的密码"), "user.deactivate": _("停用用户"), "user.reactivate": _("启用用户"),
        "user.sign_in_locked": _("登录尝试过多，暂停登录"), "token.create": _("创建 API 令牌"), "token.revoke": _("吊销 API 令牌"),
        "site.create": _("添加站点"), "site.update": _("修改站点"), "department.create": _("添加部门"),
        "attendance.shift.create": _("添加班次"),
        "attendance.shift.update": _("修改班次"),
        "attendance.overtime_rule.create": _("添加加班规则"),
        "attendance.overtime_rule.update": _("修改加班规则"),
        "attendance.rotation.create": _("添加轮班"),
        "attendance.rotation.update": _("修改轮班"),
        "attendance.assignment.create": _("排班"),
        "attendance.assignment.delete": _("取消排班"),
        "attendance.schedule_import": _("导入排班"),
        "attendance.punch_import": _("导入打卡记录"),
        "backup.restored": _("从备份恢复数据库"),
        "roster.new_history": _("名册重新开始"),
        "attendance.calendar.update": _("修改休息日"),
        "attendance.calendar_day.save": _("设置节假日"),
        "attendance.calendar_day.remove": _("删除节假日"),
        "attendance.manual_record": _("手工考勤记录"),
        "attendance.recompute": _("重算考勤"),
        "attendance.recompute_queued": _("重算考勤已排队"),
        "attendance.record_changed": _("定稿考勤被更正"),
        "attendance.leave_filed": _("提交请假"),
        "attendance.leave_approved": _("批准请假"),
        "attendance.leave_rejected": _("拒绝请假"),
        "attendance.leave_ended_early": _("销假（提前回来）"),
        "attendance.leave_called_off": _("取消已批请假"),
        "attendance.makeup_filed": _("提交补卡"),
        "attendance.makeup_approved": _("批准补卡"),
        "attendance.makeup_rejected": _("拒绝补卡"),
        "attendance.month_closed": _("月结"),
        "attendance.month_reopened": _("重新开放月结"),
        "attendance.month_confirmed": _("员工确认月度考勤"),
        "attendance.month_disputed": _("员工对月度考勤提出异议"),
        "attendance.month_answered": _("答复月度考勤异议"),
        "webhook.create": _("添加网络钩子"), "webhook.update": _("修改网络钩子"), "webhook.delete": _("删除网络钩子"),
        "webhook.retry": _("重发网络钩子"),
        "alert_rule.create": _("添加告警规则"), "alert_rule.enable": _("启用告警规则"),
        "alert_rule.disable": _("停用告警规则"), "alert_rule.delete": _("删除告警规则"),
        "display.create": _("创建墙上显示屏"), "display.revoke": _("停用墙上显示屏"),
    }


@register.filter
def audit_action(action: str) -> str:
    """An audit entry's action code as words; ``command.<cmd>`` (sent from the command line) names the command."""
    label = audit_actions().get(action)
    if label is not None:
        return label
    if action.startswith("command."):
        from central.console.views import command_label

        return _("终端命令：%(cmd)s") % {"cmd": command_label(action.removeprefix("command."))}
    return action


DETAIL_VALUE_CHARS = 80


def _detail_value(value: object) -> str:
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        text = ", ".join(_detail_value(v) for v in value) if value else "—"
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return text if len(text) <= DETAIL_VALUE_CHARS else text[:DETAIL_VALUE_CHARS - 1] + "…"


@register.filter
def detail_pairs(value) -> list[tuple[str, str]]:
    """An audit entry's detail as ``(key, value)`` pairs for people to read; any other value as one pair."""
    if not value:
        return []
    if not isinstance(value, dict):
        return [("", _detail_value(value))]
    return [(str(key), _detail_value(value[key])) for key in sorted(value)]


@register.filter
def in_language(text: str) -> str:
    """A "中文 / English" text written once for both (a queued recompute's reason) in the page's language; a text
    that is not made of exactly two such halves as it is."""
    halves = str(text).split(" / ")
    if len(halves) != 2:
        return str(text)
    return halves[0] if (get_language() or "zh").startswith("zh") else halves[1]


@register.inclusion_tag("console/attendance/_recompute_jobs.html")
def recompute_jobs() -> dict[str, object]:
    """Queued and recent recomputes of daily records, with their progress (staff pages of attendance)."""
    return {"jobs": recompute_jobs_shown(timezone.now())}

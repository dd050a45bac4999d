"""What an alert says to a person, Chinese first and then English (the notification list, mails, webhooks)."""
from __future__ import annotations

from typing import Any


def _who(d: dict[str, Any]) -> tuple[str, str]:
    name, number = d.get("name", ""), d.get("number", "")
    return f"{name}（{number}）", f"{name} ({number})"


def _request(d: dict[str, Any]) -> tuple[str, str]:
    zh, en = _who(d)
    hours = d.get("hours") or 0
    waiting = (f"，已等待 {hours} 小时", f", waiting {hours} h") if hours else ("", "")
    if d.get("kind") == "overtime":
        kind = {"rest_day": ("休息日", "rest-day "), "holiday": ("节假日", "holiday ")}.get(d.get("overtime_kind") or "",
                                                                                    ("", ""))
        return (f"待审批：{zh} {d.get('date')} {d.get('shift') or '-'} 的{kind[0]}加班 {d.get('minutes')} 分钟"
                f"（工作到 {d.get('worked_until')}{waiting[0]}）",
                f"Waiting for a decision: {en}'s {kind[1]}overtime of {d.get('minutes')} min on {d.get('date')} "
                f"({d.get('shift') or '-'}, worked until {d.get('worked_until')}{waiting[1]})")
    if d.get("kind") == "leave":
        half = ("（半天）", " (half day)") if d.get("half_day") else ("", "")
        what = (f"{d.get('leave_type')}请假 {d.get('start')} 至 {d.get('end')}{half[0]}",
                f"leave ({d.get('leave_type')}) from {d.get('start')} to {d.get('end')}{half[1]}")
    elif d.get("kind") == "overtime_request":
        what = (f"加班申请 {d.get('date')} {d.get('minutes')} 分钟", f"overtime of {d.get('minutes')} min asked for {d.get('date')}")
    elif d.get("kind") == "shift_change":
        days = d.get("start") if d.get("start") == d.get("end") else f"{d.get('start')} 至 {d.get('end')}"
        days_en = d.get("start") if d.get("start") == d.get("end") else f"{d.get('start')} to {d.get('end')}"
        partner = d.get("partner")
        if isinstance(partner, dict):
            other = _who(partner)
            what = (f"换班 {days}：与 {other[0]} 对换（改上 {d.get('shift') or '休息'}，同事已同意）",
                    f"swap on {days_en} with {other[1]} (to work {d.get('shift') or 'rest'}; the colleague agreed)")
        else:
            what = (f"调班 {days}：改为 {d.get('shift') or '休息'}", f"shift change on {days_en} to {d.get('shift') or 'rest'}")
    else:
        way = {"in": ("上班", "in "), "out": ("下班", "out ")}.get(d.get("direction") or "", ("", ""))
        what = (f"补{way[0]}卡 {d.get('at')}", f"make-up {way[1]}punch at {d.get('at')}")
    return (f"待审批：{zh} 的{what[0]}（{d.get('filed_at')} 提交{waiting[0]}）",
            f"Waiting for a decision: {en}'s {what[1]} (filed {d.get('filed_at')}{waiting[1]})")


def describe(kind: str, d: dict[str, Any]) -> tuple[str, str]:
    """(Chinese, English) one-line text of an alert of ``kind`` with detail ``d``."""
    shift = d.get("shift") or "-"
    if kind == "late":
        zh, en = _who(d)
        return (f"迟到：{zh} {d.get('date')} {shift} 迟到 {d.get('late_min')} 分钟",
                f"Late: {en} was {d.get('late_min')} min late on {d.get('date')} ({shift})")
    if kind == "absent":
        zh, en = _who(d)
        return (f"未到岗：{zh} {d.get('date')} {shift} 上班 {d.get('since_start_min')} 分钟后仍未打卡",
                f"Absent: {en} has not punched {d.get('since_start_min')} min after the start of {shift} on {d.get('date')}")
    if kind == "missing_out":
        zh, en = _who(d)
        return (f"缺下班卡：{zh} {d.get('date')} {shift} 打卡窗口已关闭，没有下班卡",
                f"Missing out punch: {en} has no out punch for {shift} on {d.get('date')}; the window has closed")
    if kind == "request_waiting":
        return _request(d)
    if kind == "overtime_month":
        zh, en = _who(d)
        line = d.get("limit_h") or 0
        law = (f"（每月上限 {line} 小时）", f" (the monthly line is {line} h)") if line else ("", "")
        return (f"加班超时：{zh} {d.get('month')} 加班已达 {d.get('hours')} 小时，超过 {d.get('threshold')} 小时{law[0]}",
                f"Overtime: {en} has {d.get('hours')} h of overtime in {d.get('month')}, above {d.get('threshold')} h"
                f"{law[1]}")
    if kind == "held_changes":
        return (f"月结后的更改：{d.get('site_name')} {d.get('month')} 已月结，之后发现 {d.get('held')} 条更改未写入"
                "（如终端补传的打卡），重新开放后才生效",
                f"Changes after closing: {d.get('month')} at {d.get('site_name')} is closed, and {d.get('held')} "
                "changes found since were not written (such as punches a terminal delivered late); reopening lets "
                "them in")
    if kind == "backup_stale":
        if not d.get("newest"):
            return (f"没有数据库备份：{d.get('folder')} 中没有备份，请定时运行 seed-central backup create",
                    f"No database backup: there is none in {d.get('folder')}; run seed-central backup create from a timer")
        return (f"备份过期：最近一次数据库备份在 {d.get('newest')}（{d.get('hours')} 小时前），超过 {d.get('threshold')} 小时",
                f"Backup overdue: the newest database backup was made at {d.get('newest')} ({d.get('hours')} h ago), "
                f"more than {d.get('threshold')} h")
    device = d.get("device", "")
    if kind == "device_offline":
        return (f"设备离线：{device} 已离线 {d.get('minutes')} 分钟（最后在线 {d.get('last_seen_at')}）",
                f"Device offline: {device} has been offline for {d.get('minutes')} min (last seen {d.get('last_seen_at')})")
    if kind == "queue_depth":
        return (f"待传积压：{device} 有 {d.get('queue_depth')} 条打卡未上传（阈值 {d.get('threshold')}）",
                f"Queue depth: {device} holds {d.get('queue_depth')} punches not yet sent (threshold {d.get('threshold')})")
    if kind == "clock_offset":
        return (f"时钟偏差：{device} 的时钟偏差 {d.get('clock_offset_s')} 秒（阈值 {d.get('threshold')} 秒）",
                f"Clock offset: {device} is {d.get('clock_offset_s')} s off (threshold {d.get('threshold')} s)")
    if kind == "security_events":
        return (f"安全事件：{device} 过去一小时有 {d.get('count')} 次尾随或仿冒事件（阈值 {d.get('threshold')}）",
                f"Security events: {device} had {d.get('count')} tailgating or spoof events in the last hour "
                f"(threshold {d.get('threshold')})")
    return (f"告警：{kind}", f"Alert: {kind}")

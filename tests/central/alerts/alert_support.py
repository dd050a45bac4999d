"""A small company for the alert tests: one site in Shanghai with a day shift, a second site, doors; site-local
moments as aware datetimes; real SMTP (aiosmtpd) and HTTP receivers on loopback."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from central.accounts.models import User
from central.alerts.models import AlertRule
from central.attendance.models import AttendanceProfile, ShiftType
from central.ingest.models import Event, Punch
from central.people.models import Department, Device, Employee, Site

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 3, 9)


def at(hh: int, mm: int = 0, day: date = MONDAY) -> datetime:
    """A Shanghai wall-clock moment, aware."""
    return datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)


def make_world() -> dict[str, Any]:
    sh = Site.objects.create(code="sh", name="上海厂", time_zone="Asia/Shanghai")
    bj = Site.objects.create(code="bj", name="北京厂", time_zone="Asia/Shanghai")
    ops = Department.objects.create(site=sh, name="生产部")
    sales = Department.objects.create(site=sh, name="销售部")
    far = Department.objects.create(site=bj, name="北京部")
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=120, late_grace_min=5)
    people = {}
    for number, name, site, dept in [("E1", "张三", sh, ops), ("E2", "李四", sh, sales), ("B1", "王五", bj, far)]:
        emp = Employee.objects.create(number=number, name=name, site=site, department=dept)
        AttendanceProfile.objects.create(employee=emp, default_shift=day)
        people[number] = emp
    door = Device.objects.create(device_id="door-sh", site=sh, online=True, last_seen_at=at(8),
                                 status={"queue_depth": 0, "clock_offset_s": 0.1})
    door_bj = Device.objects.create(device_id="door-bj", site=bj, online=True, last_seen_at=at(8),
                                    status={"queue_depth": 0, "clock_offset_s": 0.1})
    boss = User.objects.create_user("boss", password="x" * 12, is_superuser=True, role="hr_admin")
    return {"sh": sh, "bj": bj, "ops": ops, "sales": sales, "far": far, "day": day, **people, "door": door,
            "door_bj": door_bj, "boss": boss}


def rule(kind: str, threshold: int, *, site: Site | None = None, department: Department | None = None,
         emails: list[str] | None = None) -> AlertRule:
    return AlertRule.objects.create(kind=kind, threshold=threshold, site=site, department=department,
                                    emails=emails or [], created_by="test")


def punch(emp: Employee, when: datetime, direction: str = "in", device: str = "door-sh") -> Punch:
    return Punch.objects.create(id=str(uuid.uuid4()), site=emp.site.code, device_id=device,
                                employee_number=emp.number, direction=direction, method="card", punched_at=when,
                                boot_id="b", monotonic_ns=1, time_source="ntp", batch_id=str(uuid.uuid4()),
                                received_at=when)


def event(device: Device, kind: str, when: datetime) -> Event:
    return Event.objects.create(id=str(uuid.uuid4()), site=device.site.code, device_id=device.device_id, kind=kind,
                                severity="warning", at=when, payload={}, received_at=when)


# -- a real SMTP server ----------------------------------------------------------------------------------
@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content or b"", policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.arrived:
            self.messages.append(message)
            self.recipients.append(list(envelope.rcpt_tos))
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 20.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)


@contextmanager
def smtp_server(port: int = 0) -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])




def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)

"""/devices: the doors within the caller's scope, and commands to one of them."""
from __future__ import annotations

import re

from django.db import transaction
from ninja import Router, Status

from central.accounts import audit, scope
from central.api import cursor as keyset
from central.api.auth import caller
from central.api.errors import ApiError, not_found
from central.api.schemas import ERRORS, CommandIn, CommandOut, DeviceOut
from central.ingest.commands import request_command
from central.ingest.models import Command
from central.people.models import Device
from contract import protocol as p

router = Router(tags=["devices 设备"])


def out(d: Device) -> dict:
    return {"device_id": d.device_id, "site": d.site.code, "name": d.name, "online": d.online,
            "first_seen_at": keyset.stamp(d.first_seen_at), "last_seen_at": keyset.stamp(d.last_seen_at),
            "roster_version": d.roster_version, "queue_depth": d.queue_depth, "clock_offset_s": d.clock_offset_s,
            "status": d.status if isinstance(d.status, dict) else {}}


def command_out(c: Command) -> dict:
    state = "queued" if c.published_at is None else "sent" if c.ok is None else "done" if c.ok else "failed"
    return {"id": c.id, "device_id": c.device_id, "cmd": c.cmd, "args": c.args, "issued_at": keyset.stamp(c.issued_at),
            "issued_by": c.issued_by, "state": state}


def _find(request, device_id: str) -> Device:
    rows = scope.devices(caller(request)).select_related("site")
    found = rows.filter(device_id=device_id).first() if re.match(p.DEVICE_RE, device_id) else None
    if found is None:
        raise not_found("device", device_id)
    return found


@router.get("/devices", response={200: list[DeviceOut], **ERRORS}, summary="设备列表 / terminals in your scope")
def list_devices(request):
    return [out(d) for d in scope.devices(caller(request)).select_related("site").order_by("site__code", "device_id")]


@router.get("/devices/{device_id}", response={200: DeviceOut, **ERRORS}, summary="设备详情 / one terminal")
def get_device(request, device_id: str):
    return out(_find(request, device_id))


@router.post("/devices/{device_id}/commands", response={202: CommandOut, **ERRORS},
             summary="向设备发送命令 / send a signed command to a terminal",
             description="命令进入队列，接收服务（seed-central run）在一秒内签名并发送 / "
                         "queued; the running receiver signs and sends it within a second")
def send_command(request, device_id: str, payload: CommandIn):
    user = caller(request)
    device = _find(request, device_id)
    scope.check_site_allowed(user, device.site)
    if payload.cmd != "open_door" and payload.seconds is not None:
        raise ApiError(422, "seconds 只用于 open_door / seconds applies to open_door only", "seconds")
    args = {"seconds": payload.seconds} if payload.seconds is not None else {}
    with transaction.atomic():
        command = request_command(device.site.code, device.device_id, payload.cmd, args, actor=user.username)
        audit.record(user.username, "device.command", device.device_id,  # as the console records it
                     {"cmd": payload.cmd, "id": command.id, "args": args, "via": "api"})
    return Status(202, command_out(command))

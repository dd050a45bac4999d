"""Request and response bodies of /api/v1, with the descriptions the OpenAPI document shows.

Write bodies refuse unknown fields (a typo is a 422 naming it, not a silent no-op). Times are
contract stamps, ``2026-03-02T08:01:02.123456Z``. No response carries a PIN, a PIN hash or a
biometric template: an employee shows how many faces and fingers are enrolled, nothing more.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, field_validator

from contract import protocol as p

STAMP = "UTC 时间 / UTC time, e.g. 2026-03-02T08:01:02.123456Z"


class ErrorOut(Schema):
    detail: str = Field(description="错误说明（中文 / English）/ what went wrong, in Chinese and English")
    field: str | None = Field(None, description="出错的字段 / the field at fault, when there is one")


class SiteOut(Schema):
    code: str = Field(description="站点代码（MQTT 主题中的站点段）/ site code, the site segment of MQTT topics")
    name: str = Field(description="名称 / name")
    time_zone: str = Field(description="时区 / IANA time zone, e.g. Asia/Shanghai")


class DepartmentOut(Schema):
    id: int = Field(description="部门编号 / department id")
    site: str = Field(description="所属站点代码 / site code")
    name: str = Field(description="名称（站点内唯一）/ name, unique within the site")


def no_nul(value: Any) -> Any:
    """A NUL character is no text a person types, and PostgreSQL refuses it: 422, not a database error."""
    items = value if isinstance(value, list) else [value]
    if any(isinstance(v, str) and "\x00" in v for v in items):
        raise ValueError("不能包含 NUL 字符 / must not contain a NUL character")
    return value


class AttendanceTerms(Schema):
    """An employee's attendance terms (考勤设置), as on their month page in the console."""
    joined: date | None = Field(None, description="入职日期；之前的日子不计考勤 / the joining day; no attendance before it")
    left: date | None = Field(None, description="离职日期（当天仍计考勤）；之后不计 / the leaving day (it still counts); "
                                                "no attendance after it")
    work_started: date | None = Field(None, description="参加工作日期：法定年休假按它计算工龄 / the start of working life, "
                                                        "which statutory annual leave counts from")
    default_shift: str | None = Field(None, max_length=100, description="默认班次的名称：没有排班时按它 / the default "
                                                                       "shift's name, worked when no assignment covers a day")
    exempt: bool = Field(False, description="免打卡（高管免刷）/ exempt from punching")
    overtime_listed: bool = Field(False, description="加班白名单：只有名单上的员工计加班 / on the overtime list: only they "
                                                     "are paid overtime")


class AttendanceTermsWrite(Schema):
    """Attendance terms to set; on PUT the fields left out keep their value."""
    model_config = ConfigDict(extra="forbid")
    _text = field_validator("*", mode="after")(no_nul)

    joined: date | None = Field(None, description=AttendanceTerms.model_fields["joined"].description)
    left: date | None = Field(None, description=AttendanceTerms.model_fields["left"].description)
    work_started: date | None = Field(None, description=AttendanceTerms.model_fields["work_started"].description)
    default_shift: str | None = Field(None, max_length=100,
                                      description=AttendanceTerms.model_fields["default_shift"].description)
    exempt: bool | None = Field(None, description=AttendanceTerms.model_fields["exempt"].description)
    overtime_listed: bool | None = Field(None, description=AttendanceTerms.model_fields["overtime_listed"].description)


class EmployeeOut(Schema):
    number: str = Field(description="工号 / employee number")
    name: str = Field(description="姓名 / name")
    site: str = Field(description="站点代码 / site code")
    department: str = Field(description="部门名称，无则为空 / department name, empty when none")
    card: str | None = Field(None, description="卡号（规范化）/ card number, normalised")
    has_pin: bool = Field(description="是否设置了 PIN（PIN 从不返回）/ whether a PIN is set; the PIN is never returned")
    role: str = Field(description="终端角色 employee 或 admin / terminal role: employee or admin (admin may enrol at the door)")
    verify_mode: str = Field(description="验证方式，如 any、face、card+pin / how the employee verifies at the door")
    allowed_devices: list[str] = Field(description="允许使用的门（空表示全部）/ doors allowed; empty means every door")
    active: bool = Field(description="在职 / active; an inactive employee is refused at every door")
    faces: int = Field(description="已登记人脸数 / number of enrolled face templates")
    fingers: int = Field(description="已登记指纹数 / number of enrolled fingerprints")
    version: int = Field(description="最后一次变更的名册版本 / roster version of the last change")
    attendance: AttendanceTerms = Field(description="考勤设置 / attendance terms")
    created_at: str = Field(description=STAMP)
    updated_at: str = Field(description=STAMP)


class EmployeeWrite(Schema):
    """Fields of an employee a client may set. On PUT every field is optional: fields left out keep their value."""
    model_config = ConfigDict(extra="forbid")
    _text = field_validator("*", mode="after")(no_nul)

    name: str | None = Field(None, min_length=1, max_length=100, description="姓名 / name")
    site: str | None = Field(None, pattern=p.DEVICE_RE, description="站点代码 / site code (must be within your scope)")
    department: str | None = Field(None, max_length=100,
                                      description="部门名称，空字符串表示无 / department name; empty for none")
    card: str | None = Field(None, max_length=40,
                                description="卡号，任意读卡器格式；null 或空清除 / card in any reader format; null or empty clears it")
    pin: str | None = Field(None, max_length=32,
                               description="PIN（只写）；省略则保留，空字符串清除 / PIN, write-only; left out keeps it, empty clears it")
    role: Literal["employee", "admin"] | None = Field(None, description="终端角色 / terminal role")
    verify_mode: str | None = Field(None, max_length=64,
                                       description="验证方式 / verification mode, e.g. any, face, card, card+pin")
    allowed_devices: list[str] | None = Field(None, max_length=1000,
                                                 description="允许的门（设备号）/ allowed doors (device ids); empty: every door")
    active: bool | None = Field(None, description="在职 / active")
    attendance: AttendanceTermsWrite | None = Field(
        None, description="考勤设置（需人事权限）；PUT 时省略的字段保持不变 / attendance terms (an HR admin's); on PUT the "
                          "fields left out keep their value")
    moved_on: date | None = Field(
        None, description="调动生效日期：改站点或部门时，从这天起按新部门的排班和新站点的日历计算考勤，之前的日子不变；"
                          "省略为今天，不能晚于今天 / a new site or department takes effect from this day (its shifts and "
                          "calendar; earlier days keep the old ones); left out: today; not after today")


class EmployeeCreate(EmployeeWrite):
    number: str = Field(pattern=p.NUMBER_RE, description="工号（字母或数字开头，最多 32 位）/ employee number")
    name: str = Field(min_length=1, max_length=100, description="姓名 / name")
    site: str = Field(pattern=p.DEVICE_RE, description="站点代码 / site code (must be within your scope)")


class EmployeeRemoved(Schema):
    number: str = Field(description="工号 / employee number")
    action: Literal["deactivated", "deleted"] = Field(
        description="deactivated：保留记录、各门拒绝；deleted：删除并清除所有终端上的模板 / "
                    "deactivated: kept for the records, refused at every door; deleted: removed, templates purged on every terminal")
    roster_version: int = Field(description="这次变更的名册版本 / the roster version of this change")


class FacePhotoIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=200, description="照片的文件名，结果里用它指出是哪一张 / the photo's file name, to name "
                                                     "it in the answer")
    data: str = Field(min_length=4, max_length=8_000_000,
                      description="照片文件（JPEG、PNG、WebP、BMP 或 TIFF）的 base64；整个请求最多 10 MB / the photo "
                                  "file (JPEG, PNG, WebP, BMP or TIFF) in base64; the whole request at most 10 MB")


class FacesIn(Schema):
    model_config = ConfigDict(extra="forbid")
    photos: list[FacePhotoIn] = Field(min_length=1, max_length=10, description=(
        "这名员工的照片，1 到 10 张：只有本人、正脸、睁眼、清晰，保留最好的 5 张 / 1 to 10 photos of this employee alone, "
        "frontal, eyes open, sharp; the best 5 are kept"))


class FacePhotoResult(Schema):
    name: str = Field(description="照片的文件名 / the photo's file name")
    state: Literal["ok", "spare", "skipped", "error"] = Field(description=(
        "ok：用作模板；spare：可用但已有更好的；skipped：不可用（见 message）；error：与其他照片不是同一个人 / ok: a template; "
        "spare: usable, better ones kept; skipped: not usable (see message); error: another person than the other photos"))
    message: str = Field(description="原因（中文 / English），ok 时为空 / why, empty when ok")


class FacesOut(Schema):
    number: str = Field(description="工号 / employee number")
    templates: int = Field(description="员工现在的人脸模板数 / the face templates the employee holds now")
    roster_version: int = Field(description="名册版本（模板随它下发到终端） / the roster version carrying them to the terminals")
    photos: list[FacePhotoResult] = Field(description="每张照片的结果 / each photo's result")


class DeviceOut(Schema):
    device_id: str = Field(description="设备号 / device id")
    site: str = Field(description="站点代码 / site code")
    name: str = Field(description="名称 / name")
    online: bool = Field(description="在线（按最后遗嘱与心跳）/ online, from the last will and heartbeats")
    first_seen_at: str | None = Field(None, description=STAMP)
    last_seen_at: str | None = Field(None, description=STAMP)
    roster_version: int = Field(description="设备确认的名册版本 / roster version the terminal acknowledged")
    queue_depth: int | None = Field(None, description="待上传的打卡数 / punches waiting in the terminal's outbox")
    clock_offset_s: float | None = Field(None, description="时钟偏差（秒）/ clock offset in seconds")
    status: dict[str, Any] = Field(description="最近一次状态报文 / the terminal's last status message")


class CommandIn(Schema):
    model_config = ConfigDict(extra="forbid")

    cmd: Literal["open_door", "resync"] = Field(
        description="open_door：开门一次；resync：重新下载完整名册 / open_door: pulse the door once; resync: fetch the full roster again")
    seconds: float | None = Field(None, ge=0.1, le=30,
                                     description="open_door 的开门时长（秒）/ how long open_door holds the door, 0.1–30 s")


class CommandOut(Schema):
    id: str = Field(description="命令编号 / command id")
    device_id: str = Field(description="设备号 / device id")
    cmd: str = Field(description="命令 / command")
    args: dict[str, Any] = Field(description="参数 / arguments")
    issued_at: str = Field(description=STAMP)
    issued_by: str = Field(description="发出者 / who issued it")
    state: Literal["queued", "sent", "done", "failed"] = Field(
        description="queued：等待接收服务签名发送；sent：已发送；done/failed：终端的结果 / "
                    "queued: waiting for the receiver to sign and send it; sent; done or failed: the terminal's result")


class PunchOut(Schema):
    id: str = Field(description="打卡编号（终端生成的 UUIDv7）/ punch id, a UUIDv7 made on the device")
    site: str = Field(description="站点代码 / site code")
    device_id: str = Field(description="设备号 / device id")
    employee_number: str = Field(description="工号 / employee number")
    direction: str = Field(description="in / out")
    method: str = Field(description="验证方式，如 face、card+pin / how the employee verified")
    score: float | None = Field(None, description="人脸距离（越小越像）/ face distance, smaller is closer")
    punched_at: str = Field(description=f"打卡时间（校正后）/ punch time, corrected; {STAMP}")
    time_source: str = Field(description="时间来源 / time source: ntp, rtc, restamp …")
    original_punched_at: str | None = Field(None, description="校正前的时间 / time before a re-stamp")
    received_at: str = Field(description=f"中心收到的时间 / when the central stored it; {STAMP}")
    time_flag: str = Field("", description="时间存疑的原因，空表示可信；存疑的打卡保留备查、不计入考勤 / why no correct clock "
                           "could have stamped this time (before_floor, ahead), empty when plausible; such a punch is "
                           "kept for review and not counted in attendance")


class EventOut(Schema):
    id: str = Field(description="事件编号 / event id")
    site: str = Field(description="站点代码 / site code")
    device_id: str = Field(description="设备号 / device id")
    kind: str = Field(description="类型，如 tailgating、spoof / kind, e.g. tailgating, spoof")
    severity: str = Field(description="级别 / severity")
    at: str = Field(description=STAMP)
    payload: dict[str, Any] = Field(description="事件内容 / event details")
    received_at: str = Field(description=STAMP)


NEXT = "下一页的游标，最后一页为 null / cursor of the next page, null on the last page"


class EmployeePage(Schema):
    items: list[EmployeeOut]
    next_cursor: str | None = Field(None, description=NEXT)


class PunchPage(Schema):
    items: list[PunchOut]
    next_cursor: str | None = Field(None, description=NEXT)


LOCAL_MOMENT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$"


class ImportedPunchIn(Schema):
    """One punch of another system, in the employee's site's local wall time."""
    model_config = ConfigDict(extra="forbid")

    employee: str = Field(pattern=p.NUMBER_RE, description="工号 / employee number")
    at: str = Field(pattern=LOCAL_MOMENT, description="员工所在站点的当地时间，不带时区 / the site's local wall time, "
                                                      "no offset: YYYY-MM-DDTHH:MM[:SS]")
    direction: Literal["in", "out"] | None = Field(None, description="上班 in / 下班 out；省略：按班次交替 / left out: "
                                                                      "the shift alternates")


class PunchImportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    punches: list[ImportedPunchIn] = Field(min_length=1, max_length=20_000,
                                           description="最多 20000 条 / at most 20,000 punches a call")
    check: bool = Field(False, description="只检查、不写入 / check every punch and write nothing")
    source: str = Field("api", min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$",
                        description="来源名称，记入审计日志 / where they come from, kept in the audit log")


class PunchImportOut(Schema):
    checked_only: bool = Field(description="true：只检查，没有写入 / true: checked, nothing written")
    added: int = Field(description="新增（或检查时可新增）的打卡 / punches added (or that would be)")
    unchanged: int = Field(description="已有或在请求中重复的打卡 / punches already stored or repeated in the request")
    employees: int = Field(description="有新打卡的员工 / employees with new punches")
    recompute_job: int | None = Field(None, description="在后台重算考勤的任务编号；为空表示已重算 / the background "
                                                        "recompute's job, when the days were not recomputed at once")


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None = Field(None, description=NEXT)


ERRORS = {code: ErrorOut for code in (400, 401, 403, 404, 422)}  # every error answer has the same JSON shape

"""Response bodies of /api/v1/attendance/* and /api/v1/reports*, with descriptions and OpenAPI examples.

Dates are ISO days (``2026-03-02``), the site's local day. Times of punches, make-up punches and
approvals are contract stamps in UTC (``2026-03-02T01:12:00.000000Z``); a record's first in / last out are
stamps too, and the exceptions list gives them as the site's local wall time (``2026-03-02T09:12:00``,
no zone) as HR reads them. Hours are decimal strings (``"7.50"``), exact as stored.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, field_validator

from central.api.schemas import NEXT, STAMP, no_nul
from central.attendance.overtime_requests import MAX_AHEAD_DAYS as OVERTIME_AHEAD_DAYS
from central.attendance.overtime_requests import MAX_MINUTES as OVERTIME_MAX_MINUTES
from central.attendance.overtime_requests import MIN_MINUTES as OVERTIME_MIN_MINUTES

NUMBER_EX = ["A001"]
NAME_EX = ["张三"]
SITE_EX = ["sh-plant"]
DEPT_EX = ["装配 Assembly"]
DAY_EX = ["2026-03-02"]
Day = date  # a field named ``date`` is typed with this name: the class's own ``date`` would hide the type


class RecordOut(Schema):
    id: int = Field(description="记录编号 / record id", examples=[4711])
    employee_number: str = Field(description="工号 / employee number", examples=NUMBER_EX)
    employee_name: str = Field(description="姓名 / name", examples=NAME_EX)
    site: str = Field(description="站点代码 / site code", examples=SITE_EX)
    department: str = Field(description="部门名称，无则为空 / department name, empty when none", examples=DEPT_EX)
    date: str = Field(description="日期：班次开始的那天（站点当地）/ the day the shift starts, the site's local day",
                      examples=DAY_EX)
    shift: str = Field(description="班次名称，无则为空 / shift name, empty when none", examples=["白班 Day"])
    status: Literal["present", "absent", "half_day", "on_leave"] = Field(
        description="状态：出勤、缺勤、半天、请假 / status: present, absent, half day, on leave", examples=["present"])
    source: Literal["punches", "manual", "leave", "absent", "exempt", "on_duty"] = Field(
        description="来源：打卡、手工、请假、未打卡、免打卡、公出（出差等，算出勤）/ where it came from: punches, entered by "
                    "hand, leave, no punch, exempt, on duty away (a business trip or the like, counted as worked)",
        examples=["punches"])
    day_kind: Literal["workday", "rest_day", "holiday"] = Field(
        description="工作日、休息日、节假日 / workday, rest day or holiday", examples=["workday"])
    hours: str = Field(description="工时（小数字符串）/ hours worked, a decimal string", examples=["7.80"])
    late: bool = Field(description="迟到 / late", examples=[True])
    late_min: int = Field(description="迟到分钟 / minutes late", examples=[12])
    early: bool = Field(description="早退 / left early", examples=[False])
    early_min: int = Field(description="早退分钟 / minutes left early", examples=[0])
    missing_out: bool = Field(description="缺下班卡 / an in punch without an out punch", examples=[False])
    overtime_min: int = Field(description="加班分钟 / overtime minutes", examples=[30])
    overtime_kind: str = Field(description="加班类别 / overtime kind: workday, rest_day, holiday", examples=["workday"])
    overtime_state: str = Field(description="加班审批状态：空（无需审批）、pending 待批、approved 已批、rejected 已拒（不计薪）、"
                                            "in_lieu 批为调休（不计薪）、unpaid 不在加班白名单 / overtime approval state: empty "
                                            "when none is needed, pending, approved, rejected (not paid), in_lieu (approved "
                                            "as time off in lieu, not paid), unpaid (not on the overtime list)",
                                examples=["pending"])
    leave_type: str | None = Field(None, description="假别代码 / leave type code", examples=[None])
    half_day: bool = Field(description="半天 / half day", examples=[False])
    first_in: str | None = Field(None, description=f"首次进 / first in; {STAMP}", examples=["2026-03-02T01:12:00.000000Z"])
    last_out: str | None = Field(None, description=f"最后出 / last out; {STAMP}", examples=["2026-03-02T10:05:00.000000Z"])
    final: bool = Field(description="已定稿（不再随迟到的打卡改变）/ final: late punches no longer change it",
                        examples=[True])
    closed_by_timeout: bool = Field(description="因等待超时定稿 / closed when the wait for terminals ran out",
                                    examples=[False])
    reason: str = Field(description="手工记录的原因 / why it was entered by hand", examples=[""])
    updated_at: str = Field(description=STAMP, examples=["2026-03-03T02:00:00.000000Z"])
    month_closed: bool = Field(description="所在月份已在其站点月结：记录不再改变，直到人事重新开放 / its month is closed at "
                                           "its site: the record no longer changes until HR reopens the month",
                               examples=[False])


class RecordPage(Schema):
    items: list[RecordOut]
    next_cursor: str | None = Field(None, description=NEXT, examples=["WyIyMDI2LTAzLTAyIiw0NzExXQ"])


class ExceptionOut(Schema):
    employee_number: str = Field(description="工号 / employee number", examples=NUMBER_EX)
    employee_name: str = Field(description="姓名 / name", examples=NAME_EX)
    site: str = Field(description="站点代码 / site code", examples=SITE_EX)
    department: str = Field(description="部门名称 / department name", examples=DEPT_EX)
    date: str = Field(description="日期（站点当地）/ the record's date, the site's local day", examples=DAY_EX)
    shift: str = Field(description="班次名称 / shift name; empty for a punch", examples=["白班 Day"])
    kind: Literal["late", "early", "absent", "missing_out", "time_implausible"] = Field(
        description="类型：迟到、早退、缺勤、缺下班卡、打卡时间存疑 / kind: late, left early, absent, missing out "
                    "punch, a punch time no correct clock could have made", examples=["late"])
    kind_label: str = Field(description="类型名称 / the kind in words", examples=["迟到 Late"])
    minutes: int = Field(description="迟到或早退分钟，其他为 0 / minutes late or early, else 0", examples=[12])
    state: Literal["open", "explained", "accepted"] = Field(
        description="open：待处理；explained：有待批的请假或补卡；accepted：手工记录或已批的请假、补卡 / open: nobody "
                    "explained it; explained: a pending leave or make-up punch covers it; accepted: set by hand, or an "
                    "approved leave or make-up punch covers it", examples=["explained"])
    state_label: str = Field(description="状态名称 / the state in words", examples=["已说明 Explained"])
    request_kind: Literal["", "leave", "makeup", "manual", "allowance"] = Field(
        description="说明或认可它的申请：请假、补卡、手工记录、站点每月宽限的迟到（allowance），无则为空 / what explains or "
                    "accepts it: leave, make-up punch, manual record, a late arrival the site lets go this month "
                    "(allowance); empty for none", examples=["leave"])
    request_id: int | None = Field(None, description="该申请或手工记录的编号 / id of that leave, make-up punch or record",
                                   examples=[88])
    final: bool = Field(description="记录已定稿 / the record is final", examples=[True])
    first_in: str | None = Field(None, description="首次进，站点当地时间 / first in, the site's local wall time",
                                 examples=["2026-03-02T09:12:00"])
    last_out: str | None = Field(None, description="最后出，站点当地时间 / last out, the site's local wall time",
                                 examples=["2026-03-02T18:05:00"])
    detail: str = Field(description="打卡时间存疑的原因与打卡编号 / for a doubtful punch: its time flag and id",
                        examples=[""])


class ExceptionPage(Schema):
    items: list[ExceptionOut]
    next_cursor: str | None = Field(None, description=NEXT, examples=[None])


class LeaveOut(Schema):
    id: int = Field(description="请假编号 / leave id", examples=[88])
    employee_number: str = Field(description="工号 / employee number", examples=NUMBER_EX)
    employee_name: str = Field(description="姓名 / name", examples=NAME_EX)
    site: str = Field(description="站点代码 / site code", examples=SITE_EX)
    department: str = Field(description="部门名称 / department name", examples=DEPT_EX)
    leave_type: str = Field(description="假别代码 / leave type code", examples=["AL"])
    leave_type_name: str = Field(description="假别名称 / leave type name", examples=["年假 Annual leave"])
    paid: bool = Field(description="带薪 / paid", examples=[True])
    on_duty: bool = Field(description="公出（出差、外勤等）：这些天算出勤，不是休假 / on duty away (a business trip, field "
                                      "work): those days count as worked, not as time off", examples=[False])
    start: str = Field(description="开始日期 / first day", examples=["2026-03-03"])
    end: str = Field(description="结束日期（含）/ last day, inclusive", examples=["2026-03-04"])
    half_day: bool = Field(description="半天 / half day", examples=[False])
    state: Literal["pending", "approved", "rejected", "withdrawn"] = Field(
        description="待批、已批、已拒、员工已撤回 / pending, approved, rejected, withdrawn by the employee",
        examples=["approved"])
    reason: str = Field(description="事由 / reason", examples=["探亲 Family visit"])
    approved_by: str = Field(description="审批人（撤回时为员工本人）/ who decided (the employee, for a withdrawn one)",
                             examples=["hr.li"])
    approved_at: str | None = Field(None, description=STAMP, examples=["2026-03-01T03:00:00.000000Z"])
    created_at: str = Field(description=STAMP, examples=["2026-02-28T08:30:00.000000Z"])
    has_evidence: bool = Field(description="附有证明（病假条等，在控制台的请求页查看）/ evidence is attached (a sick note, "
                                           "say; seen on the console's requests page)", examples=[False])


class LeavePage(Schema):
    items: list[LeaveOut]
    next_cursor: str | None = Field(None, description=NEXT, examples=[None])


class MakeupOut(Schema):
    id: int = Field(description="补卡编号 / make-up punch id", examples=[31])
    employee_number: str = Field(description="工号 / employee number", examples=NUMBER_EX)
    employee_name: str = Field(description="姓名 / name", examples=NAME_EX)
    site: str = Field(description="站点代码 / site code", examples=SITE_EX)
    department: str = Field(description="部门名称 / department name", examples=DEPT_EX)
    at: str = Field(description=f"补的打卡时间 / the punch time asked for; {STAMP}", examples=["2026-03-03T10:00:00.000000Z"])
    direction: Literal["in", "out"] | None = Field(None, description="上班或下班，空表示未指定 / in or out; null: "
                                                                     "not said", examples=["out"])
    reason: str = Field(description="事由 / reason", examples=["忘记打卡 Forgot to punch"])
    state: Literal["pending", "approved", "rejected", "withdrawn"] = Field(
        description="待批、已批、已拒、员工已撤回 / pending, approved, rejected, withdrawn by the employee",
        examples=["pending"])
    approved_by: str = Field(description="审批人（撤回时为员工本人）/ who decided (the employee, for a withdrawn one)",
                             examples=[""])
    approved_at: str | None = Field(None, description=STAMP, examples=[None])
    created_at: str = Field(description=STAMP, examples=["2026-03-04T01:00:00.000000Z"])
    has_evidence: bool = Field(description="附有证明（病假条等，在控制台的请求页查看）/ evidence is attached (a sick note, "
                                           "say; seen on the console's requests page)", examples=[False])


class EvidenceIn(Schema):
    """A file kept with the request as its evidence (证明), as the console's forms take it."""
    model_config = ConfigDict(extra="forbid")
    _text = field_validator("*", mode="after")(no_nul)

    name: str = Field(min_length=1, max_length=200, description="文件名 / the file's name", examples=["病假条.jpg"])
    content_base64: str = Field(
        min_length=4, max_length=7_000_000, examples=["/9j/4AAQSkZJRgABAQ..."],
        description="文件内容（Base64）：JPEG、PNG 照片或 PDF，5 MB 以内；照片的位置等元数据不保存 / the file's bytes in "
                    "Base64: a JPEG or PNG photo or a PDF, 5 MB at most; a photo's location and other metadata are "
                    "not kept")


class LeaveIn(Schema):
    """A leave asked for by the token's own employee (pending until decided), or recorded for an employee by an HR
    admin who manages them (already agreed: approved at once), as the console's requests page and month page do."""
    model_config = ConfigDict(extra="forbid")
    _text = field_validator("*", mode="after")(no_nul)

    employee: str | None = Field(
        None, max_length=32, examples=[None],
        description="工号；省略或为本人时提交本人的请假，等待审批。人事管理员可为其范围内的员工登记请假，直接生效 / the "
                    "employee number; left out or one's own: one's own leave, waiting for approval. An HR admin may "
                    "record a leave for an employee they manage, approved at once")
    leave_type: str = Field(min_length=1, max_length=16, description="假别代码 / leave type code", examples=["AL"])
    start: date = Field(description="第一天（站点当地日期）/ first day, the site's local day", examples=["2026-03-09"])
    end: date = Field(description="最后一天（含）/ last day, inclusive", examples=["2026-03-10"])
    half_day: bool = Field(False, description="半天假（只能一天）/ a half-day leave (one day only)", examples=[False])
    reason: str = Field(min_length=1, max_length=500, description="事由（必填）/ the reason, required",
                        examples=["探亲 Family visit"])
    evidence: EvidenceIn | None = Field(None, description="证明，如病假条的照片；需附证明的假别必填 / evidence, a photo of a "
                                                          "sick note, say; required for a leave type that needs it")


class MakeupIn(Schema):
    """A make-up punch (补卡) the token's own employee asks for: a punch missed at the door, pending until decided."""
    model_config = ConfigDict(extra="forbid")
    _text = field_validator("*", mode="after")(no_nul)

    at: datetime = Field(description="打卡时间：带时区按时区；不带时区按员工站点的当地时间 / the punch time: with an offset "
                                     "as given, without one the employee's site's local time",
                         examples=["2026-03-03T18:02:00+08:00"])
    direction: Literal["in", "out"] | None = Field(None, description="上班或下班，空表示不确定 / in or out; null: not "
                                                                     "sure", examples=["out"])
    reason: str = Field(min_length=1, max_length=500, description="事由（必填）/ the reason, required",
                        examples=["忘记打卡 Forgot to punch"])
    evidence: EvidenceIn | None = Field(None, description="证明，如门禁屏幕的照片 / evidence, a photo of the door's "
                                                          "screen, say")


class DecisionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"] = Field(
        description="approve：批准；reject：拒绝。审批人为令牌的用户，写入审计日志 / approve or reject; the token's user "
                    "decides, and the decision is written to the audit log", examples=["approve"])


class LeaveReturnIn(Schema):
    """The day an employee came back from an approved leave (销假)."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    _text = field_validator("*", mode="after")(no_nul)

    back_on: Day = Field(description="回来上班的第一天（站点当地日期）：请假在前一天结束；为请假第一天则整条取消 / the first day "
                                     "back (the site's local day): the leave ends the day before; its first day calls it "
                                     "off", examples=["2026-03-12"])
    reason: str = Field(min_length=1, max_length=500, description="事由（必填）/ the reason, required",
                        examples=["提前回来 Back early"])


class BalanceOut(Schema):
    employee_number: str = Field(description="工号 / employee number", examples=NUMBER_EX)
    employee_name: str = Field(description="姓名 / name", examples=NAME_EX)
    site: str = Field(description="站点代码 / site code", examples=SITE_EX)
    department: str = Field(description="部门名称，无则为空 / department name, empty when none", examples=DEPT_EX)
    leave_type: str = Field(description="假别代码 / leave type code", examples=["AL"])
    leave_type_name: str = Field(description="假别名称 / leave type name", examples=["年假 Annual leave"])
    year: int = Field(description="日历年 / calendar year", examples=[2026])
    allowance: str = Field(description="额度天数（小数字符串）/ days allowed, a decimal string", examples=["10"])
    own: bool = Field(description="为该员工单独设置的额度（否则为假别的每年额度或法定年休假）/ the employee's own allowance "
                                  "for the year, else the leave type's days a year or the statutory days", examples=[True])
    basis: Literal["type", "own", "statutory", "unknown", "in_lieu", "forfeited"] = Field(
        description="额度的来源：type 假别的每年额度；own 个人额度；statutory 法定年休假，按累计工作年限；unknown 法定年休假但员工"
                    "没有参加工作时间或入职日期，额度为 0；in_lieu 调休：到当年年末批为调休的休息日加班折成的天数（每 4 小时半天），"
                    "减去往年已休的；forfeited 法定年休假，因病假或带薪事假累计达到条例第四条的天数当年不享受（0 天）"
                    "/ where the allowance comes from: type, the leave type's days a year; own, the "
                    "employee's own; statutory, the statutory annual leave their years of working life earn; unknown, "
                    "statutory but the employee has no date they started working or joined (0 days); in_lieu, time off "
                    "in lieu: the days rest-day overtime approved so banked up to the year's end (half a day for every 4 "
                    "hours), less those taken in the years before; forfeited, statutory annual leave the year does not "
                    "give (0 days) because sick leave or paid personal leave reached the figure of 《职工带薪年休假条例》 "
                    "article 4 (see forfeited_by)",
        examples=["statutory"])
    forfeited_by: Literal["sick", "personal"] | None = Field(
        description="forfeited：病假 sick 或带薪事假 personal 达到条例第四条的累计天数；否则为空 / forfeited: sick leave "
                    "(sick) or paid personal leave (personal) reached article 4's figure; empty otherwise",
        examples=["sick"])
    forfeit_reached: date | None = Field(
        description="forfeited：达到的那一天（在上一年的，表示当年已休过年休假，实施办法第八条）/ forfeited: the day it was "
                    "reached (in the year before: annual leave had been taken that year, so this year's is lost)",
        examples=["2026-04-13"])
    working_years: int | None = Field(description="statutory：当年年末（或离职日）的累计工作年限 / statutory: full years of "
                                                   "working life at the year's end (or the leaving day)", examples=[12])
    carried: str = Field(description="从上一年结转来的天数（假别不结转为 0）/ days carried over from the year before (0 for "
                                     "a type that does not carry over)", examples=["2"])
    carried_until: date | None = Field(description="结转天数的最后一天，之后作废；无结转为空 / the carried days' last day, "
                                                   "after which they lapse; empty when nothing was carried",
                                       examples=["2027-03-31"])
    carried_left: str = Field(description="结转天数还剩多少（过期后为 0）；剩余已含这部分 / carried days not yet taken (0 "
                                          "once lapsed); left includes them", examples=["1"])
    banked_hours: str = Field(description="in_lieu：到当年年末批为调休的加班小时数（其他假别为 0）/ in_lieu: hours of "
                                          "overtime approved as time off in lieu up to the year's end (0 for other "
                                          "types)", examples=["12.5"])
    in_lieu_lapsing_on: date | None = Field(
        description="in_lieu：下一个到期日（调休有效期内，之后没休的过期计薪）；无则为空 / in_lieu: the next last day of banked "
                    "hours still to take (after it they lapse and are paid); empty when none lapses", examples=["2026-06-07"])
    in_lieu_lapsing_hours: str = Field(description="in_lieu：那天后过期的小时数 / in_lieu: the hours that lapse after it",
                                       examples=["5"])
    in_lieu_lapsed_hours: str = Field(description="in_lieu：当年到期未休、按加班计薪的小时数 / in_lieu: hours that lapsed "
                                                  "untaken in the year, paid as overtime", examples=["4"])
    taken: str = Field(description="已批请假占用的天数 / days of approved leave", examples=["3"])
    waiting: str = Field(description="待批请假占用的天数 / days held by leave waiting for approval", examples=["0.5"])
    left: str = Field(description="剩余天数，可能为负（额度下调后）/ days left; negative when the allowance was lowered "
                                  "below what was approved", examples=["6.5"])


class BalancePage(Schema):
    items: list[BalanceOut] = Field(description="每人每个有额度的假别一行；一页按工号排列若干员工 / one row per employee and "
                                                "leave type that keeps an allowance; a page holds some employees, "
                                                "by number")
    next_cursor: str | None = Field(None, description=NEXT, examples=[None])


class OvertimeDecisionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "in_lieu"] = Field(
        description="approve：批准，计薪；reject：拒绝，只记录不计薪；in_lieu：批为调休，不计薪，每 4 小时折半天调休假（只适用于休息日"
                    "加班，且须有调休假别）。审批人为令牌的用户，写入审计日志 / approve: paid; reject: recorded, not paid; "
                    "in_lieu: approved as time off in lieu, not paid, half a day of the leave type for time off in lieu "
                    "for every 4 hours (rest-day overtime only, and only where such a leave type exists). The token's "
                    "user decides, and the decision is written to the audit log", examples=["approve"])
    minutes: int | None = Field(
        None, ge=1, le=2880,
        description="审批人看到的加班分钟数；此后重新计算改变了分钟数时返回 409，请重新读取后再审批 / the overtime minutes the "
                    "person deciding was shown: when a recompute changed them since, the answer is 409 and the decision "
                    "is not taken (read the record again). Leave it out only where nobody was shown the minutes",
        examples=[90])


class MakeupPage(Schema):
    items: list[MakeupOut]
    next_cursor: str | None = Field(None, description=NEXT, examples=[None])



# -- shift changes and swaps (调班, 换班) -------------------------------------------------------------------------
class ShiftChangeOut(Schema):
    id: int = Field(description="调班编号 / shift change id", examples=[17])
    employee_number: str = Field(description="提出的员工的工号 / number of the employee who asked", examples=NUMBER_EX)
    employee_name: str = Field(description="姓名 / name", examples=NAME_EX)
    site: str = Field(description="站点代码 / site code", examples=SITE_EX)
    department: str = Field(description="部门名称，无则为空 / department name, empty when none", examples=DEPT_EX)
    start: str = Field(description="第一天（站点当地日期）/ first day, the site's local day", examples=["2026-03-07"])
    end: str = Field(description="最后一天（含）；换班只有一天 / last day, inclusive; a swap is one day",
                     examples=["2026-03-07"])
    shift: str | None = Field(description="这些天改上的班次名称，空（null）为休息 / the shift the employee works on those "
                                          "days instead; null: rests", examples=["白班 Day"])
    was: str = Field(description="提交时的排班：班次名称，空为休息；各天不同时逐日列出（如 03-07 休息 rest; 03-09 day）/ the "
                                 "schedule when asked: the shift's name, empty for rest; day by day when the days "
                                 "differed (03-07 休息 rest; 03-09 day)", examples=["day"])
    partner: str | None = Field(description="换班同事的工号；调班为空 / the colleague's number for a swap; null for a "
                                            "change", examples=[None])
    partner_shift: str | None = Field(description="换班同事那天改上的班次（即员工原来的班次），空为休息 / for a swap, the "
                                                  "shift the colleague works that day (the employee's own); null: the "
                                                  "colleague rests", examples=[None])
    partner_answer: Literal["asked", "agreed", "declined"] | None = Field(
        description="换班同事的答复：asked 待同事同意、agreed 已同意（等待审批）、declined 已拒绝（换班随之被拒）；调班为空 / "
                    "the colleague's answer to a swap: asked (waiting for them), agreed (now waiting for a decision), "
                    "declined (the swap is rejected); null for a change", examples=[None])
    reason: str = Field(description="事由 / reason", examples=["赶货 Rush order"])
    state: Literal["pending", "approved", "rejected", "withdrawn"] = Field(
        description="待批、已批、已拒、员工已撤回 / pending, approved, rejected, withdrawn by the employee",
        examples=["pending"])
    approved_by: str = Field(description="审批人；同事拒绝换班时为同事，撤回时为员工本人；待批为空 / who decided: the "
                                        "colleague for a swap they declined, the employee for a withdrawn one; empty "
                                        "while pending", examples=[""])
    approved_at: str | None = Field(None, description=STAMP, examples=[None])
    created_at: str = Field(description=f"提交时间 / when it was asked; {STAMP}", examples=["2026-03-04T01:00:00.000000Z"])


class ShiftChangePage(Schema):
    items: list[ShiftChangeOut]
    next_cursor: str | None = Field(None, description=NEXT, examples=[None])


class ShiftChangeIn(Schema):
    """A shift change (调班) or a swap (换班) the token's own employee asks for, pending until decided: either
    ``start``, ``end`` and ``shift`` (a change), or ``day`` and ``partner`` (a swap), with a ``reason``."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    _text = field_validator("*", mode="after")(no_nul)

    start: date | None = Field(None, description="调班：第一天（站点当地日期）/ a change: its first day, the site's local "
                                                 "day", examples=["2026-03-07"])
    end: date | None = Field(None, description="调班：最后一天（含），一次最多 31 天 / a change: its last day, inclusive; "
                                               "31 days at most", examples=["2026-03-07"])
    shift: str | None = Field(None, max_length=100,
                              description="调班：这些天改上的班次名称；null 表示休息（必须写出）/ a change: the name of the "
                                          "shift to work on those days; null to rest (send it: leaving it out is "
                                          "refused)", examples=["白班 Day"])
    day: date | None = Field(None, description="换班：哪一天 / a swap: the day", examples=[None])
    partner: str | None = Field(None, max_length=32,
                                description="换班：同一站点在职同事的工号；先由同事同意，再由经理或人事审批 / a swap: the "
                                            "number of an active colleague of the same site, who agrees first; a "
                                            "manager or HR decides after", examples=[None])
    reason: str = Field(min_length=1, max_length=500, description="事由（必填）/ the reason, required",
                        examples=["赶货 Rush order"])


class SwapAnswerIn(Schema):
    model_config = ConfigDict(extra="forbid")

    agree: bool = Field(strict=True, description="true：同意换班（等待审批）；false：拒绝（换班随之被拒）/ true: agree to the "
                                                 "swap (it then waits for a decision); false: decline (the swap is "
                                                 "rejected)", examples=[True])


# -- overtime asked for (加班申请) -------------------------------------------------------------------------------
class OvertimeRequestOut(Schema):
    id: int = Field(description="加班申请编号 / overtime request id", examples=[23])
    employee_number: str = Field(description="工号 / employee number", examples=NUMBER_EX)
    employee_name: str = Field(description="姓名 / name", examples=NAME_EX)
    site: str = Field(description="站点代码 / site code", examples=SITE_EX)
    department: str = Field(description="部门名称，无则为空 / department name, empty when none", examples=DEPT_EX)
    date: str = Field(description="加班日期：班次开始的那天（站点当地）/ the day of the overtime: the day the shift starts, "
                                  "the site's local day, as records are dated", examples=["2026-03-06"])
    minutes: int = Field(description="申请的加班分钟数；批准后这天不超过它的加班无需再审批 / the overtime minutes asked for; "
                                     "once approved, the day's overtime up to this long needs no second decision",
                         examples=[120])
    reason: str = Field(description="事由 / reason", examples=["赶货 Rush order"])
    in_lieu: bool = Field(description="调休：批准后这天的休息日加班记为调休（overtime_state 为 in_lieu）而不计薪 / time off "
                                      "in lieu: once approved, the day's rest-day overtime is taken as time off "
                                      "(overtime_state in_lieu), not paid", examples=[False])
    state: Literal["pending", "approved", "rejected", "withdrawn"] = Field(
        description="待批、已批、已拒、员工已撤回 / pending, approved, rejected, withdrawn by the employee",
        examples=["pending"])
    approved_by: str = Field(description="审批人（撤回时为员工本人）；待批为空 / who decided (the employee, for a withdrawn "
                                         "one); empty while pending", examples=[""])
    approved_at: str | None = Field(None, description=f"审批或撤回时间 / when it was decided or withdrawn; {STAMP}",
                                    examples=[None])
    created_at: str = Field(description=f"提交时间 / when it was asked; {STAMP}", examples=["2026-03-04T01:00:00.000000Z"])


class OvertimeRequestPage(Schema):
    items: list[OvertimeRequestOut]
    next_cursor: str | None = Field(None, description=NEXT, examples=[None])


class OvertimeRequestIn(Schema):
    """Overtime (加班申请) the token's own employee asks for on a day, ahead or soon after, pending until decided."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    _text = field_validator("*", mode="after")(no_nul)

    date: Day = Field(description=f"加班日期：班次开始的那天（站点当地日期），最多提前 {OVERTIME_AHEAD_DAYS} 天；每人每天只能有一条"
                                  f"待批或已批的申请 / the day of the overtime: the day the shift starts, the site's local "
                                  f"day, at most {OVERTIME_AHEAD_DAYS} days ahead; one request waiting or approved per "
                                  "employee and day", examples=["2026-03-06"])
    minutes: int = Field(ge=OVERTIME_MIN_MINUTES, le=OVERTIME_MAX_MINUTES,
                         description=f"加班分钟数，{OVERTIME_MIN_MINUTES} 到 {OVERTIME_MAX_MINUTES}（半小时到 "
                                     f"{OVERTIME_MAX_MINUTES // 60} 小时）/ the minutes of overtime asked for, "
                                     f"{OVERTIME_MIN_MINUTES} to {OVERTIME_MAX_MINUTES} (half an hour to "
                                     f"{OVERTIME_MAX_MINUTES // 60} hours)", examples=[120])
    reason: str = Field(min_length=1, max_length=500, description="事由（必填）/ the reason, required",
                        examples=["赶货 Rush order"])
    in_lieu: bool = Field(False, description="以调休代替加班费：只用于休息日（有调休假别时），工作日和法定节假日的加班须计薪 / time off "
                                             "in lieu instead of pay (调休): for a rest day only, where a leave type "
                                             "keeps it; overtime after a working day or on a public holiday is paid",
                          examples=[False])


# -- reports -----------------------------------------------------------------------------------------
class ReportInfo(Schema):
    name: str = Field(description="报表名（用于 URL）/ the report's name, as in the URL", examples=["monthly"])
    title: str = Field(description="标题 / title", examples=["考勤月报 Monthly attendance sheet"])
    description: str = Field(description="说明 / what it holds",
                             examples=["每人一行、每天一列的状态符号与合计 / one row per employee, a symbol per day, "
                                       "then the totals"])
    formats: list[str] = Field(description="可下载的格式 / file formats", examples=[["xlsx", "pdf", "csv"]])
    max_days: int = Field(description="一次最多天数 / at most this many days per report", examples=[62])


class ColumnOut(Schema):
    key: str = Field(description="列键（rows 中的键）/ column key, the key in each row", examples=["number"])
    title: str = Field(description="列标题 / column title", examples=["工号 Number"])
    kind: Literal["text", "int", "decimal", "percent", "date", "datetime", "symbol"] = Field(
        description="值的类型：decimal 为字符串，percent 为 0–1 的数，date/datetime 为 ISO 文本（站点当地时间）/ "
                    "value kind: decimal values are strings (\"7.50\"), percent a number 0–1, date and datetime ISO "
                    "text in the site's local time", examples=["text"])


class PartOut(Schema):
    key: str = Field(description="部分键 / part key", examples=["sheet"])
    title: str = Field(description="部分标题（工作表名）/ part title, the sheet's name", examples=["月报 Monthly"])
    columns: list[ColumnOut]
    rows: list[dict[str, Any]] = Field(
        description="每行一个对象，键为列键 / one object per row, keyed by column key; Decimal as strings, "
                    "dates ISO", examples=[[{"number": "A001", "name": "张三", "hours": "168.00"}]])
    totals: dict[str, Any] = Field(description="合计行：求和列的和 / the totals row: the sum of each summed column",
                                   examples=[{"hours": "1260.50"}])


class LegendOut(Schema):
    symbol: str = Field(description="符号 / symbol", examples=["✓"])
    label: str = Field(description="含义 / meaning", examples=["出勤 Present"])


class ReportOut(Schema):
    name: str = Field(description="报表名 / report name", examples=["monthly"])
    title: str = Field(description="标题 / title", examples=["考勤月报 Monthly attendance sheet"])
    company: str = Field(description="公司 / company", examples=["Seed"])
    scope: str = Field(description="范围 / scope", examples=["站点 Site: 上海工厂"])
    first: str = Field(description="开始日期 / first day", examples=["2026-03-01"])
    last: str = Field(description="结束日期（含）/ last day, inclusive", examples=["2026-03-31"])
    generated_at: str = Field(description="生成时间 / when it was made, ISO", examples=["2026-04-01T09:30:00+08:00"])
    legend: list[LegendOut] = Field(description="符号说明 / what the symbols mean")
    notes: list[str] = Field(description="附注 / notes", examples=[[]])
    parts: list[PartOut]


class ClosedMonthOut(Schema):
    site: str = Field(description="站点代码 / site code", examples=SITE_EX)
    month: str = Field(description="月份 YYYY-MM（站点当地）/ the month, the site's local calendar", examples=["2026-03"])
    closed_at: str = Field(description=f"月结时间 / when it was closed; {STAMP}", examples=["2026-04-04T02:00:00.000000Z"])
    closed_by: str = Field(description="月结人 / who closed it", examples=["hr"])
    note: str = Field(description="月结备注 / the note given when closing", examples=["三月工资已核 March payroll checked"])
    held_changes: int = Field(description="月结后规则算出但未写入的变化（如终端在等待期后补传的打卡），重新开放后才生效；"
                                          "最多计 1000 / changes the rules found after closing and did not write (punches "
                                          "a terminal delivered after the wait ran out): reopening lets them in; counted "
                                          "up to 1000", examples=[2])


class ClosedMonthList(Schema):
    items: list[ClosedMonthOut] = Field(description="已月结的月份，新的在前 / closed months, newest first")


MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class MonthConfirmationIn(Schema):
    """The token's own employee's word on a month that is over (考勤确认): it is right, or what is wrong with it."""
    model_config = ConfigDict(extra="forbid")
    _text = field_validator("*", mode="after")(no_nul)

    month: str = Field(pattern=MONTH, description="月份 YYYY-MM（须已过完）/ the month, YYYY-MM, once it is over",
                       examples=["2026-03"])
    state: Literal["confirmed", "disputed"] = Field(description="confirmed 确认无误，disputed 有异议 / right, or not",
                                                    examples=["confirmed"])
    note: str = Field("", max_length=500, description="有异议时必填：哪里不对 / what is wrong, required for a dispute",
                      examples=[""])


class MonthConfirmationOut(Schema):
    employee_number: str = Field(description="工号 / employee number", examples=NUMBER_EX)
    employee_name: str = Field(description="姓名 / name", examples=NAME_EX)
    site: str = Field(description="站点代码 / site code", examples=SITE_EX)
    month: str = Field(description="月份 YYYY-MM / the month", examples=["2026-03"])
    state: Literal["confirmed", "disputed", "answered"] = Field(
        description="confirmed 已确认，disputed 有异议（待人事答复），answered 人事已答复 / confirmed, disputed (waiting for "
                    "HR's answer), answered by HR", examples=["confirmed"])
    note: str = Field(description="员工写的异议 / what the employee said is wrong", examples=[""])
    at: str = Field(description=f"员工确认或提出异议的时间 / when the employee confirmed or disputed; {STAMP}",
                    examples=["2026-04-02T02:00:00.000000Z"])
    answer: str = Field(description="人事的答复 / HR's answer", examples=[""])
    answered_by: str = Field(description="答复人 / who answered", examples=[""])
    answered_at: str | None = Field(None, description=f"答复时间 / when; {STAMP}", examples=[None])


class MonthConfirmationPage(Schema):
    items: list[MonthConfirmationOut]
    next_cursor: str | None = Field(None, description=NEXT, examples=[None])

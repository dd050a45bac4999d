"""What HR sets (shifts, rotations, assignments, calendars, leave, policies) and what the engine makes (daily records).

The rules themselves live in :mod:`central.attendance.engine`; :mod:`central.attendance.inputs`
turns these rows into its plain data, and :mod:`central.attendance.services` writes its records back.
"""
from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MINUTES = [MinValueValidator(0), MaxValueValidator(24 * 60)]
HOURS = [MinValueValidator(0), MaxValueValidator(24)]


class OvertimeRule(models.Model):
    name = models.CharField(_("名称 Name"), max_length=100, unique=True)
    min_minutes = models.PositiveIntegerField(_("起算分钟 Minimum minutes"), default=30, validators=MINUTES,
                                              help_text=_("少于此不计加班 / Less than this is not overtime"))
    step_min = models.PositiveIntegerField(_("取整分钟 Step (minutes)"), default=30, validators=[MinValueValidator(1)],
                                           help_text=_("向下取整到此步长 / Rounded down to this step"))
    before_start = models.BooleanField(_("上班前计加班 Count before start"), default=False)
    requires_approval = models.BooleanField(_("需审批 Needs approval"), default=True)
    listed_only = models.BooleanField(_("仅白名单 Overtime list only"), default=False,
                                      help_text=_("只给加班白名单上的员工计薪 / Only employees on the overtime list are paid"))

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ShiftType(models.Model):
    HOURS_RULES = [("first_last", _("首末打卡 First in to last out")), ("pairs", _("成对累计 Sum of in/out pairs"))]
    DIRECTIONS = [("alternate", _("交替进出 Alternate in/out")), ("as_punched", _("按设备方向 As punched"))]
    ROUNDING = [("up", _("向上 Up")), ("down", _("向下 Down")), ("nearest", _("四舍五入 Nearest"))]
    name = models.CharField(_("名称 Name"), max_length=100, unique=True)
    start = models.TimeField(_("上班 Start"))
    end = models.TimeField(_("下班 End"), help_text=_("早于上班时间即次日下班 / Before the start: ends the next day"))
    checkin_before_min = models.PositiveIntegerField(_("提前打卡分钟 Check-in from (min before)"), default=60, validators=MINUTES)
    checkout_after_min = models.PositiveIntegerField(_("延后打卡分钟 Check-out until (min after)"), default=120, validators=MINUTES)
    late_grace_min = models.PositiveIntegerField(_("迟到宽限 Late grace (min)"), null=True, blank=True, default=5, validators=MINUTES)
    early_grace_min = models.PositiveIntegerField(_("早退宽限 Early grace (min)"), null=True, blank=True, default=0, validators=MINUTES)
    flex_min = models.PositiveIntegerField(
        _("弹性上班（分钟） Flexible start (min)"), default=0, validators=MINUTES,
        help_text=_("0：固定上班。大于 0：可在上班时间前后这么多分钟内开始，下班随之提前或推后（早到早走、晚到晚走），超出才算迟到 / 0: a "
                    "fixed start. Above 0: the day may begin this many minutes before or after the start and then ends "
                    "as much earlier or later; late only beyond it"))
    hours = models.CharField(_("工时算法 Hours"), max_length=12, choices=HOURS_RULES, default="first_last")
    direction = models.CharField(_("进出方向 Direction"), max_length=12, choices=DIRECTIONS, default="alternate")
    half_day_below_h = models.DecimalField(_("半天阈值 Half day below (h)"), max_digits=4, decimal_places=2, null=True,
                                           blank=True, validators=HOURS)
    absent_below_h = models.DecimalField(_("缺勤阈值 Absent below (h)"), max_digits=4, decimal_places=2, null=True, blank=True,
                                         validators=HOURS)
    count_on_holidays = models.BooleanField(_("节假日计考勤 Count on holidays"), default=False)
    breaks = models.JSONField(_("休息 Breaks"), default=list, blank=True,
                              help_text=_('如 [{"start": "12:00", "end": "13:00"}] / e.g. [{"start": "12:00", "end": "13:00"}]'))
    rounding_min = models.PositiveIntegerField(_("打卡取整分钟 Punch rounding (min)"), null=True, blank=True,
                                               validators=[MinValueValidator(1), MaxValueValidator(60)])
    rounding_in = models.CharField(_("上班取整 In rounding"), max_length=8, choices=ROUNDING, default="up")
    rounding_out = models.CharField(_("下班取整 Out rounding"), max_length=8, choices=ROUNDING, default="down")
    overtime = models.ForeignKey(OvertimeRule, null=True, blank=True, on_delete=models.PROTECT, related_name="shifts",
                                 verbose_name=_("加班规则 Overtime rule"))
    color = models.CharField(_("颜色 Colour"), max_length=7, default="#3b82f6")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "name"]

    def __str__(self) -> str:
        return f"{self.name} {self.start:%H:%M}–{self.end:%H:%M}"


class Rotation(models.Model):
    name = models.CharField(_("名称 Name"), max_length=100, unique=True)
    anchor = models.DateField(_("起始日 Anchor date"), help_text=_("规律的第 1 天 / Day 1 of the pattern"))
    pattern = models.JSONField(_("规律 Pattern"), default=list,
                               help_text=_("每天的班次编号，null 为休息 / A shift id per day, null for rest"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Assignment(models.Model):
    """An employee, or a whole department, on a shift or a rotation from ``start`` to ``end`` (inclusive)."""
    employee = models.ForeignKey("people.Employee", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="assignments", verbose_name=_("员工 Employee"))
    department = models.ForeignKey("people.Department", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="assignments", verbose_name=_("部门 Department"))
    shift = models.ForeignKey(ShiftType, null=True, blank=True, on_delete=models.PROTECT, related_name="assignments",
                              verbose_name=_("班次 Shift"))
    rotation = models.ForeignKey(Rotation, null=True, blank=True, on_delete=models.PROTECT, related_name="assignments",
                                 verbose_name=_("轮班 Rotation"))
    start = models.DateField(_("开始 From"))
    end = models.DateField(_("结束 To"), null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(employee__isnull=False, department__isnull=True)
                                   | Q(employee__isnull=True, department__isnull=False), name="assignment_one_holder"),
            models.CheckConstraint(condition=Q(shift__isnull=False, rotation__isnull=True)
                                   | Q(shift__isnull=True, rotation__isnull=False), name="assignment_one_schedule"),
            models.CheckConstraint(condition=Q(end__isnull=True) | Q(end__gte=models.F("start")), name="assignment_dates"),
        ]
        indexes = [models.Index(fields=["employee", "start"]), models.Index(fields=["department", "start"])]


class AttendanceProfile(models.Model):
    """Per-employee attendance terms: dates of employment, default shift, and the seed's two policies."""
    employee = models.OneToOneField("people.Employee", on_delete=models.CASCADE, related_name="attendance",
                                    verbose_name=_("员工 Employee"))
    joined = models.DateField(_("入职 Joined"), null=True, blank=True)
    work_started = models.DateField(
        _("参加工作 Started working"), null=True, blank=True,
        help_text=_("累计工作年限的起点，含以前的单位；法定年休假按它算，空则从入职算 / The start of the employee's working "
                    "life, earlier employers included: statutory annual leave counts from it; empty: from joining"))
    left = models.DateField(_("离职 Left"), null=True, blank=True, help_text=_("离职当天仍计考勤 / The leaving day still counts"))
    default_shift = models.ForeignKey(ShiftType, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("默认班次 Default shift"))
    exempt = models.BooleanField(_("免打卡 Exempt from punching"), default=False,
                                 help_text=_("高管免刷：每个工作日记为出勤 / Present each working day"))
    overtime_listed = models.BooleanField(_("加班白名单 On the overtime list"), default=False)


class SiteCalendar(models.Model):
    site = models.OneToOneField("people.Site", on_delete=models.CASCADE, related_name="calendar", verbose_name=_("站点 Site"))
    weekly_rest = models.JSONField(_("每周休息日 Weekly rest days"), default=list, blank=True,
                                   help_text=_("0 = 周一 … 6 = 周日 / 0 = Monday … 6 = Sunday"))
    final_wait_h = models.PositiveIntegerField(
        _("最长等待 Maximum wait (h)"), default=168, validators=[MinValueValidator(1), MaxValueValidator(24 * 90)],
        help_text=_("终端未上报时，班次结束多少小时后定稿 / Hours after a shift before its day is closed without every terminal"))
    late_allowance_times = models.PositiveSmallIntegerField(
        _("每月宽限迟到次数 Late arrivals let go a month"), default=0, validators=[MaxValueValidator(31)],
        help_text=_("每月前几次不超过下面分钟数的迟到不计迟到（人性化迟到）；0 为不宽限 / The first this many late arrivals "
                    "of a month, each no later than the minutes below, do not count as late; 0: none"))
    late_allowance_min = models.PositiveSmallIntegerField(
        _("宽限迟到分钟 Minutes let go"), default=0, validators=[MaxValueValidator(120)],
        help_text=_("每次迟到不超过这么多分钟才宽限 / A late arrival is let go only when it is this late at most"))
    makeup_per_month = models.PositiveSmallIntegerField(
        _("每月补卡次数上限 Make-up punches a month"), default=0, validators=[MaxValueValidator(31)],
        help_text=_("员工每月最多申请几次补卡，待批和已批的都算；0 为不限 / How many make-up punches an employee may ask for "
                    "a month, waiting and approved ones counted; 0: no limit"))
    makeup_within_days = models.PositiveSmallIntegerField(
        _("补卡时限（天） Make-up within (days)"), default=0, validators=[MaxValueValidator(366)],
        help_text=_("只能为这么多天内漏打的卡申请补卡；0 为不限 / A make-up punch may be asked only for a punch missed in "
                    "the last this many days; 0: no limit"))


class CalendarDay(models.Model):
    KINDS = [("holiday", _("节假日 Holiday")), ("workday", _("调休上班 Make-up working day"))]
    site = models.ForeignKey("people.Site", on_delete=models.CASCADE, related_name="calendar_days",
                             verbose_name=_("站点 Site"))
    date = models.DateField(_("日期 Date"))
    kind = models.CharField(_("类型 Kind"), max_length=8, choices=KINDS, default="holiday")
    name = models.CharField(_("名称 Name"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["site", "date"], name="calendar_day_per_site")]


class LeaveType(models.Model):
    code = models.CharField(_("代码 Code"), max_length=16, unique=True)
    name = models.CharField(_("名称 Name"), max_length=100)
    paid = models.BooleanField(_("带薪 Paid"), default=True)
    counts_rest_days = models.BooleanField(
        _("按自然日 Counts rest days and holidays"), default=False,
        help_text=_("关：只占工作日（年假、事假、病假）；开：休息日和节假日也算（产假）/ "
                    "off: only working days are taken off (annual, personal, sick leave); "
                    "on: rest days and holidays count too (maternity leave)"))
    yearly_days = models.DecimalField(
        _("每年额度（天） Days a year"), max_digits=4, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(366)],
        help_text=_("每人每个日历年可请的天数，超出的请假会被拒绝；空：不限。可在员工的月度页为个人另设 / days each employee may "
                    "take in a calendar year, a leave beyond them is refused; empty: no limit. An employee's own "
                    "allowance is set on their month page"))
    needs_evidence = models.BooleanField(
        _("需附证明 Evidence required"), default=False,
        help_text=_("员工请这种假须附证明（如病假条的照片），可在提交后补交，补交前不能批准；人事登记的请假不需要 / an employee's "
                    "leave of this type needs evidence (a photo of a sick note, say), which may follow the request: it "
                    "is approved only once attached. Leave HR records needs none"))
    statutory = models.BooleanField(
        _("法定年休假 Statutory annual leave"), default=False,
        help_text=_("按累计工作年限：满 1 年 5 天，满 10 年 10 天，满 20 年 15 天；入职、离职和跨档的年份按日历天数折算，"
                    "不足 1 天不计 / by years of working life: 5 days from 1 year, 10 from 10, 15 from 20; the years of "
                    "joining, leaving and reaching a new tier by their share of calendar days, rounded down to whole days"))
    in_lieu = models.BooleanField(
        _("调休假 Time off in lieu"), default=False,
        help_text=_("额度来自审批为调休的休息日加班：每 4 小时半天，不设每年额度、不结转；只能有一个这样的假别 / the days come "
                    "from rest-day overtime approved as time off in lieu: half a day for every 4 hours, no days a year, "
                    "nothing carried over; one leave type at most is this"))
    in_lieu_months = models.PositiveSmallIntegerField(
        _("调休有效期（月） Time off in lieu lasts (months)"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
        help_text=_("调休假：加班那天起这么多个月内休（到第 N 个月的同一天），先休快到期的；"
                    "到期没休的按休息日加班计薪（劳动法第四十四条），记入那个月工资表的未休调休小时。空：一直保留到休完 / "
                    "time off in lieu: taken within this many months "
                    "of the overtime's day (through the same day N months on), the soonest to lapse first; what lapses "
                    "untaken is paid as rest-day overtime (劳动法 article 44), in that month's payroll as in-lieu hours "
                    "not taken. Empty: kept until taken"))
    on_duty = models.BooleanField(
        _("公出 On duty away"), default=False,
        help_text=_("出差、外出办事、外勤：批准后这些工作日算出勤（工时按班次计，不算迟到、早退或缺勤），不占请假天数，"
                    "报表单列；不设每年额度、不结转 / business trips, errands, field work: once approved, those working days "
                    "count as worked (hours from the shift, never late, early or absent), are not leave, and have their "
                    "own columns in the reports; no days a year, nothing carried over"))
    FORFEITS = [("", _("不影响 No")), ("sick", _("病假 Sick leave")), ("personal", _("事假（带薪） Personal leave, paid"))]
    forfeits_annual = models.CharField(
        _("影响法定年休假 Counts against statutory annual leave"), max_length=8, choices=FORFEITS, blank=True, default="",
        help_text=_("《职工带薪年休假条例》第四条：一年内病假累计满 2 个月（工龄满 10 年 3 个月，满 20 年 4 个月）或带薪事假累计满 "
                    "20 天，当年不享受法定年休假；当年年休假已休过的，不享受下一年的 / 《职工带薪年休假条例》 article 4: sick "
                    "leave reaching 2 months in a year (3 months from 10 years of working life, 4 from 20), or paid "
                    "personal leave reaching 20 days, forfeits that year's statutory annual leave; when some of it was "
                    "already taken, the next year's"))
    carry_over_days = models.DecimalField(
        _("结转上限（天） Days carried over, at most"), max_digits=4, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(366)],
        help_text=_("一年没休完的额度转入下一年，最多这么多天；结转来的天数不再结转。空：不结转 / the days of a year's "
                    "allowance not taken carry into the next year, this many at most; days carried in never carry "
                    "again. Empty: nothing carries"))
    carry_over_until = models.PositiveSmallIntegerField(
        _("结转有效至次年（月底） Carried days last until the end of month"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text=_("1–12：结转来的天数在次年这个月的月底前使用，过期作废；在此之前的请假先用结转的天数。空：全年有效 / 1–12: the "
                    "carried days are taken by the end of this month of the next year and lapse after it; leave before "
                    "then takes carried days first. Empty: they last the whole year"))
    carry_over_since = models.PositiveSmallIntegerField(
        _("从哪一年开始结转 First year that carries"), null=True, blank=True,
        validators=[MinValueValidator(2000), MaxValueValidator(2100)],
        help_text=_("这一年起没休完的天数才结转（更早的年份在本系统外已结清）。空：今年 / the unused days of this year and "
                    "later carry (earlier years were settled outside the system). Empty: this year"))

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class LeaveAllowance(models.Model):
    """An employee's own allowance of a leave type for one calendar year, instead of the type's ``yearly_days`` (more
    annual leave with more years of service, days carried over)."""
    employee = models.ForeignKey("people.Employee", on_delete=models.CASCADE, related_name="leave_allowances")
    leave_type = models.ForeignKey(LeaveType, on_delete=models.CASCADE, related_name="allowances")
    year = models.PositiveSmallIntegerField(validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    days = models.DecimalField(max_digits=4, decimal_places=1, validators=[MinValueValidator(0), MaxValueValidator(366)])
    set_by = models.CharField(max_length=150)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["employee", "leave_type", "year"], name="leave_allowance_once")]


class RequestBase(models.Model):
    """What leave, make-up punches and shift changes share as requests: their state, who settled them and when
    (:func:`central.attendance.requests.settle`), and when they were filed."""
    STATES = [("pending", _("待批 Pending")), ("approved", _("已批 Approved")), ("rejected", _("已拒 Rejected")),
              ("withdrawn", _("已撤回 Withdrawn"))]
    state = models.CharField(_("状态 State"), max_length=10, choices=STATES, default="pending")
    approved_by = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class LeaveRecord(RequestBase):
    employee = models.ForeignKey("people.Employee", on_delete=models.CASCADE, related_name="leaves",
                                 verbose_name=_("员工 Employee"))
    leave_type = models.ForeignKey(LeaveType, on_delete=models.PROTECT, verbose_name=_("假别 Leave type"))
    start = models.DateField(_("开始 From"))
    end = models.DateField(_("结束 To"))
    half_day = models.BooleanField(_("半天 Half day"), default=False)
    reason = models.CharField(_("事由 Reason"), max_length=500, blank=True)

    class Meta:
        ordering = ["-start"]
        constraints = [models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="leave_dates")]


class MakeupPunch(RequestBase):
    """A punch an employee forgot, added once approved (补卡); the engine counts approved ones as punches."""
    employee = models.ForeignKey("people.Employee", on_delete=models.CASCADE, related_name="makeup_punches",
                                 verbose_name=_("员工 Employee"))
    at = models.DateTimeField(_("时间 Time"))
    direction = models.CharField(_("方向 Direction"), max_length=3, choices=[("in", _("上班 In")), ("out", _("下班 Out"))],
                                 null=True, blank=True)
    reason = models.CharField(_("事由 Reason"), max_length=500)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["employee", "at"])]


class ShiftChange(RequestBase):
    """An employee's days worked on another shift, or taken as rest, once approved (调班). With a ``partner`` named it
    is a swap of one day (换班): each works the other's shift that day, asked of the colleague first. The engine
    reads approved ones before any assignment (:attr:`engine.Assignment.changed`)."""
    ANSWERS = [("", "—"), ("asked", _("待同事同意 Waiting for the colleague")), ("agreed", _("同事已同意 Colleague agreed")),
               ("declined", _("同事已拒绝 Colleague declined"))]
    employee = models.ForeignKey("people.Employee", on_delete=models.CASCADE, related_name="shift_changes",
                                 verbose_name=_("员工 Employee"))
    start = models.DateField(_("开始 From"))
    end = models.DateField(_("结束 To"))
    shift = models.ForeignKey(ShiftType, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("改为 Work instead"), help_text=_("空：休息 / Empty: rest"))
    was = models.CharField(_("原排班 Scheduled"), max_length=200, blank=True,
                           help_text=_("提交时的排班，空为休息 / The schedule when asked, empty for rest"))
    partner = models.ForeignKey("people.Employee", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="shift_swaps", verbose_name=_("换班同事 Colleague"))
    partner_shift = models.ForeignKey(ShiftType, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("同事改为 Colleague works"))
    partner_answer = models.CharField(_("同事答复 Colleague's answer"), max_length=10, choices=ANSWERS, blank=True)
    reason = models.CharField(_("事由 Reason"), max_length=500)

    class Meta:
        ordering = ["-start", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="shift_change_dates")]
        indexes = [models.Index(fields=["employee", "start"]), models.Index(fields=["partner", "start"])]


class OvertimeRequest(RequestBase):
    """Overtime asked for before it is worked, or soon after (加班申请): ``minutes`` on ``date`` (the day the shift
    starts, as records are dated). Once approved, the overtime the engine finds on that day waits for no second
    decision while it is no longer than asked (:func:`central.attendance.pre_approval.pre_approved`); longer, it waits
    as before, with what was asked shown beside it. ``in_lieu``: the employee asks for time off in lieu instead of
    pay (调休), which only rest-day overtime can be (劳动法 第四十四条)."""
    employee = models.ForeignKey("people.Employee", on_delete=models.CASCADE, related_name="overtime_requests",
                                 verbose_name=_("员工 Employee"))
    date = models.DateField(_("加班日期 Day"))
    minutes = models.PositiveIntegerField(_("时长（分钟） Minutes"))
    reason = models.CharField(_("事由 Reason"), max_length=500)
    in_lieu = models.BooleanField(
        _("调休 Time off in lieu"), default=False,
        help_text=_("以调休代替加班费：只用于休息日加班 / Time off instead of pay: for rest-day overtime only"))

    class Meta:
        ordering = ["-date", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(minutes__gt=0), name="overtime_request_minutes")]
        indexes = [models.Index(fields=["employee", "date"])]


class DailyRecord(models.Model):
    """One per employee per shift occurrence (or per day for a record a person entered without a shift)."""
    STATUSES = [("present", _("出勤 Present")), ("absent", _("缺勤 Absent")), ("half_day", _("半天 Half day")),
                ("on_leave", _("请假 On leave"))]
    SOURCES = [("punches", _("打卡 Punches")), ("manual", _("手工 Manual")), ("leave", _("请假 Leave")),
               ("absent", _("未打卡 No punch")), ("exempt", _("免打卡 Exempt")), ("on_duty", _("公出 On duty away"))]
    KINDS = [("workday", _("工作日 Workday")), ("rest_day", _("休息日 Rest day")), ("holiday", _("节假日 Holiday"))]
    # no index of its own: the unique key (employee, date, shift) starts with it, and with two the planner took
    # the employee's alone and filtered every date of the employee (benchmarks/attendance.py)
    employee = models.ForeignKey("people.Employee", on_delete=models.CASCADE, related_name="daily_records",
                                 db_index=False)
    date = models.DateField(_("日期 Date"), help_text=_("班次开始的那天 / The day the shift starts"))
    shift_name = models.CharField(_("班次 Shift"), max_length=100, blank=True, default="")
    status = models.CharField(_("状态 Status"), max_length=10, choices=STATUSES)
    source = models.CharField(_("来源 Source"), max_length=10, choices=SOURCES)
    half_day = models.BooleanField(default=False)
    leave_type = models.ForeignKey(LeaveType, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    hours = models.DecimalField(_("工时 Hours"), max_digits=5, decimal_places=2, default=0)
    late = models.BooleanField(default=False)
    early = models.BooleanField(default=False)
    late_min = models.PositiveIntegerField(default=0)
    early_min = models.PositiveIntegerField(default=0)
    overtime_min = models.PositiveIntegerField(default=0)
    overtime_kind = models.CharField(max_length=8, choices=KINDS, default="workday")
    overtime_state = models.CharField(max_length=8, blank=True, default="")
    first_in = models.DateTimeField(null=True, blank=True)
    last_out = models.DateTimeField(null=True, blank=True)
    other_half = models.CharField(max_length=8, null=True, blank=True)
    missing_out = models.BooleanField(default=False)
    day_kind = models.CharField(max_length=8, choices=KINDS, default="workday")
    final = models.BooleanField(default=False)
    closed_by_timeout = models.BooleanField(default=False)
    punch_ids = models.JSONField(default=list, blank=True)
    reason = models.CharField(_("原因 Reason"), max_length=500, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date", "shift_name"]
        constraints = [models.UniqueConstraint(fields=["employee", "date", "shift_name"], name="daily_record_once")]
        indexes = [models.Index(fields=["date", "employee"], name="daily_record_date"),
                   # the dashboard's provisional days: the few records not final yet, without reading the final ones
                   models.Index(fields=["date"], condition=models.Q(final=False), name="daily_record_provisional"),
                   # and its late arrivals and missing out punches of today and yesterday
                   models.Index(fields=["date"], condition=models.Q(late=True) | models.Q(missing_out=True),
                                name="daily_record_late_missing")]

    def __str__(self) -> str:
        return f"{self.employee_id} {self.date} {self.shift_name} {self.status}"


class RecomputeJob(models.Model):
    """A recompute of daily records too large to finish before a page answers: a console edit of a shift, rotation,
    overtime rule, assignment or calendar that many employees share. The attendance follower (``seed-central run``)
    works through it between its passes over new punches, a chunk of employees at a time, and the console shows how
    far it has come (:func:`central.attendance.services.run_queued`). The follower queues its own too: days turning
    final (routine, not shown) and punches too many for one of its passes (:data:`ARRIVALS`, shown: the month pages
    are behind until it is done). An import of punches queues its recompute in the punches' own commit, and runs it
    at once when it is small (:attr:`claimed_until`)."""
    PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
    ARRIVALS = "大批打卡到达 / many punches arrived at once"
    EDIT, MANY_PUNCHES, TURNING_FINAL = "edit", "arrivals", "final"
    KINDS = [(EDIT, "a person's change (an edit, an import, a month reopened): shown"),
             (MANY_PUNCHES, "punches too many for one follower pass: shown, the month pages are behind until done"),
             (TURNING_FINAL, "the follower's own, as days turn final: routine, not shown")]
    STATES = [(PENDING, _("排队中 Queued")), (RUNNING, _("进行中 Running")), (DONE, _("完成 Done")),
              (FAILED, _("失败 Failed"))]
    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=150)
    reason = models.CharField(max_length=200, help_text="What changed, as the console said it when it was saved.")
    first = models.DateField()
    last = models.DateField()
    employees = models.JSONField(default=list, help_text="The employees' ids, ascending: done in that order.")
    total = models.PositiveIntegerField(default=0, help_text="How many ``employees`` there are (the pages show it).")
    done = models.PositiveIntegerField(default=0, help_text="How many of ``employees`` are recomputed.")
    written = models.PositiveIntegerField(default=0)
    final_changed = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(
        default=0, help_text="Changes the rules would make on days of closed months, held for HR (closing.hold).")
    state = models.CharField(max_length=8, choices=STATES, default=PENDING)
    error = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    kind = models.CharField(max_length=8, choices=KINDS, default=EDIT,
                            help_text="Why it was queued, which says whether the console shows it.")
    claimed_until = models.DateTimeField(
        null=True, blank=True,
        help_text="Set while the request that queued the job runs it itself (an import small enough to wait for): "
                  "the follower leaves the job alone until then, and finishes it after, should that request have "
                  "died half way.")

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["state", "id"], name="recompute_job_open")]

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)

    def __str__(self) -> str:
        return f"{self.reason} {self.first}..{self.last} {self.done}/{self.total} {self.state}"


class RequestEvidence(models.Model):
    """证明: the one file kept with a leave or make-up punch request (:mod:`central.attendance.evidence`)."""
    leave = models.OneToOneField(LeaveRecord, null=True, blank=True, on_delete=models.CASCADE, related_name="evidence")
    makeup = models.OneToOneField(MakeupPunch, null=True, blank=True, on_delete=models.CASCADE, related_name="evidence")
    name = models.CharField(max_length=100)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    uploaded_by = models.CharField(max_length=150)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=models.Q(leave__isnull=False, makeup__isnull=True) | models.Q(leave__isnull=True, makeup__isnull=False),
            name="evidence_of_one_request")]


class ClosedMonth(models.Model):
    """A month of one site's attendance that HR closed (月结) once every day of it was final and every request on it
    decided: its records are what payroll was paid on. The rules no longer write them (a change they would make is
    kept in ``held`` for HR to see), and leave, make-up punches, overtime decisions and records by hand on its days
    are refused until HR reopens it (:mod:`central.attendance.closing`). Reopening deletes the row (the audit log
    keeps both steps) and recomputes the month."""
    site = models.ForeignKey("people.Site", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The month's first day.")
    closed_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.CharField(max_length=150)
    note = models.CharField(max_length=500, blank=True)
    held = models.JSONField(default=list, blank=True,
                            help_text="Changes the rules found after closing and did not write (late punches from a "
                                      "terminal that missed the wait, an edited shift): one per employee, date and "
                                      "shift, the latest kept; at most HELD_KEPT.")
    late_allowance = models.JSONField(
        default=list, blank=True,
        help_text="The site's late arrivals let go a month when it was closed, [times, minutes] ([] for none): the "
                  "month is read with them whatever the setting becomes (central.attendance.late_allowance).")

    class Meta:
        ordering = ["-month", "site"]
        constraints = [models.UniqueConstraint(fields=["site", "month"], name="closed_month_once")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.month:%Y-%m}"


class MonthConfirmation(models.Model):
    """An employee's word on their own month (考勤确认) once it is over: it is right (``confirmed``), or it is not
    (``disputed``, with what is wrong) until HR answers (``answered``, with the answer); the employee may confirm an
    answered month, or dispute it again. A month with a dispute waiting for HR is not closed
    (:mod:`central.attendance.confirmations`)."""
    CONFIRMED, DISPUTED, ANSWERED = "confirmed", "disputed", "answered"
    STATES = [(CONFIRMED, _("已确认 Confirmed")), (DISPUTED, _("有异议 Disputed")), (ANSWERED, _("已答复 Answered"))]
    employee = models.ForeignKey("people.Employee", on_delete=models.CASCADE, related_name="month_confirmations")
    month = models.DateField(help_text="The month's first day.")
    state = models.CharField(max_length=10, choices=STATES)
    note = models.CharField(max_length=500, blank=True, help_text="What the employee says is wrong (a dispute).")
    at = models.DateTimeField(help_text="When the employee confirmed or disputed.")
    answer = models.CharField(max_length=500, blank=True, help_text="HR's answer to the dispute.")
    answered_by = models.CharField(max_length=150, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month", "employee_id"]
        constraints = [models.UniqueConstraint(fields=["employee", "month"], name="month_confirmation_once")]

    def __str__(self) -> str:
        return f"{self.employee_id} {self.month:%Y-%m} {self.state}"

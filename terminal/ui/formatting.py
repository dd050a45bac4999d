"""Times, dates and device facts as a person at the door reads them, in the screen's language."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from terminal.i18n import t


def local(moment: datetime, zone: str) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(ZoneInfo(zone))


def clock_text(moment: datetime, zone: str, seconds: bool = True) -> str:
    return local(moment, zone).strftime("%H:%M:%S" if seconds else "%H:%M")


def date_text(moment: datetime, zone: str, lang: str) -> str:
    day = local(moment, zone)
    return t("date.long", lang, year=day.year, day=day.day,
             weekday=t(f"weekday.{day.weekday()}", lang), month_name=t(f"month.{day.month}", lang))


def parse_stamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def stamp_text(text: str | None, zone: str, lang: str) -> str:
    """A stored UTC stamp as local 'YYYY-MM-DD HH:MM:SS', or 'never'."""
    moment = parse_stamp(text)
    if moment is None:
        return t("status.never", lang)
    return local(moment, zone).strftime("%Y-%m-%d %H:%M:%S")


def factors_text(factors: tuple[str, ...] | list[str], lang: str) -> str:
    joiner = "、" if lang == "zh" else ", "
    return joiner.join(t(f"factor.{f}", lang) for f in factors)


def method_text(method: str, lang: str) -> str:
    return " + ".join(t(f"factor.{m}", lang) for m in method.split("+") if m)


def megabytes_text(mb: Any) -> str:
    if mb is None:
        return "?"
    mb = float(mb)
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def offset_text(offset_s: Any, lang: str) -> str:
    if offset_s is None:
        return t("status.unknown", lang)
    offset = float(offset_s)
    if abs(offset) < 1:
        return f"{offset * 1000:+.0f} ms"
    return f"{offset:+.1f} s"


def health_text(value: str, lang: str) -> str:
    if value == "ok":
        return t("status.ok", lang)
    if value == "disabled":
        return t("status.disabled", lang)
    return value

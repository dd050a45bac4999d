"""Every string a person sees or hears, in Simplified Chinese (default) and English."""
from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    # punch results (screen and voice)
    "punch.in": {"zh": "{name}，上班打卡成功", "en": "{name}, clocked in"},
    "punch.out": {"zh": "{name}，下班打卡成功", "en": "{name}, clocked out"},
    "direction.in": {"zh": "上班", "en": "IN"},
    "direction.out": {"zh": "下班", "en": "OUT"},
    "refuse.already_recorded": {"zh": "{name}，一分钟内已打卡", "en": "{name}, already recorded"},
    "refuse.not_allowed": {"zh": "您无权在此设备打卡", "en": "Not allowed on this device"},
    "refuse.inactive": {"zh": "该员工已停用", "en": "This employee is inactive"},
    "refuse.unknown_employee": {"zh": "未找到该员工", "en": "Employee not found"},
    "refuse.storage_full": {"zh": "存储已满，打卡未记录，请联系管理员", "en": "Storage full, punch not recorded. Please call an admin"},
    "refuse.storage_error": {"zh": "存储故障，打卡未记录，请联系管理员", "en": "Storage error, punch not recorded. Please call an admin"},
    "refuse.not_recognised": {"zh": "未识别，请重试", "en": "Not recognised, please try again"},
    "refuse.not_live": {"zh": "未检测到活体，请眨眼", "en": "Not live, please blink"},
    "refuse.tailgating": {"zh": "请一次一人", "en": "One at a time, please"},
    "refuse.unknown_card": {"zh": "未登记的卡", "en": "Card not registered"},
    "refuse.wrong_pin": {"zh": "密码错误", "en": "Wrong PIN"},
    "refuse.pin_locked": {"zh": "密码已锁定，请稍后再试", "en": "PIN locked, try again later"},
    "refuse.unknown_finger": {"zh": "指纹未识别", "en": "Fingerprint not recognised"},
    "refuse.second_factor_timeout": {"zh": "验证超时，请重新开始", "en": "Timed out, please start again"},
    "refuse.wrong_factor": {"zh": "验证方式不符", "en": "This method is not enabled for you"},
    "refuse.not_admin": {"zh": "您不是管理员", "en": "You are not an admin"},
    "hint.try_other": {"zh": "请使用指纹、卡或密码", "en": "Please use fingerprint, card or PIN"},
    "hint.call_admin": {"zh": "请联系管理员", "en": "Please contact an admin"},
}


def t(key: str, language: str = "zh", **params: object) -> str:
    """The text for ``key`` in ``language`` (English when a translation is missing)."""
    entry = TEXTS.get(key)
    if entry is None:
        return key
    template = entry.get(language) or entry["en"]
    return template.format(**params) if params else template

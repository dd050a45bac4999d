"""What a person reads for a terminal event's kind (Chinese; English through the console's catalogue)."""
from __future__ import annotations

from django.utils.translation import gettext as _


def event_label(kind: str) -> str:
    """The words for ``kind``; an unknown kind stands as it is."""
    labels = {
        "tailgating": _("尾随"), "spoof": _("假体攻击"), "spoof_attempt": _("假体攻击"), "spoof_suspected": _("假体攻击"),
        "unknown_face": _("陌生人脸"), "unknown_card": _("未知卡片"), "unknown_finger": _("未知指纹"),
        "clock_jump": _("时钟跳变"), "clock_offset": _("时钟偏差"), "tamper": _("防拆报警"), "disk_low": _("存储空间不足"),
        "camera_gone": _("摄像头断开"), "camera_back": _("摄像头恢复"),
        "fingerprint_lost": _("指纹模块断开"), "fingerprint_back": _("指纹模块恢复"),
        "hardware_missing": _("硬件缺失"), "face_unavailable": _("人脸识别不可用"), "pin_lockout": _("密码锁定"),
        "roster_applied": _("名册已更新"), "command_refused": _("命令被拒绝"), "message_refused": _("消息被拒绝"),
        "sync_rejected": _("同步被拒绝"),
    }
    return labels.get(kind, kind)

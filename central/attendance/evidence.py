"""证明 Evidence attached to a leave or make-up punch request: a photo of a sick note, a screenshot, a PDF.

A file is judged by its bytes, never by its name or the type the browser claims: a JPEG or PNG photo, or a PDF, at
most 5 MB. Photos are decoded and saved again, turned upright by their EXIF orientation and at most 2,000 pixels
on their longer side: the copy kept carries no metadata, so no GPS position, camera or time from the phone is
stored or shown. A photo whose pixels would not fit in memory is refused before it is decoded. PDFs are kept as
they are and only ever downloaded, never shown inside the console.

Kept in the database (:class:`~central.attendance.models.RequestEvidence`, one per request): committed or not
together with the request, in every backup of the database, and gone with the request's employee when their data
are purged. Each look at someone else's evidence is written to the audit log (a sick note is health data).

Kept no longer than needed (个人信息保护法 第十九条; a sick note is sensitive personal information, 第二十八条): once a
request is settled (approved, rejected or withdrawn), its evidence is deleted ``SEED_EVIDENCE_RETENTION_DAYS`` days
later (two years by default, as long as the pay records it stands behind; ``0`` keeps it until the employee's data
are deleted), by :func:`purge_expired`, which ``seed-central run`` calls every hour; each deletion is audited with the
file's name and fingerprint, never its content.
"""
from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from PIL import Image, ImageOps, UnidentifiedImageError

from central.accounts import audit
from central.attendance.models import LeaveRecord, MakeupPunch, RequestEvidence
from central.attendance.services import AttendanceError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 2000  # pixels on a photo's longer side, as kept
MAX_PIXELS = 50_000_000  # a photo larger than this (decoded) is refused unread
JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
SUFFIX = {JPEG: ".jpg", PNG: ".png", PDF: ".pdf"}
TOO_LARGE = "证明文件超过 5 MB / The evidence file is larger than 5 MB"


class EvidenceError(AttendanceError):
    """A file the product does not keep as evidence, with why; on the form's ``evidence`` field."""

    def __init__(self, message: str):
        super().__init__(message, "evidence")


@dataclass(frozen=True)
class Evidence:
    """A file ready to keep: its name as shown, its type and its bytes."""
    name: str
    content_type: str
    data: bytes


def kind_of(data: bytes) -> str | None:
    """The file's type by its first bytes: JPEG, PNG, PDF, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"%PDF-"):
        return PDF
    return None


def _name(name: str, kind: str) -> str:
    """A name to show and download as: the uploaded name's last part, without control characters or path
    separators, at most 80 characters, ending in the suffix of what the file really is."""
    stem = re.sub(r"[\x00-\x1f\x7f/\\]", "", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return (stem[:80] or "evidence") + SUFFIX[kind]


def prepared(name: str, data: bytes) -> Evidence:
    """The uploaded file ``data`` (named ``name`` by the browser) as it is kept, or :class:`EvidenceError`."""
    if not data:
        raise EvidenceError("证明文件是空的 / The evidence file is empty")
    if len(data) > MAX_BYTES:
        raise EvidenceError(TOO_LARGE)
    kind = kind_of(data)
    if kind is None:
        raise EvidenceError("证明只接受 JPEG、PNG 照片或 PDF 文件 / Evidence is a JPEG or PNG photo or a PDF file")
    if kind == PDF:
        if b"%%EOF" not in data[-2048:]:
            raise EvidenceError("PDF 文件不完整 / The PDF file is incomplete")
        return Evidence(_name(name, kind), kind, data)
    return Evidence(_name(name, kind), kind, _photo(data, kind))


def _photo(data: bytes, kind: str) -> bytes:
    """The photo decoded, turned upright, scaled down to MAX_SIDE and saved again without its metadata."""
    unreadable = EvidenceError("照片无法读取：文件损坏或不完整 / The photo cannot be read: the file is damaged or incomplete")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise EvidenceError(f"照片太大：{image.width}×{image.height} 像素 / The photo is too large: "
                                        f"{image.width}×{image.height} pixels")
                if kind == JPEG:
                    image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode a large JPEG at a fraction of its size
                image.load()
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
                out = io.BytesIO()
                if kind == JPEG:
                    upright.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
                else:
                    keep = upright if upright.mode in ("1", "L", "LA", "P", "RGB", "RGBA") else upright.convert("RGBA")
                    keep.save(out, "PNG", optimize=True)
                return out.getvalue()
    except EvidenceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own limit, before ours
        raise EvidenceError("照片太大，无法读取 / The photo is too large to read") from None
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError):
        raise unreadable from None


def _kind(request: LeaveRecord | MakeupPunch) -> str:
    """The request's kind as the evidence row names its owner (``leave``, ``makeup``) and the audit log records it."""
    return "leave" if isinstance(request, LeaveRecord) else "makeup"


def _owner(request: LeaveRecord | MakeupPunch) -> dict[str, Any]:
    """The evidence row's field that names ``request``."""
    return {_kind(request): request}


def _owned(request: LeaveRecord | MakeupPunch) -> QuerySet[RequestEvidence]:
    return RequestEvidence.objects.filter(**_owner(request))


def _audited(actor: str, action: str, request: LeaveRecord | MakeupPunch, row: RequestEvidence, **detail: Any) -> None:
    """An audit entry of ``request``'s evidence ``row``: the employee and the file's name, never its content."""
    audit.record(actor, action, f"{request.employee.number} {row.name}",
                 {"request": f"{_kind(request)}:{request.pk}", **detail})


def attach(request: LeaveRecord | MakeupPunch, evidence: Evidence, actor: str) -> RequestEvidence:
    """Keep ``evidence`` with ``request`` (in the caller's transaction), in place of any kept before."""
    _owned(request).delete()
    row = RequestEvidence.objects.create(name=evidence.name, content_type=evidence.content_type,
                                         size=len(evidence.data), sha256=hashlib.sha256(evidence.data).hexdigest(),
                                         data=evidence.data, uploaded_by=actor[:150], **_owner(request))
    _audited(actor, "attendance.evidence_attached", request, row, size=row.size, sha256=row.sha256)
    return row


def of(request: LeaveRecord | MakeupPunch) -> RequestEvidence | None:
    """The evidence kept with ``request``, if any, its bytes included."""
    return _owned(request).first()


def has(request: LeaveRecord | MakeupPunch) -> bool:
    """Whether evidence is kept with ``request`` (its bytes not read)."""
    return _owned(request).exists()


def opened(user: Any, request: LeaveRecord | MakeupPunch) -> RequestEvidence | None:
    """The evidence of ``request`` for ``user`` to see (the caller checked that they see the request); a look at
    someone else's is audited."""
    row = of(request)
    if row is not None and user.employee_id != request.employee_id:
        _audited(user.username, "attendance.evidence_viewed", request, row)
    return row


PURGE_CHUNK = 200  # evidence rows deleted (and audited) per transaction


def expired(now: datetime, days: int) -> QuerySet[RequestEvidence]:
    """Evidence of requests settled ``days`` days or more before ``now``."""
    settled = now - timedelta(days=days)
    done = ("approved", "rejected", "withdrawn")
    return RequestEvidence.objects.filter(Q(leave__state__in=done, leave__approved_at__lte=settled)
                                          | Q(makeup__state__in=done, makeup__approved_at__lte=settled))


def purge_expired(now: datetime, days: int | None = None, actor: str = "system") -> int:
    """Delete the evidence whose keeping ended (``days`` after its request was settled; default the
    ``SEED_EVIDENCE_RETENTION_DAYS`` setting, 0: nothing ends), a chunk at a time, each deletion audited; returns how
    many. Safe to run from several receivers at once: a row another one deleted first is neither counted nor audited."""
    days = settings.EVIDENCE_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    purged = 0
    while True:
        rows = list(expired(now, days).select_related("leave__employee", "makeup__employee")
                    .only("pk", "name", "sha256", "size", "leave_id", "makeup_id", "leave__employee__number",
                          "leave__approved_at", "makeup__employee__number", "makeup__approved_at")[:PURGE_CHUNK])
        if not rows:
            return purged
        with transaction.atomic():
            for row in rows:
                request = row.leave or row.makeup
                assert request is not None  # the table's constraint: one of them
                if not RequestEvidence.objects.filter(pk=row.pk).delete()[0]:
                    continue
                purged += 1
                _audited(actor, "attendance.evidence_purged", request, row, sha256=row.sha256, size=row.size,
                         settled_at=request.approved_at.isoformat() if request.approved_at else None, kept_days=days)

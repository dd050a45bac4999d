"""Face templates from photos (照片导入人脸): HR uploads the staff's photos and the central computes each employee's face
templates, which the roster then carries to every terminal.

- **The upload**: a ``.zip`` of photos, or one photo. A photo belongs to the employee whose number is the name of the
  folder it is in (``E001/front.jpg``), else its file name (``E001.jpg``), else its file name without a trailing
  counter (``E001-2.jpg``, ``E001_2.jpg``, ``E001 (2).jpg``): the first of these that is an employee's number. JPEG,
  PNG, WebP, BMP or TIFF; at most :data:`MAX_PHOTOS` photos of :data:`MAX_PHOTO_BYTES` each. Other files (a
  ``Thumbs.db``, a spreadsheet) are listed as ignored.
- **The same gates as the door's enrolment** (:class:`enrollment.faces.FaceEnroller`): one face, large, sharp,
  frontal, lit, eyes open; a photo that fails says why. The templates are described as the door describes probes.
- **Checked before anything is written** (:func:`plan`): every employee needs a usable photo, their photos must show
  one person, and that face must not be another employee's already (one person cannot hold two numbers; checked
  against the stored faces of active employees and the other employees of the upload). An employee keeps the best
  :data:`MAX_TEMPLATES` photos by quality.
- **All or nothing** (:func:`apply`): while any employee is refused nothing is written; otherwise each employee's
  templates are replaced in one transaction and one roster version each, and the audit log keeps who, which file,
  which employees and how many templates (never a template).

Photos are not kept: only the templates (128 numbers each) are stored. Between the check and the import the
console keeps the templates in the user's sign-in session (:mod:`central.console.employee_photo_views`).

Library first: the console page and ``seed-central employee photos`` are thin over :func:`read_upload`,
:func:`describe`, :func:`plan` and :func:`apply`.
"""
from __future__ import annotations

import base64
import binascii
import io
import logging
import re
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import transaction

from central.accounts import audit, scope
from central.people import roster
from central.people.importing import ImportFileError
from central.people.models import Employee
from contract.roster_rules import FACE_DESCRIPTOR_BYTES as DESCRIPTOR_BYTES
from contract.roster_rules import FACE_DESCRIPTOR_DIM as DESCRIPTOR_DIM

if TYPE_CHECKING:
    from central.accounts.models import User
    from enrollment.faces import FaceEnroller

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # the .zip itself
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024  # what it holds, together (a small archive that unpacks to gigabytes)
MAX_PHOTOS = 300  # photos an upload (30-140 ms each to check on this machine: benchmarks/face_photos.py)
MAX_PHOTO_BYTES = 15 * 1024 * 1024
MAX_TEMPLATES = 5  # the best photos an employee keeps (the door's enrolment keeps 3-5 shots)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
COUNTER = re.compile(r"(?:[ _-]+\(?\d{1,2}\)?|\s*\(\d{1,2}\))$")  # "-2", "_2", " 2", " (2)", "(2)"

# why a photo cannot be used: the enrolment gates' reasons (enrollment.faces.REASON_TEXT), in both languages
REASONS = {
    "no_face": "照片里没有找到人脸 / No face found",
    "several_faces": "照片里不止一个人：只能有要登记的员工 / More than one face: only the employee may be in the photo",
    "face_too_small": "人脸太小：请用更大、更近的照片 / Face too small: use a larger, closer photo",
    "blurry": "照片模糊：请用更清晰的照片 / Blurred: use a sharper photo",
    "not_frontal": "不是正脸：请用正对镜头的照片 / Not frontal: use a photo looking straight at the camera",
    "too_dark": "脸太暗 / Face too dark",
    "too_bright": "脸过曝 / Face overexposed",
    "eyes_closed": "闭着眼睛 / Eyes closed",
    "empty": "文件是空的 / The file is empty",
    "unreadable": "不是能读取的图片（应为 JPEG、PNG、WebP、BMP 或 TIFF） / Not an image that can be read (JPEG, PNG, WebP, "
                  "BMP or TIFF expected)",
    "too_large": "图片超过 4000 万像素 / The picture is larger than 40 megapixels",
    "file_too_large": f"照片超过 {MAX_PHOTO_BYTES // 1024 // 1024} MB / The photo is over {MAX_PHOTO_BYTES // 1024 // 1024} MB",
    "damaged": "压缩包里这个文件已损坏 / This file is damaged in the archive",
    "encrypted": "压缩包里这个文件有密码，无法读取 / This file is password-protected in the archive",
}


# -- reading the upload -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Photo:
    file: str  # its path in the archive (or the uploaded file's name)
    data: bytes
    problem: str = ""  # a REASONS key when the file itself cannot be used


@dataclass(frozen=True)
class Upload:
    photos: list[Photo]
    ignored: list[str]  # files that are not photos


def numbers_of(file: str) -> list[str]:
    """The employee numbers a photo's path may name, in the order they are tried: its folder, its name, its name
    without a trailing counter."""
    path = PurePosixPath(file.replace("\\", "/"))
    found = [path.parts[-2]] if len(path.parts) >= 2 else []
    found.append(path.stem)
    cut = COUNTER.sub("", path.stem)
    if cut and cut != path.stem:
        found.append(cut)
    return [n.strip() for n in dict.fromkeys(found) if n.strip()]


def _archive_name(info: zipfile.ZipInfo) -> str:
    """The name as written: archives made on Chinese Windows store names in GB18030 without saying so."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _skipped(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def read_upload(name: str, data: bytes, *, limited: bool = True) -> Upload:
    """The photos in an uploaded ``.zip`` (or the one uploaded photo). A file that is no archive and no photo, an
    archive too large or holding too many photos (``limited``: the console's limits on one upload) raises
    :class:`ImportFileError`; a photo that cannot be read is kept with its problem, for its row."""
    suffix = Path(name).suffix.lower()
    if limited and len(data) > MAX_UPLOAD_BYTES:
        raise ImportFileError(f"文件超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB / The file is over "
                              f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB")
    if suffix in IMAGE_SUFFIXES:
        return Upload([as_photo(name, data)], [])
    if suffix != ".zip":
        raise ImportFileError("请上传 .zip 照片压缩包或一张照片 / Upload a .zip of photos, or one photo")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError("无法读取这个压缩包，请重新压缩后上传 / The .zip cannot be read: compress the photos again "
                              "and upload it") from None
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir() and not _skipped(info.filename)]
        photos = [info for info in entries if PurePosixPath(info.filename).suffix.lower() in IMAGE_SUFFIXES]
        ignored = [_archive_name(info) for info in entries if info not in photos]
        if not photos:
            raise ImportFileError("压缩包里没有照片（JPEG、PNG、WebP、BMP 或 TIFF） / The .zip holds no photos (JPEG, PNG, "
                                  "WebP, BMP or TIFF)")
        if limited and len(photos) > MAX_PHOTOS:
            raise ImportFileError(f"一次最多 {MAX_PHOTOS} 张照片（这个压缩包有 {len(photos)} 张）；更多请分批上传，或用命令 "
                                  f"seed-central employee photos / At most {MAX_PHOTOS} photos at a time (this .zip holds "
                                  f"{len(photos)}): upload them in parts, or use seed-central employee photos")
        if sum(info.file_size for info in photos) > MAX_UNPACKED_BYTES:
            raise ImportFileError("压缩包解压后太大 / The .zip unpacks to too much data")
        return Upload([_archived(archive, info) for info in photos], ignored)


def _archived(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Photo:
    file = _archive_name(info)
    if info.flag_bits & 0x1:
        return Photo(file, b"", "encrypted")
    if info.file_size > MAX_PHOTO_BYTES:
        return Photo(file, b"", "file_too_large")
    try:
        with archive.open(info) as member:
            data = member.read(MAX_PHOTO_BYTES + 1)  # the header's size may lie: never read past the limit
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError):
        return Photo(file, b"", "damaged")
    return as_photo(file, data)


def as_photo(file: str, data: bytes) -> Photo:
    """A photo from its bytes (too large: kept with that problem)."""
    if len(data) > MAX_PHOTO_BYTES:
        return Photo(file, b"", "file_too_large")
    return Photo(file, data)


def read_folder(folder: Path) -> Upload:
    """The photos in a folder and its subfolders, named as in an archive (the command line's way in)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not _skipped(str(p.relative_to(folder))))
    photos = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if not photos:
        raise ImportFileError(f"{folder} 里没有照片 / {folder} holds no photos")
    return Upload([as_photo(p.relative_to(folder).as_posix(), p.read_bytes()) if p.stat().st_size <= MAX_PHOTO_BYTES
                   else Photo(p.relative_to(folder).as_posix(), b"", "file_too_large") for p in photos],
                  [p.relative_to(folder).as_posix() for p in files if p not in photos])


# -- describing the faces (the slow part: no database) -------------------------------------------------------------
@dataclass
class Described:
    """One photo after the gates: a template when it passed. Plain data, kept between the check and the import."""

    file: str
    numbers: list[str]  # the employee numbers its path may name (numbers_of)
    reason: str = ""  # a REASONS key; "" when it passed
    quality: float = 0.0
    template: str = ""  # base64 of 128 float32 values, when it passed

    @property
    def ok(self) -> bool:
        return not self.reason

    def kept(self) -> dict[str, Any]:
        return asdict(self)


_enroller: FaceEnroller | None = None
_enroller_lock = threading.Lock()


@contextmanager
def shared_enroller() -> Iterator[FaceEnroller]:
    """The process's face enroller (its models load once, in about 3 s), used by one caller at a time."""
    global _enroller
    with _enroller_lock:
        if _enroller is None:
            from enrollment.faces import FaceEnroller

            _enroller = FaceEnroller()
        yield _enroller


def describe(upload: Upload, enroller: FaceEnroller, progress: Callable[[int, int], None] | None = None, *,
             number: str = "") -> list[Described]:
    """Each photo through the enrolment gates; a template for each that passes. With ``number``, every photo is that
    employee's whatever its name (uploaded from the employee's own page)."""
    from terminal.vision.images import ImageError, decode_image

    found: list[Described] = []
    for index, photo in enumerate(upload.photos, 1):
        item = Described(photo.file, [number] if number else numbers_of(photo.file), photo.problem)
        if not item.reason:
            try:
                shot = enroller.check(decode_image(photo.data, photo.file), photo.file)
            except ImageError as exc:
                item.reason = exc.reason if exc.reason in REASONS else "unreadable"
            else:
                if shot.ok and shot.descriptor is not None:
                    item.quality = round(float(shot.quality), 4)
                    item.template = base64.b64encode(np.asarray(shot.descriptor, np.float32).tobytes()).decode("ascii")
                else:
                    item.reason = shot.reason or "no_face"
        found.append(item)
        if progress is not None:
            progress(index, len(upload.photos))
    log.info("face photos described: %s photos, %s usable", len(found), sum(1 for d in found if d.ok))
    return found


def from_kept(kept: Sequence[dict[str, Any]]) -> list[Described]:
    return [Described(str(k["file"]), [str(n) for n in k["numbers"]], str(k["reason"]), float(k["quality"]),
                      str(k["template"])) for k in kept]


# -- what it would do ------------------------------------------------------------------------------------------
OK, SPARE, SKIPPED, ERROR = "ok", "spare", "skipped", "error"
OUTSIDE = "该员工不在您的管理范围内 / The employee is outside your scope"


@dataclass
class PhotoRow:
    line: int  # the photo's place in the upload, from 1
    file: str
    number: str = ""  # the employee it belongs to ("" when none)
    name: str = ""
    state: str = OK  # OK (a template), SPARE (usable, not among the best), SKIPPED (failed a gate), ERROR
    message: str = ""  # "中文 / English"


@dataclass
class EmployeeFaces:
    number: str
    name: str
    before: int  # templates stored now
    templates: list[str] = field(default_factory=list)  # what they will hold
    errors: list[str] = field(default_factory=list)
    rows: list[PhotoRow] = field(default_factory=list)

    def refuse(self, message: str) -> None:
        self.errors.append(message)


@dataclass
class FacePlan:
    photos: list[PhotoRow]
    employees: list[EmployeeFaces]
    ignored: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(r.state == ERROR for r in self.photos) and not any(e.errors for e in self.employees)

    @property
    def counts(self) -> dict[str, int]:
        return {"employees": sum(1 for e in self.employees if not e.errors),
                "refused": sum(1 for e in self.employees if e.errors) + sum(1 for r in self.photos if not r.number),
                "templates": sum(len(e.templates) for e in self.employees if not e.errors),
                "skipped": sum(1 for r in self.photos if r.state == SKIPPED)}

    def refusal(self) -> str:
        """Every refusal in one "中文 / English" text: the employees' own, then each photo's in error, with its file."""
        found = [(e.number, m) for e in self.employees for m in e.errors]
        found += [(f"{r.line} {r.file}", r.message) for r in self.photos if r.state == ERROR and r.message != OUTSIDE]
        zh = [f"{who}：{message.split(' / ', 1)[0]}" for who, message in found]
        en = [f"{who}: {message.split(' / ', 1)[-1]}" for who, message in found]
        return f"{'；'.join(zh)} / {'; '.join(en)}"


def _array(template: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(template), dtype=np.float32).reshape(DESCRIPTOR_DIM)


def _stored_faces(exclude: set[str]) -> tuple[list[str], np.ndarray]:
    """The stored templates of active employees (but ``exclude``) that can be read: whose each row is, and the rows
    as one matrix (read and decoded at once: 30,000 templates one by one through the gallery took 2 s,
    benchmarks/face_photos.py)."""
    numbers: list[str] = []
    blobs: list[bytes] = []
    for number, faces in Employee.objects.filter(active=True).exclude(number__in=exclude).exclude(
            faces=[]).values_list("number", "faces").iterator(chunk_size=2000):
        for face in faces or ():
            try:
                raw = base64.b64decode(face, validate=True)
            except (binascii.Error, ValueError, TypeError):
                continue
            if len(raw) == DESCRIPTOR_BYTES:
                numbers.append(number)
                blobs.append(raw)
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, DESCRIPTOR_DIM)
    with np.errstate(over="ignore", invalid="ignore"):
        usable = np.isfinite(matrix).all(axis=1)
    return [n for n, ok in zip(numbers, usable, strict=True) if ok], matrix[usable]


def plan(user: User | None, described: Sequence[Described], ignored: Sequence[str] = ()) -> FacePlan:
    """What importing ``described`` would do for ``user`` (``None``: the command line, every employee); nothing is
    written."""
    from terminal.vision.gallery import DEFAULT_THRESHOLD

    if user is not None:
        scope.require_manage(user)
    wanted = {n for d in described for n in d.numbers}
    stored = {e.number: e for e in Employee.objects.filter(number__in=wanted).only("number", "name", "faces", "active")}
    mine = set((scope.employees(user) if user is not None else Employee.objects.all()).filter(
        number__in=wanted).values_list("number", flat=True))
    rows: list[PhotoRow] = []
    groups: dict[str, EmployeeFaces] = {}
    usable: dict[str, list[tuple[Described, PhotoRow]]] = {}
    for line, item in enumerate(described, 1):
        number = next((n for n in item.numbers if n in stored), "")
        row = PhotoRow(line, item.file, number)
        rows.append(row)
        if not number:
            row.state, row.message = ERROR, (f"找不到工号为 {'、'.join(item.numbers) or '—'} 的员工（照片按文件夹名或文件名对应工号） / "
                                             f"No employee numbered {', '.join(item.numbers) or '—'} (a photo is matched "
                                             f"by its folder's or its file's name)")
            continue
        employee = stored[number]
        row.name = employee.name
        group = groups.get(number) or groups.setdefault(number, EmployeeFaces(number, employee.name, len(employee.faces or ())))
        group.rows.append(row)
        if number not in mine:
            row.state, row.message = ERROR, OUTSIDE
            if OUTSIDE not in group.errors:
                group.refuse(OUTSIDE)
            continue
        if not item.ok:
            row.state, row.message = SKIPPED, REASONS.get(item.reason, item.reason)
            continue
        usable.setdefault(number, []).append((item, row))
    for number, group in groups.items():
        good = usable.get(number, [])
        if group.errors:
            continue
        if not good:
            group.refuse("没有一张可用的照片 / No usable photo")
            continue
        _one_person(good, group, DEFAULT_THRESHOLD)
        if group.errors:
            continue
        best = sorted(good, key=lambda pair: -pair[0].quality)
        for _item, row in best[MAX_TEMPLATES:]:
            row.state, row.message = SPARE, f"已有 {MAX_TEMPLATES} 张更好的照片，这张不用 / Not used: {MAX_TEMPLATES} better photos"
        group.templates = [item.template for item, _row in best[:MAX_TEMPLATES]]
    visible = scope.employees(user) if user is not None else Employee.objects.all()
    not_anyone_else([g for g in groups.values() if g.templates and not g.errors],
                     lambda number: visible.filter(number=number).exists(), DEFAULT_THRESHOLD)
    for group in groups.values():
        if group.errors:
            group.templates = []
    return FacePlan(rows, sorted(groups.values(), key=lambda g: g.number), list(ignored))


def _one_person(good: list[tuple[Described, PhotoRow]], group: EmployeeFaces, threshold: float) -> None:
    """Every usable photo of one employee shows the same person: each near the mean of the others."""
    if len(good) < 2:
        return
    arrays = np.array([_array(item.template) for item, _row in good])
    for i, (_item, row) in enumerate(good):
        others = np.delete(arrays, i, axis=0).mean(axis=0)
        if float(np.linalg.norm(arrays[i] - others)) > threshold:
            row.state = ERROR
            row.message = "这张照片与该员工的其他照片不是同一个人 / This photo shows someone else than the employee's other photos"
    if any(row.state == ERROR for _item, row in good):
        group.refuse("照片不是同一个人：请检查文件名 / The photos show different people: check the file names")


class StoredFaces:
    """The central's face templates of active employees, read once for several checks (a batch of a door's
    enrolments); :meth:`put` keeps it current as one of them is taken."""

    def __init__(self, exclude: set[str] | None = None):
        self.owners, self.matrix = _stored_faces(exclude or set())

    def put(self, number: str, templates: Sequence[str]) -> None:
        keep = np.array([owner != number for owner in self.owners], dtype=bool)
        self.owners = [owner for owner in self.owners if owner != number] + [number] * len(templates)
        rows = [self.matrix[keep] if len(keep) else self.matrix] + [_array(t)[None, :] for t in templates]
        self.matrix = np.vstack(rows)


def not_anyone_else(groups: list[EmployeeFaces], visible: Callable[[str], bool], threshold: float,
                    stored: StoredFaces | None = None) -> None:
    """No employee's new face is another's: the mean of their new templates is farther than the door's threshold
    from every stored template of an active employee outside the upload and from every other employee's in it (the
    door's own distance, :func:`terminal.vision.gallery.pairwise_distances`). ``stored``: the templates already read
    (an employee's own there are not compared with theirs)."""
    from terminal.vision.gallery import pairwise_distances

    if not groups:
        return
    if stored is None:
        stored = StoredFaces({g.number for g in groups})
    owners, matrix = list(stored.owners), stored.matrix
    news = [(g.number, _array(t)) for g in groups for t in g.templates]
    owners += [number for number, _array_ in news]
    matrix = np.vstack([matrix, np.array([array for _number, array in news])])
    whose = np.array(owners)
    for group in groups:
        probe = np.mean([_array(t) for t in group.templates], axis=0)
        distances = pairwise_distances(probe[None, :], matrix)[0]
        distances[whose == group.number] = np.inf
        nearest = int(np.argmin(distances))
        if distances[nearest] <= threshold:
            other = str(whose[nearest])
            group.refuse(f"与员工 {other} 的人脸相同：一个人不能有两个工号 / The same face as employee {other}: one person "
                         f"cannot hold two numbers" if visible(other) else
                         "与您管理范围外一名员工的人脸相同 / The same face as an employee outside your scope")


# -- doing it ----------------------------------------------------------------------------------------------------
class FacesRefused(ValueError):
    """A plan with errors (``plan``, to show): nothing was written."""

    def __init__(self, message: str, checked: FacePlan):
        super().__init__(message)
        self.plan = checked


@dataclass(frozen=True)
class Outcome:
    employees: list[str]  # whose templates changed
    templates: int
    version: int  # the roster's version after it
    plan: FacePlan  # the check the import was made on (each photo's result)


def apply(user: User | None, described: Sequence[Described], *, source: str, actor: str = "") -> Outcome:
    """Replace the templates of the employees of ``described``, checked again now; refused whole while any photo or
    employee is refused."""
    checked = plan(user, described)
    if not checked.ok:
        bad = checked.counts["refused"]
        raise FacesRefused(f"有 {bad} 处错误，没有导入任何人脸 / {bad} problems: no face was imported", checked)
    actor = user.username if user is not None else (actor or "system")
    with transaction.atomic():
        rows = {e.number: e for e in Employee.objects.select_for_update(of=("self",)).select_related("department").filter(
            number__in=[g.number for g in checked.employees])}
        records = [roster.employee_message(rows[g.number]) | {"faces": g.templates} for g in checked.employees
                   if list(rows[g.number].faces or ()) != g.templates]
        version = roster.upsert_employees(records, actor=actor) if records else roster.current_version()
        changed = [r["number"] for r in records]
        templates = sum(len(r["faces"]) for r in records)
        audit.record(actor, "employee.faces_import", source[:200],
                     {"employees": changed, "templates": templates, "roster_version": version})
    log.info("face templates imported by %s from %s: %s employees, %s templates", actor, source, len(changed), templates)
    return Outcome(changed, templates, version, checked)


def clear_faces(user: User, employee: Employee) -> int:
    """Remove an employee's face templates (the employee withdrew consent, or the photos were wrong): every terminal
    deletes them with the next roster, those enrolled at a door too. Returns the roster's version."""
    scope.require_manage(user)
    if not scope.employees(user).filter(pk=employee.pk).exists():
        raise scope.ScopeDenied("employee outside the user's scope")
    with transaction.atomic():
        row = Employee.objects.select_for_update(of=("self",)).select_related("department").get(pk=employee.pk)
        had = len(row.faces or ())
        if row.faces_managed and not had:
            return roster.current_version()
        # an empty list, held by the central from now on: the terminals delete theirs, those enrolled at a door too
        version = roster.upsert_employees([roster.employee_message(row) | {"faces": []}], actor=user.username)
        audit.record(user.username, "employee.faces_cleared", row.number, {"templates": had, "roster_version": version})
    return version

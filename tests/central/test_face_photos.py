"""照片导入人脸 Face templates from photos: real photos of ../shared/testdata/faces zipped as HR would, each photo through
the door's enrolment gates, the employees refused for a reason a person can act on (a photo of someone else, a face
already another employee's, no usable photo, outside the user's scope, no such number), nothing written while any
is refused, and what is written checked with the terminal's own gallery on photos the import never saw; broken
archives refused with a clear message; the console page, clearing an employee's faces, and the command line."""
from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from central_support import central_cli, client_for, make_user, text_of
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from central.accounts.models import AuditEntry, Role
from central.people import face_photos, roster
from central.people.importing import ImportFileError
from central.people.models import Employee, RosterChange, Site
from contract import protocol as p
from enrollment.faces import FaceEnroller
from terminal.vision.gallery import FaceGallery
from terminal.vision.images import load_image

pytestmark = [pytest.mark.django_db, pytest.mark.faces]

SALLEY = ["000179_02159509.jpg", "000183_02159543.jpg", "000186_02159346.jpg", "000189_02159361.jpg",
          "000200_02159354.jpg"]
SAVAGE = ["000264_01099001.jpg", "000274_01099061.jpg", "000289_01099139.jpg", "000293_01099081.jpg"]  # [2] blurred
SIMM = ["000288_00470387.jpg", "000297_00470170.jpg", "000300_00470148.jpg"]
SHIMKUS = ["000375_03227651.jpg", "000376_02340068.jpg", "000388_03227773.jpg"]


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    """Site sh with E001..E006, site bj with B001; 人事 is HR admin of sh only."""
    sh = Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    Site.objects.create(code="bj", name="北京工厂", time_zone="Asia/Shanghai")
    roster.upsert_employees([{"number": f"E00{i}", "name": name, "site": "sh"}
                             for i, name in enumerate(["张三", "李四", "王五", "赵六", "钱七", "孙八"], 1)]
                            + [{"number": "B001", "name": "李雷", "site": "bj"}], actor="test")
    return {"hr": make_user("renshi", Role.HR_ADMIN, sites=[sh])}


def photo(faces_dir: Path, person: str, name: str) -> bytes:
    return (faces_dir / "people" / person / name).read_bytes()


def archive(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def described(name: str, data: bytes) -> tuple[list[face_photos.Described], list[str]]:
    upload = face_photos.read_upload(name, data)
    with face_photos.shared_enroller() as enroller:
        return face_photos.describe(upload, enroller), upload.ignored


def templates_of(number: str) -> np.ndarray:
    faces = Employee.objects.get(number=number).faces
    return np.array([np.frombuffer(base64.b64decode(f), dtype=np.float32) for f in faces])


def test_photos_become_templates_the_terminals_gallery_recognises_on_photos_it_never_saw(plant, faces_dir) -> None:
    files = {"E001.jpg": photo(faces_dir, "John_Salley", SALLEY[0]),
             "E001-2.jpg": photo(faces_dir, "John_Salley", SALLEY[1]),
             "E001 (3).jpg": photo(faces_dir, "John_Salley", SALLEY[2]),
             **{f"E002/{i}.jpg": photo(faces_dir, "John_Savage", n) for i, n in enumerate(SAVAGE[:3])},
             "Thumbs.db": b"\0" * 10, "__MACOSX/._E001.jpg": b"junk", "名单.txt": "E001 张三".encode()}
    photos, ignored = described("员工照片.zip", archive(files))
    assert ignored == ["Thumbs.db", "名单.txt"] and len(photos) == 6
    version = roster.current_version()

    checked = face_photos.plan(plant["hr"], photos, ignored)
    assert checked.ok
    states = {(r.file, r.number, r.state) for r in checked.photos}
    assert states == {("E001.jpg", "E001", "ok"), ("E001-2.jpg", "E001", "ok"), ("E001 (3).jpg", "E001", "ok"),
                      ("E002/0.jpg", "E002", "ok"), ("E002/1.jpg", "E002", "ok"), ("E002/2.jpg", "E002", "skipped")}
    blurred = next(r for r in checked.photos if r.file == "E002/2.jpg")
    assert blurred.message.startswith("照片模糊") and "Blurred" in blurred.message
    assert {(e.number, e.before, len(e.templates)) for e in checked.employees} == {("E001", 0, 3), ("E002", 0, 2)}
    assert checked.counts == {"employees": 2, "refused": 0, "templates": 5, "skipped": 1}
    assert not Employee.objects.get(number="E001").faces  # a check writes nothing

    done = face_photos.apply(plant["hr"], photos, source="员工照片.zip")
    assert sorted(done.employees) == ["E001", "E002"] and done.templates == 5 and done.version == version + 2
    assert sorted(RosterChange.objects.filter(version__gt=version).values_list("number", flat=True)) == ["E001", "E002"]
    stored = {"E001": templates_of("E001"), "E002": templates_of("E002")}
    assert stored["E001"].shape == (3, 128) and stored["E002"].shape == (2, 128)
    for number in stored:  # what a terminal is sent passes the wire contract
        p.RosterEmployee.model_validate(roster.employee_message(Employee.objects.get(number=number)))
    entry = AuditEntry.objects.get(action="employee.faces_import")
    assert entry.actor == "renshi" and entry.target == "员工照片.zip"
    assert entry.detail == {"employees": ["E001", "E002"], "templates": 5, "roster_version": version + 2}
    assert Employee.objects.get(number="E001").faces[0] not in json.dumps(entry.detail)

    # the door's matching, with a gallery of what was stored, on photos the import never saw
    gallery = FaceGallery()
    for number, arrays in stored.items():
        gallery.add(number, arrays)
    with FaceEnroller() as door:
        def who(person: str, name: str) -> str | None:
            shot = door.check(load_image(faces_dir / "people" / person / name))
            assert shot.ok and shot.descriptor is not None
            return gallery.search(shot.descriptor).identity
        assert who("John_Salley", SALLEY[4]) == "E001"
        assert who("John_Savage", SAVAGE[3]) == "E002"
        assert who("John_Shimkus", SHIMKUS[0]) is None


def test_each_refusal_names_its_reason_and_nothing_is_written(plant, faces_dir) -> None:
    face_photos.apply(plant["hr"], described("e1.zip", archive({"E001.jpg": photo(faces_dir, "John_Salley", SALLEY[0])}))[0],
                      source="e1.zip")
    before = {e.number: list(e.faces) for e in Employee.objects.all()}
    version = roster.current_version()
    files = {
        "E002.jpg": photo(faces_dir, "John_Salley", SALLEY[3]),  # E001's face under another number
        "E003-1.jpg": photo(faces_dir, "John_Simm", SIMM[0]),  # E003: two of one man and one of another
        "E003-2.jpg": photo(faces_dir, "John_Simm", SIMM[1]),
        "E003-3.jpg": photo(faces_dir, "John_Shimkus", SHIMKUS[2]),
        "E004.jpg": (faces_dir / "nonface" / "dogs.jpg").read_bytes(),  # E004: no usable photo
        "E004-2.jpg": (faces_dir / "groups" / "two_people.jpg").read_bytes(),
        "E005.jpg": photo(faces_dir, "John_Shimkus", SHIMKUS[0]),  # E005 and E006: one face, two numbers
        "E006.jpg": photo(faces_dir, "John_Shimkus", SHIMKUS[1]),
        "B001.jpg": photo(faces_dir, "John_Savage", SAVAGE[0]),  # another site's employee
        "X999.jpg": photo(faces_dir, "John_Savage", SAVAGE[1]),  # no such number
        "E002-2.jpg": b"not a picture at all",
    }
    photos, _ignored = described("bad.zip", archive(files))
    checked = face_photos.plan(plant["hr"], photos)
    assert not checked.ok
    errors = {e.number: " ".join(e.errors) for e in checked.employees}
    assert "与员工 E001 的人脸相同" in errors["E002"] and "one person cannot hold two numbers" in errors["E002"]
    assert "照片不是同一个人" in errors["E003"]
    assert "没有一张可用的照片" in errors["E004"]
    assert "与员工 E006 的人脸相同" in errors["E005"] and "与员工 E005 的人脸相同" in errors["E006"]
    assert "不在您的管理范围内" in errors["B001"]
    rows = {r.file: r for r in checked.photos}
    assert rows["E003-3.jpg"].state == "error" and "不是同一个人" in rows["E003-3.jpg"].message
    assert rows["E003-1.jpg"].state == "ok"
    assert (rows["E004.jpg"].state, rows["E004.jpg"].message.split(" / ")[1]) == ("skipped", "No face found")
    assert rows["E004-2.jpg"].message.startswith("照片里不止一个人")
    assert rows["E002-2.jpg"].state == "skipped" and "Not an image that can be read" in rows["E002-2.jpg"].message
    assert rows["X999.jpg"].state == "error" and rows["X999.jpg"].number == ""
    assert "找不到工号为 X999 的员工" in rows["X999.jpg"].message
    assert checked.counts["refused"] == 7 and checked.counts["employees"] == 0

    with pytest.raises(face_photos.FacesRefused, match="没有导入任何人脸"):
        face_photos.apply(plant["hr"], photos, source="bad.zip")
    assert {e.number: list(e.faces) for e in Employee.objects.all()} == before
    assert roster.current_version() == version
    assert AuditEntry.objects.filter(action="employee.faces_import").count() == 1

    # a photo of the stored employee again replaces their templates; the same templates again change nothing
    again, _ = described("again.zip", archive({"E001.jpg": photo(faces_dir, "John_Salley", SALLEY[1]),
                                                "E001-2.jpg": photo(faces_dir, "John_Salley", SALLEY[2])}))
    assert face_photos.plan(plant["hr"], again).ok
    assert face_photos.apply(plant["hr"], again, source="again.zip").employees == ["E001"]
    assert templates_of("E001").shape == (2, 128)
    assert face_photos.apply(plant["hr"], again, source="again.zip").employees == []


def test_broken_and_hostile_files_are_refused_with_a_clear_message(plant, faces_dir, monkeypatch) -> None:
    with pytest.raises(ImportFileError, match="无法读取这个压缩包"):
        face_photos.read_upload("photos.zip", b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ImportFileError, match=r"\.zip of photos, or one photo"):
        face_photos.read_upload("photos.rar", b"Rar!")
    with pytest.raises(ImportFileError, match="holds no photos"):
        face_photos.read_upload("photos.zip", archive({"readme.txt": b"hello"}))
    monkeypatch.setattr(face_photos, "MAX_PHOTOS", 2)
    many = archive({f"E00{i}.jpg": b"x" for i in range(1, 4)})
    with pytest.raises(ImportFileError, match="At most 2 photos at a time"):
        face_photos.read_upload("many.zip", many)
    assert len(face_photos.read_upload("many.zip", many, limited=False).photos) == 3  # the command line's way

    # one damaged member: its row says so, the others are read
    good = photo(faces_dir, "John_Salley", SALLEY[0])
    raw = bytearray(archive({"E001.jpg": good, "E002.png": bytes(range(256)) * 400}))
    start = raw.index(b"E002.png") + len("E002.png") + 200
    raw[start:start + 50] = b"\xff" * 50
    upload = face_photos.read_upload("damaged.zip", bytes(raw))
    assert [(ph.file, ph.problem) for ph in upload.photos] == [("E001.jpg", ""), ("E002.png", "damaged")]
    monkeypatch.setattr(face_photos, "MAX_PHOTO_BYTES", 1000)
    assert face_photos.read_upload("big.zip", archive({"E001.jpg": good})).photos[0].problem == "file_too_large"
    monkeypatch.undo()
    photos, _ = described("one.jpg", b"")
    assert photos[0].reason == "empty" and photos[0].numbers == ["one"]

    # a name Windows wrote in GB18030 without saying so (no UTF-8 flag) reads as written
    with monkeypatch.context() as patched:
        patched.setattr(zipfile.ZipInfo, "_encodeFilenameFlags", lambda info: (info.filename.encode("cp437"), info.flag_bits))
        legacy = archive({"员工照片/E001.jpg".encode("gb18030").decode("cp437"): good})
    assert [ph.file for ph in face_photos.read_upload("legacy.zip", legacy).photos] == ["员工照片/E001.jpg"]

    assert face_photos.numbers_of("照片/E001-2.jpg") == ["照片", "E001-2", "E001"]
    assert face_photos.numbers_of("E001/正面.jpg") == ["E001", "正面"]
    assert face_photos.numbers_of("A-100 (12).png") == ["A-100 (12)", "A-100"]


def test_the_console_checks_imports_and_clears_faces(plant, faces_dir) -> None:
    client = client_for(plant["hr"])
    url = reverse("console:employee_photos")
    page = client.get(url)
    assert page.status_code == 200 and "照片以工号命名" in page.content.decode()
    data = archive({"E001.jpg": photo(faces_dir, "John_Salley", SALLEY[0]),
                    "E001-2.jpg": photo(faces_dir, "John_Salley", SALLEY[1]),
                    "B001.jpg": photo(faces_dir, "John_Savage", SAVAGE[0])})
    checked = client.post(url, {"action": "check", "file": SimpleUploadedFile("staff.zip", data)})
    html = checked.content.decode()
    assert 'id="faces-B001" data-ok="no"' in html and "该员工不在您的管理范围内" in html and 'id="import-apply"' not in html
    assert 'data-count="refused"' in html
    refused = client.post(url, {"action": "import"})
    assert "没有导入任何人脸" in refused.content.decode() and not Employee.objects.get(number="E001").faces

    data = archive({"E001.jpg": photo(faces_dir, "John_Salley", SALLEY[0]),
                    "E001-2.jpg": photo(faces_dir, "John_Salley", SALLEY[1])})
    html = client.post(url, {"action": "check", "file": SimpleUploadedFile("staff.zip", data)}).content.decode()
    assert 'id="faces-E001" data-ok="yes"' in html and 'id="import-apply"' in html
    done = client.post(url, {"action": "import"}, follow=True)
    assert "已导入 staff.zip：1 名员工的人脸模板共 2 个" in done.content.decode()
    assert templates_of("E001").shape == (2, 128)
    assert "face_photo_import" not in client.session  # the templates leave the session once imported

    employee = Employee.objects.get(number="E001")
    detail = client.get(reverse("console:employee", args=[employee.pk])).content.decode()
    assert 'id="clear-faces"' in detail
    version = roster.current_version()
    client.post(reverse("console:employee_faces_clear", args=[employee.pk]))
    assert Employee.objects.get(number="E001").faces == [] and roster.current_version() == version + 1
    entry = AuditEntry.objects.get(action="employee.faces_cleared")
    assert entry.target == "E001" and entry.detail["templates"] == 2

    # from the employee's page: the photo is theirs whatever its name, and the import leads back to their page
    detail = client.get(reverse("console:employee", args=[employee.pk])).content.decode()
    assert f'href="{url}?employee=E001"' in detail
    page = client.get(f"{url}?employee=E001").content.decode()
    assert 'id="photos-for"' in page and "张三（E001）" in page and f'href="{reverse("console:employee", args=[employee.pk])}"' in page
    checked = client.post(url, {"action": "check", "employee": "E001",
                                "file": SimpleUploadedFile("IMG_2041.jpg", photo(faces_dir, "John_Salley", SALLEY[2]))})
    assert 'id="import-row-1" data-state="ok"' in checked.content.decode()
    assert client.post(url, {"action": "import"})["Location"] == reverse("console:employee", args=[employee.pk])
    assert templates_of("E001").shape == (1, 128)
    outside = client.post(url, {"action": "check", "employee": "B001",
                                "file": SimpleUploadedFile("IMG_2042.jpg", photo(faces_dir, "John_Savage", SAVAGE[0]))})
    assert 'id="faces-B001" data-ok="no"' in outside.content.decode() and 'id="photos-for"' not in outside.content.decode()

    other = Employee.objects.get(number="B001")  # another site's employee: not found for this HR admin
    assert client.post(reverse("console:employee_faces_clear", args=[other.pk])).status_code == 404
    manager = make_user("jingli", Role.MANAGER)
    assert client_for(manager).get(url).status_code == 403


def test_the_page_speaks_english_from_the_catalogue(plant, faces_dir) -> None:
    """Every word of the page and of a check in English: no Chinese left but the data's (names, a file name)."""
    import re

    client = client_for(plant["hr"])
    client.cookies["seed_language"] = "en"
    data = archive({"E001.jpg": photo(faces_dir, "John_Salley", SALLEY[0]),
                    "E001-2.jpg": (faces_dir / "nonface" / "dogs.jpg").read_bytes(), "照片说明.txt": b"-"})
    page = client.post(reverse("console:employee_photos"),
                       {"action": "check", "file": SimpleUploadedFile("staff.zip", data)}).content.decode()
    shown = text_of(page.split("<main", 1)[1].split("</main>")[0]).replace("张三", "").replace("照片说明", "")
    assert "Import face photos" in shown and "Import the faces of 1 employee" in shown and "No face found" in shown
    assert "Spare" not in shown and "Not usable" in shown and "Employees to import 1" in shown
    assert not re.search(r"[\u4e00-\u9fff]", shown), shown


def test_the_command_line_checks_and_imports_a_folder(plant, faces_dir, tmp_path) -> None:

    folder = tmp_path / "photos"
    (folder / "E001").mkdir(parents=True)
    for i, name in enumerate(SALLEY[:2]):
        (folder / "E001" / f"{i}.jpg").write_bytes(photo(faces_dir, "John_Salley", name))
    (folder / "X999.jpg").write_bytes(photo(faces_dir, "John_Savage", SAVAGE[0]))

    def cli(*args: str) -> tuple[int, str, str]:
        return central_cli("employee", "photos", *args)

    code, out, err = cli(str(folder), "--check")
    assert code == 1 and "X999.jpg" in out and "找不到工号为 X999 的员工" in out and "3/3 photos" in err
    (folder / "X999.jpg").unlink()
    code, out, _err = cli(str(folder), "--check", "--quiet")
    assert code == 0 and "1 employees with 2 face templates" in out and not Employee.objects.get(number="E001").faces
    code, out, _err = cli(str(folder), "--quiet")
    assert code == 0 and "faces imported: 1 employees, 2 templates" in out
    assert templates_of("E001").shape == (2, 128)
    assert AuditEntry.objects.get(action="employee.faces_import").actor.startswith("cli:")
    code, _out, err = cli(str(tmp_path / "missing.zip"))
    assert code == 2 and "missing.zip" in err


def test_faces_enrolled_at_the_doors_are_cleared_on_the_central_too(plant) -> None:
    """An employee the central holds no faces of shows 在终端登记 and can still be cleared: the roster then sends an
    empty list, which deletes what was enrolled at a door. An upgraded central marks the employees whose templates it
    held before (the migration's own function, on rows as an older central left them)."""
    import importlib

    from django.apps import apps

    employee = Employee.objects.get(number="E001")
    assert not employee.faces_managed and roster.employee_message(employee)["faces"] is None
    client = client_for(plant["hr"])
    detail = client.get(reverse("console:employee", args=[employee.pk])).content.decode()
    assert "在终端登记" in detail and 'id="clear-faces"' in detail
    version = roster.current_version()
    client.post(reverse("console:employee_faces_clear", args=[employee.pk]))
    employee.refresh_from_db()
    assert employee.faces_managed and roster.employee_message(employee)["faces"] == []
    assert roster.current_version() == version + 1
    assert 'id="clear-faces"' not in client.get(reverse("console:employee", args=[employee.pk])).content.decode()

    face = base64.b64encode(np.ones(128, np.float32).tobytes()).decode()
    Employee.objects.filter(number="E002").update(faces=[face], faces_managed=False)
    Employee.objects.filter(number="E003").update(fingers=[{"finger": 1, "template": "AAAA"}], fingers_managed=False)
    importlib.import_module("central.people.migrations.0005_templates_managed").held_before(apps, None)
    managed = dict(Employee.objects.values_list("number", "faces_managed"))
    assert managed["E002"] and not managed["E004"]
    assert Employee.objects.get(number="E003").fingers_managed and not Employee.objects.get(number="E002").fingers_managed

"""Admin mode on the device: login by PIN or card, status, settings, employees, finger enrolment, timeout.

Every admin action must leave its entry in the hash-chained audit log, under the admin's number.
"""
from __future__ import annotations

import json

import pytest
from ui_support import STAFF, FakeMonotonic, kiosk_config, press_when_asked, running_kiosk

ADMIN_CARD = "0000777777"
STAFF_HERE = STAFF + [{"number": "9002", "name": "Admin Two", "card": ADMIN_CARD, "role": "admin"},
                      {"number": "9003", "name": "Admin Three", "card": "0000888888", "pin": "5555", "role": "admin",
                       "verify_mode": "card+pin"}]


@pytest.fixture(scope="module")
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory, clock):
    config = kiosk_config(tmp_path_factory.mktemp("admin") / "data", fingerprint=True)
    with running_kiosk(config, staff=STAFF_HERE, monotonic=clock) as running:
        yield running


@pytest.fixture(autouse=True)
def at_idle(kiosk):
    kiosk.app.leave_admin("test")
    kiosk.app.wake()
    kiosk.app.go("idle")
    kiosk.terminal.hardware.clock.advance(120)
    kiosk.settle()
    yield


def audit(kiosk, action):
    rows = kiosk.terminal.store.query("SELECT actor, action, details FROM audit_log WHERE action = ? ORDER BY seq", (action,))
    return [dict(r, details=json.loads(r["details"])) for r in rows]


def log_in_with_pin(kiosk, number="9001", pin="9090"):
    kiosk.tap("admin")
    kiosk.wait_screen("admin_login")
    kiosk.tap("admin_pin")
    kiosk.wait_screen("pinpad")
    kiosk.type_digits(number)
    kiosk.tap("key_ok")
    kiosk.type_digits(pin)
    kiosk.tap("key_ok")


def test_an_employee_who_is_not_admin_is_refused(kiosk):
    log_in_with_pin(kiosk, "1002", "4321")
    kiosk.wait_screen("refusal")
    assert {"您不是管理员", "管理模式仅限管理员"} <= set(kiosk.texts())
    assert kiosk.app.admin is None
    # and no punch was recorded on the way
    assert kiosk.terminal.store.query("SELECT * FROM punches WHERE employee_number = '1002'") == []


def test_admin_logs_in_with_pin_and_the_login_is_audited(kiosk):
    log_in_with_pin(kiosk)
    kiosk.wait_screen("admin_menu")
    assert "管理 · 管理员" in kiosk.texts()
    kiosk.settle()
    assert audit(kiosk, "admin.login")[-1]["actor"] == "9001"
    kiosk.tap("leave")
    kiosk.wait_screen("idle")
    kiosk.settle()
    assert audit(kiosk, "admin.logout")[-1] == {"actor": "9001", "action": "admin.logout", "details": {"reason": "exit"}}


def test_admin_card_on_the_login_screen_enters_admin_mode_and_cards_do_not_punch_inside(kiosk):
    kiosk.tap("admin")
    kiosk.wait_screen("admin_login")
    kiosk.terminal.hardware.card_reader.present(ADMIN_CARD)
    kiosk.wait_screen("admin_menu")
    assert kiosk.app.admin["number"] == "9002"
    assert kiosk.terminal.store.query("SELECT * FROM punches WHERE employee_number = '9002'") == []
    # while an admin works at the terminal, a card tapped is not a punch
    kiosk.terminal.hardware.card_reader.present("0004318030")
    kiosk.wait_until(lambda: kiosk.app.routing.ignored >= 1, 5, "the card to be set aside")
    assert kiosk.screen_name == "admin_menu"
    assert kiosk.terminal.store.query("SELECT * FROM punches WHERE employee_number = '1001'") == []


def test_an_admin_who_needs_card_and_pin_is_asked_for_the_pin_after_the_card(kiosk):
    kiosk.tap("admin")
    kiosk.wait_screen("admin_login")
    kiosk.terminal.hardware.card_reader.present("0000888888")
    kiosk.wait_screen("second")
    assert {"Admin Three，请继续验证", "还需要：密码"} <= set(kiosk.texts())
    kiosk.tap("enter_pin")
    kiosk.wait_screen("pinpad")
    kiosk.type_digits("5555")
    kiosk.tap("key_ok")
    kiosk.wait_screen("admin_menu")
    assert kiosk.app.admin["number"] == "9003"
    kiosk.settle()
    assert audit(kiosk, "admin.login")[-1]["details"] == {"method": "card+pin"}
    assert kiosk.terminal.store.query("SELECT * FROM punches WHERE employee_number = '9003'") == []


def test_the_same_admin_card_at_the_idle_screen_is_just_a_punch(kiosk):
    kiosk.terminal.hardware.card_reader.present(ADMIN_CARD)
    kiosk.wait_screen("result")
    assert "Admin Two" in kiosk.texts() and kiosk.app.admin is None


def test_device_status_shows_broker_queue_clock_storage_and_devices(kiosk):
    store = kiosk.terminal.store
    store.set_setting("sync.status", {"connected": True, "last_ack_at": "2026-03-02T00:50:00.000000Z", "queue_depth": 0,
                                      "clock_offset_s": 0.012, "time_source": "ntp", "last_ntp_at": "2026-03-02T00:40:00Z"})
    waiting = store.query_one("SELECT count(*) AS n FROM outbox WHERE kind = 'punch'")["n"]
    log_in_with_pin(kiosk)
    kiosk.wait_screen("admin_menu")
    kiosk.tap("status")
    screen = kiosk.wait_screen("status")
    kiosk.wait_until(lambda: screen.row("broker") is not None, 5, "the status to be read")
    assert screen.row("broker").value.startswith("已连接") and not screen.row("broker").bad
    assert screen.row("last_sync").value == "2026-03-02 08:50:00"  # local time of the last acknowledgement
    assert screen.row("queue").value == str(waiting) and waiting > 0
    assert screen.row("clock").value == "+12 ms"
    assert screen.row("clock_source").value == "ntp"
    assert "GB" in screen.row("storage").value or "MB" in screen.row("storage").value
    assert screen.row("card_reader").value == "正常" and screen.row("fingerprint").value == "正常"
    assert screen.row("version").value
    # a broker that went away shows in red after a refresh
    store.set_setting("sync.status", {"connected": False, "last_ack_at": None, "clock_offset_s": 3.5, "time_source": "unsynced"})
    kiosk.tap("refresh")
    kiosk.wait_until(lambda: screen.row("broker").bad, 5, "the refreshed status")
    assert screen.row("last_sync").value == "从未" and screen.row("clock").bad and screen.row("clock_source").bad
    kiosk.settle()
    assert {"screen": "status"} in [a["details"] for a in audit(kiosk, "admin.view")]


def test_settings_change_within_safe_bounds_are_saved_and_audited(kiosk):
    config = kiosk.terminal.config
    speaker = kiosk.terminal.hardware.speaker
    log_in_with_pin(kiosk)
    kiosk.wait_screen("admin_menu")
    kiosk.tap("settings")
    screen = kiosk.wait_screen("settings")
    before = config.hardware.speaker.volume
    kiosk.tap("hardware.speaker.volume:down")
    kiosk.settle()
    assert config.hardware.speaker.volume == before - 10 and speaker.renderer.volume == before - 10
    entry = audit(kiosk, "settings.change")[-1]
    assert entry["actor"] == "9001" and entry["details"] == {"setting": "hardware.speaker.volume", "old": before,
                                                              "new": before - 10}
    assert kiosk.terminal.store.get_setting("ui.settings")["hardware.speaker.volume"] == before - 10
    # the face threshold cannot be pushed past its safe maximum, however often it is tapped
    for _ in range(30):
        kiosk.tap("face.match_threshold:up")
    kiosk.settle()
    assert config.face.match_threshold == pytest.approx(0.60)
    assert screen.rows["face.match_threshold"].value_text == "0.60"
    # language: every screen switches to English at once
    kiosk.tap("lang:en")
    kiosk.settle()
    assert kiosk.app.lang == "en" and config.device.language == "en"
    assert "Settings" in kiosk.texts() and "Face match threshold" in kiosk.texts()
    kiosk.tap("back")
    assert "Admin · 管理员" in kiosk.texts()
    kiosk.tap("settings")
    kiosk.wait_screen("settings")
    kiosk.tap("lang:zh")
    kiosk.settle()
    assert kiosk.app.lang == "zh" and "人脸匹配阈值" in kiosk.texts()


def test_employees_search_view_and_delete_with_confirmation(kiosk):
    store = kiosk.terminal.store
    log_in_with_pin(kiosk)
    kiosk.wait_screen("admin_menu")
    kiosk.tap("employees")
    screen = kiosk.wait_screen("employees")
    kiosk.settle()
    assert len(screen.rows) == len(STAFF_HERE)
    screen.ids.search.text = "李"  # typed on the on-screen keyboard
    kiosk.settle()
    assert [row["number"] for row in screen.rows] == ["1002"]
    kiosk.tap("employee:1002")
    detail = kiosk.wait_screen("employee")
    kiosk.settle()
    assert "李娜  (1002)" in kiosk.texts() and "部门：财务部" in detail.details
    kiosk.tap("delete")
    assert any("确定删除 李娜（1002）" in text for text in kiosk.texts())
    kiosk.tap("keep")  # changed her mind
    assert store.query_one("SELECT 1 AS x FROM employees WHERE number = '1002'")
    kiosk.tap("delete")
    kiosk.tap("confirm_delete")
    kiosk.wait_screen("employees")
    kiosk.settle()
    assert store.query_one("SELECT 1 AS x FROM employees WHERE number = '1002'") is None
    deleted = audit(kiosk, "employee.delete")[-1]
    assert deleted["actor"] == "9001" and deleted["details"]["number"] == "1002"
    assert {"number": "1002"} in [a["details"] for a in audit(kiosk, "employee.view")]


def test_admin_mode_times_out_after_inactivity(kiosk, clock):
    log_in_with_pin(kiosk)
    kiosk.wait_screen("admin_menu")
    clock.advance(kiosk.terminal.config.ui.admin_timeout_s - 5)
    kiosk.pump(3)
    assert kiosk.screen_name == "admin_menu"
    kiosk.tap("status")  # a touch: the admin is still there
    clock.advance(10)
    kiosk.pump(3)
    assert kiosk.screen_name == "status"
    clock.advance(kiosk.terminal.config.ui.admin_timeout_s)
    kiosk.wait_screen("idle", timeout=3)
    assert kiosk.app.admin is None and kiosk.app.toast_label.text == "管理模式已超时退出"
    kiosk.settle()
    assert audit(kiosk, "admin.logout")[-1]["details"] == {"reason": "timeout"}


def test_admin_enrols_a_finger_from_the_sensor_and_the_employee_then_punches_with_it(kiosk):
    emulator = kiosk.terminal.hardware.fingerprint.emulator
    log_in_with_pin(kiosk)
    kiosk.wait_screen("admin_menu")
    kiosk.tap("enrol_finger")
    pad = kiosk.wait_screen("pinpad")
    kiosk.type_digits("7777")
    kiosk.tap("key_ok")
    kiosk.wait_until(lambda: pad.status == "没有工号为 7777 的员工", 5, "the unknown number to be refused")
    for _ in range(4):
        kiosk.tap("key_del")
    kiosk.type_digits("1001")
    kiosk.tap("key_ok")
    screen = kiosk.wait_screen("enrol_finger")
    assert "指纹登记 · 张伟" in kiosk.texts()
    seen = []
    original = screen.progress

    def watch(index, key, answer, params=None):
        seen.append(answer)
        original(index, key, answer, params)

    screen.progress = watch  # what the sensor answered at each step, as shown
    kiosk.tap("start")
    press_when_asked(kiosk, emulator, "zhang-wei-right-index")
    assert screen.done, screen.step_text
    assert "指纹已登记（位置 0）" in kiosk.texts()
    assert seen[:4] == ["finger.waiting", "finger.read_ok", "finger.lifted", "finger.read_ok"]
    assert seen[-1] == "finger.stored"
    assert emulator.stored_positions() == [0]
    kiosk.settle()
    template = kiosk.terminal.store.query_one("SELECT * FROM finger_templates")
    assert template["sensor_position"] == 0
    assert audit(kiosk, "finger.enrol")[-1]["actor"] == "9001"
    kiosk.tap("back")
    kiosk.tap("leave")
    kiosk.wait_screen("idle")
    # the sensor is the door's again: the new finger punches
    emulator.place_finger("zhang-wei-right-index")
    kiosk.wait_screen("result", timeout=10)
    emulator.lift_finger()
    assert "张伟" in kiosk.texts()
    punch = kiosk.terminal.store.query("SELECT * FROM punches WHERE employee_number = '1001' ORDER BY punched_at")[-1]
    assert punch["method"] == "finger" and punch["score"] > 0

"""The kiosk's view of the camera thread: frames and faces for the preview, and the pause for face enrolment.

No Kivy here: :class:`~terminal.ui.facefeed.FaceFeed` only listens to a real
:class:`~terminal.vision.door.FaceWorker` (simulated camera, real models) through the
worker's own API, and steps it by hand.
"""
from __future__ import annotations

import threading

import pytest


@pytest.fixture
def worker(store, sim_config):
    from terminal.hardware.camera import SimCamera
    from terminal.hardware.clock import SimClock
    from terminal.punch import PunchService
    from terminal.vision.door import FaceDoor, FaceWorker
    from terminal.vision.gallery import FaceGallery
    from terminal.vision.recognizer import FaceRecognizer

    recognizer = FaceRecognizer(FaceGallery.from_store(store), sim_config.face)
    with SimCamera(640, 480, fps=15, realtime=False) as camera:
        yield FaceWorker(camera, recognizer, FaceDoor(store, punches=PunchService(store, sim_config, SimClock())))
    recognizer.close()


def test_the_feed_shows_each_recognised_frame_then_bare_frames_while_paused_and_nothing_once_detached(worker):
    from terminal.ui.facefeed import FaceFeed

    feed = FaceFeed(worker).attach()
    stop = threading.Event()
    assert feed.latest() is None
    worker.step(stop)
    first = feed.latest()
    assert first is not None and first.seq == 1 and first.image.shape == (480, 640, 3)
    assert first.state == worker.last_result.state and first.faces == []

    feed.pause()  # the admin's face enrolment
    assert feed.paused and worker.paused
    assert worker.step(stop) is None
    paused_frame = feed.latest()
    assert paused_frame.seq == 2 and paused_frame.state == "idle"  # the picture, without a judgement
    assert feed.next_frame(1, timeout=1.0) is paused_frame

    feed.resume()
    assert not feed.paused and not worker.paused
    assert worker.step(stop) is not None and feed.latest().seq == 3

    feed.detach()
    assert worker.listeners == []
    worker.step(stop)
    assert feed.latest().seq == 3  # the worker no longer offers the feed anything
    assert feed.next_frame(3, timeout=0.05) is None


def test_without_a_face_worker_the_feed_reads_the_camera_itself_and_has_nothing_to_pause():
    from terminal.hardware.camera import SimCamera
    from terminal.ui.facefeed import FaceFeed

    with SimCamera(320, 240, fps=15, realtime=False) as camera:
        feed = FaceFeed(None, camera).attach()
        feed.pause()
        assert not feed.paused and feed.camera_error is None
        frame = feed.next_frame(0, timeout=1.0)
        assert frame is not None and frame.image.shape == (240, 320, 3) and frame.faces == []
        feed.detach()


def test_without_a_face_worker_the_feed_says_why_the_camera_is_gone_until_it_reopens():
    from terminal.hardware.camera import SimCamera
    from terminal.hardware.errors import CameraGone
    from terminal.ui.facefeed import FaceFeed

    with SimCamera(320, 240, fps=15, realtime=False, retry_start_s=0.05, retry_max_s=0.1, wait_s=0.2) as camera:
        feed = FaceFeed(None, camera).attach()
        assert feed.next_frame(0, timeout=1.0) is not None
        camera.disconnect("cable pulled")
        with pytest.raises(CameraGone):
            feed.next_frame(0, timeout=1.0)
        assert feed.camera_error == "simulated camera cable pulled"
        camera.reconnect()
        frame = None
        for _ in range(20):
            try:
                frame = feed.next_frame(0, timeout=1.0)
                break
            except CameraGone:
                continue
        assert frame is not None and feed.camera_error is None


@pytest.mark.parametrize(("lang", "words"), [("zh", ("已断开", "人脸识别已停止")), ("en", ("gone since", "face recognition stopped"))])
def test_the_status_screen_shows_a_gone_camera_with_since_when(lang, words):
    from terminal.ui.screens.admin import status_rows

    gone = {"reason": "no frame from camera 0 for 2 s", "since": "2026-03-02T08:01:02.000000Z", "attempts": 3,
            "face_stopped": True}
    status = {"hardware": {"camera": "gone since 2026-03-02T08:01:02.000000Z: no frame", "speaker": "ok"},
              "camera_gone": gone}
    rows = {key: (value, bad) for key, _label, value, bad in status_rows(status, lang, "Asia/Shanghai")}
    text, bad = rows["camera"]
    assert bad and all(word in text for word in words)
    assert "2026-03-02 16:01:02" in text  # since when, in the door's time zone
    assert gone["reason"] in text
    assert rows["speaker"][1] is False  # the other devices are shown as before


@pytest.mark.parametrize(("lang", "words"), [("zh", ("开机时未找到", "等待连接")), ("en", ("not found at start-up", "waiting for it"))])
def test_the_status_screen_says_a_camera_missing_since_boot_is_waited_for(lang, words):
    from terminal.hardware.camera import MISSING_AT_START
    from terminal.ui.screens.admin import status_rows

    gone = {"reason": f"{MISSING_AT_START} no camera at /dev/video0", "since": "2026-03-02T00:00:05.000000Z",
            "at_start": True, "face_stopped": False}
    status = {"hardware": {"camera": "gone since 2026-03-02T00:00:05.000000Z"}, "camera_gone": gone}
    text, bad = {key: (value, bad) for key, _label, value, bad in status_rows(status, lang, "Asia/Shanghai")}["camera"]
    assert bad and all(word in text for word in words)
    assert "2026-03-02 08:00:05" in text and "no camera at /dev/video0" in text
    assert "reconnecting" not in text and "正在重新连接" not in text

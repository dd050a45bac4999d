"""Cameras: the simulator's sources and scenes, letterboxing, and cameras that vanish mid-stream."""
from __future__ import annotations

import os
import threading
import time
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest

from terminal.config import CameraSettings
from terminal.hardware.camera import (
    BACKGROUND_BGR,
    OpenCVCamera,
    Picamera2Camera,
    SceneStep,
    SimCamera,
    letterbox,
    load_image,
    side_by_side,
)
from terminal.hardware.errors import CameraGone, DeviceMissing

W, H = 320, 240


def card(value: int, size=(120, 160)) -> np.ndarray:
    """A distinct test picture whose number can be read back from its pixels."""
    image = np.full((*size, 3), value, np.uint8)
    cv2.putText(image, str(value), (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 0, 255), 2)
    return image


def write_video(path: Path, frames: int = 12, fps: float = 15.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (160, 120))
    for i in range(frames):
        writer.write(card(10 + i * 15))
    writer.release()
    return path


@pytest.fixture
def people(faces_dir) -> list[Path]:
    return sorted((faces_dir / "people" / "John_Salley").glob("*.jpg"))[:2]


# -- images -----------------------------------------------------------------------------------
def test_letterbox_keeps_the_aspect_ratio():
    square = np.full((100, 100, 3), 200, np.uint8)
    boxed = letterbox(square, W, H)
    assert boxed.shape == (H, W, 3) and boxed.dtype == np.uint8
    assert (boxed[:, :40] == 0).all() and (boxed[:, -40:] == 0).all()  # bars left and right
    assert (boxed[:, 40:280] == 200).all()


def test_gray_and_bgra_become_bgr():
    assert letterbox(np.zeros((H, W), np.uint8), W, H).shape == (H, W, 3)
    assert letterbox(np.zeros((H, W, 4), np.uint8), W, H).shape == (H, W, 3)
    with pytest.raises(ValueError, match="8-bit"):
        letterbox(np.zeros((H, W, 3), np.float32), W, H)


def test_load_image_refuses_what_is_not_an_image(tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("not a picture")
    with pytest.raises(ValueError, match="photo.jpg is not an image"):
        load_image(fake)
    with pytest.raises(ValueError, match="not found"):
        load_image(tmp_path / "missing.jpg")


# -- simulator ---------------------------------------------------------------------------------
def test_scripted_scene_plays_in_order_then_the_doorway_is_empty():
    camera = SimCamera(W, H, fps=10, realtime=False)
    two = side_by_side([card(50), card(150)], W, H)
    camera.play_scene([SceneStep(None, seconds=0.3), SceneStep(card(50), frames=2, label="A"),
                       (two, None, 1, "two faces")])
    frames = [camera.read() for _ in range(8)]
    assert camera.labels_served() == ["background"] * 3 + ["A", "A", "two faces"] + ["background"] * 2
    assert [f.index for f in frames] == list(range(8))
    assert all(f.image.shape == (H, W, 3) and f.image.dtype == np.uint8 for f in frames)
    assert (frames[0].image == BACKGROUND_BGR).all()
    assert np.array_equal(frames[3].image, letterbox(card(50), W, H))
    assert np.array_equal(frames[5].image, two)
    assert all(b.t_monotonic >= a.t_monotonic for a, b in pairwise(frames))
    camera.assert_served("A", at_least=2)
    with pytest.raises(AssertionError, match="served 'B' 0 times"):
        camera.assert_served("B")


def test_frames_are_copies_the_reader_may_draw_on():
    camera = SimCamera(W, H, realtime=False)
    camera.show(card(80))
    first = camera.read()
    first.image[:] = 0
    assert camera.read().image.any()


def test_show_holds_until_changed_or_for_a_while():
    camera = SimCamera(W, H, fps=10, realtime=False)
    camera.show(card(90), label="held")
    assert {camera.read() and camera.labels_served()[-1] for _ in range(20)} == {"held"}
    camera.show(card(90), frames=1, label="brief")
    camera.read(), camera.read()
    assert camera.labels_served()[-2:] == ["brief", "background"]
    camera.clear()
    camera.read()
    assert camera.labels_served()[-1] == "background"


def test_image_folder_plays_each_picture_and_loops(tmp_path):
    for name, value in (("b.png", 100), ("a.jpg", 50), ("c.bmp", 150)):
        cv2.imwrite(str(tmp_path / name), card(value))
    (tmp_path / "notes.txt").write_text("ignored")
    camera = SimCamera(W, H, fps=10, source=tmp_path, realtime=False, hold_s=0.2)
    for _ in range(8):
        camera.read()
    assert camera.labels_served() == ["a.jpg", "a.jpg", "b.png", "b.png", "c.bmp", "c.bmp", "a.jpg", "a.jpg"]


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no images"):
        SimCamera(W, H, source=tmp_path)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ValueError, match="broken.jpg is not an image"):
        SimCamera(W, H, source=tmp_path)
    with pytest.raises(DeviceMissing, match="camera: simulated camera source .* not found"):
        SimCamera.from_settings(CameraSettings(sim_source=tmp_path / "nothing"))
    with pytest.raises(DeviceMissing, match="broken.jpg is not an image"):
        SimCamera.from_settings(CameraSettings(sim_source=tmp_path))
    text = tmp_path / "clip.mp4"
    text.write_text("not a video")
    with pytest.raises(ValueError, match="not a video"):
        SimCamera(W, H, source=text)


def test_video_file_plays_then_loops_or_ends(tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=5)
    looping = SimCamera(W, H, source=video, realtime=False, loop=True)
    assert [looping.read() and looping.labels_served()[-1] for _ in range(7)] == ["clip.avi"] * 7
    once = SimCamera(W, H, source=video, realtime=False, loop=False)
    for _ in range(7):
        once.read()
    assert once.labels_served() == ["clip.avi"] * 5 + ["background"] * 2
    once.close()
    looping.close()


def test_realtime_paces_to_the_frame_rate_and_skips_what_a_slow_reader_missed():
    camera = SimCamera(W, H, fps=20, realtime=True)
    frames = [camera.read() for _ in range(4)]
    # never ahead of 20 fps: frame i comes no earlier than i/20 s after the first (a late read may skip, never run ahead)
    start = frames[0]
    assert all(f.t_monotonic - start.t_monotonic >= (f.index - start.index) / 20 - 0.01 for f in frames[1:])
    assert all(b.index > a.index for a, b in pairwise(frames))
    time.sleep(0.3)  # the reader is busy: about six frame slots pass
    late = camera.read()
    assert late.index - frames[-1].index >= 4


def test_disconnect_mid_stream_raises_camera_gone(people):
    camera = SimCamera(W, H, fps=30, realtime=False)
    camera.play_scene([SceneStep(people[0], frames=3), SceneStep(people[1], frames=3)], loop=True)
    for _ in range(4):
        camera.read()
    camera.disconnect()
    for _ in range(2):  # and it stays gone
        with pytest.raises(CameraGone, match="camera: simulated camera was unplugged"):
            camera.read()
    assert camera.health().startswith("gone")
    camera.reconnect()
    assert camera.read().index == 4


def test_disconnect_wakes_a_reader_waiting_for_the_next_frame():
    camera = SimCamera(W, H, fps=0.2, realtime=True)  # one frame every 5 s
    camera.read()
    errors = []

    def reader():
        try:
            camera.read()
        except CameraGone as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.1)
    camera.disconnect("cable pulled")
    thread.join(timeout=2)
    assert not thread.is_alive() and "cable pulled" in str(errors[0])


def test_real_photos_are_served_letterboxed(people):
    camera = SimCamera(640, 480, realtime=False)
    camera.show(people[0])
    frame = camera.read()
    assert np.array_equal(frame.image, letterbox(load_image(people[0]), 640, 480))
    assert frame.image[:, :80].max() == 0  # 150×150 crop: black bars beside it


def test_people_swaying_move_by_whole_pixels_and_never_look_like_a_screen(faces_dir):
    """A resampled JPEG (a fractional shift) has the peaked fine-detail spectrum of a screen's pixel grid: the
    door refused two people swaying in the doorway as a replayed screen whenever its checks fell on such frames."""
    from terminal.vision.detection import FaceDetector
    from terminal.vision.liveness import LivenessSettings
    from terminal.vision.screen_cues import grid_peakiness

    photo = faces_dir / "groups" / "two_people.jpg"
    camera = SimCamera(640, 480, fps=15, realtime=False)
    camera.sway(photo, seconds=3)
    base = letterbox(load_image(photo), 640, 480)
    frames = [camera.read().image for _ in range(45)]
    peaks = []
    with FaceDetector("full") as detector:
        for frame in frames:
            # each frame is the picture itself, moved: some whole-pixel shift reproduces its middle exactly
            assert any(np.array_equal(frame[16:-16, 16:-16], base[16 - dy:464 - dy, 16 - dx:624 - dx])
                       for dx in range(-8, 9) for dy in range(-4, 5))
            boxes = detector.detect(frame)
            assert len(boxes) == 2
            peaks += [grid_peakiness(frame, box) for box in boxes]
    assert len({frame.tobytes() for frame in frames}) > 10  # they do move
    assert max(p for p in peaks if p is not None) < LivenessSettings().screen_peakiness


# -- OpenCV ----------------------------------------------------------------------------------------
def file_camera(path: Path, timeout: float = 0.5) -> OpenCVCamera:
    return OpenCVCamera(CameraSettings(device=str(path), width=W, height=H, read_timeout_s=timeout))


def test_opencv_reads_a_video_and_reports_its_end(tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=6)
    with file_camera(video) as camera:
        frames = [camera.read() for _ in range(6)]
        assert [f.index for f in frames] == list(range(6))
        assert frames[0].image.shape == (H, W, 3)
        with pytest.raises(CameraGone, match=r"clip.avi ended or is unreadable after 6 frames"):
            camera.read()
        with pytest.raises(CameraGone):
            camera.read()
        assert camera.health().startswith("gone")


def test_opencv_file_truncated_mid_stream(tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=60)
    with file_camera(video) as camera:
        for _ in range(3):
            camera.read()
        os.truncate(video, video.stat().st_size // 4)
        with pytest.raises(CameraGone, match="ended or is unreadable"):
            for _ in range(100):
                camera.read()
        assert camera._index < 60


def test_opencv_file_deleted_mid_stream(tmp_path):
    video = write_video(tmp_path / "clip.avi", frames=10)
    with file_camera(video) as camera:
        camera.read()
        video.unlink()
        with pytest.raises(CameraGone, match="ended or is unreadable"):
            for _ in range(20):
                camera.read()


def test_opencv_stream_that_stalls_is_reported_within_the_timeout(tmp_path):
    """A source that stops sending mid-stream (a camera that hangs): read() gives up after read_timeout_s."""
    video = write_video(tmp_path / "clip.avi", frames=80)
    data = video.read_bytes()
    fifo = tmp_path / "camera.fifo"
    os.mkfifo(fifo)
    release = threading.Event()

    def stalling_camera():
        with open(fifo, "wb") as pipe:
            pipe.write(data[: len(data) // 2])
            pipe.flush()
            release.wait(10)  # keeps the stream open, sending nothing

    writer = threading.Thread(target=stalling_camera, daemon=True)
    writer.start()
    camera = OpenCVCamera(CameraSettings(device=str(fifo), width=W, height=H, read_timeout_s=0.5))
    served = 0
    with pytest.raises(CameraGone, match=r"no frame from camera .*camera.fifo for 0.5 s"):
        for _ in range(200):
            camera.read()
            served += 1
    assert 0 < served < 80
    camera.close()  # returns although a read is still stuck in the driver
    release.set()
    writer.join(timeout=5)


def test_opencv_missing_devices(tmp_path):
    with pytest.raises(DeviceMissing, match="camera: no camera at /dev/video-missing"):
        OpenCVCamera(CameraSettings(device="/dev/video-missing"))
    with pytest.raises(DeviceMissing, match="camera: cannot open camera 63"):
        OpenCVCamera(CameraSettings(device="63"))
    with pytest.raises(DeviceMissing, match="cannot open"):
        text = tmp_path / "x.txt"
        text.write_text("hello")
        OpenCVCamera(CameraSettings(device=str(text)))


def test_picamera2_missing_is_reported():
    try:
        import picamera2  # noqa: F401
    except ImportError:
        with pytest.raises(DeviceMissing, match="camera: picamera2 is not installed"):
            Picamera2Camera(CameraSettings(device="picamera2"))
    else:
        pytest.skip("picamera2 is installed here: the Raspberry Pi camera is tested on the Pi")

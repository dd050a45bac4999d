"""A network camera on loopback for tests: an MJPEG stream (``multipart/x-mixed-replace``) over HTTP.

``MjpegServer(image)`` serves ``http://127.0.0.1:<port>/stream.mjpg`` from a thread, one JPEG of
``image`` after another at ``fps``. ``stop()`` drops every connection and closes the port (the
camera is unplugged); ``start()`` serves again on the same port (plugged back). A context manager:
leaving it stops the server and joins its threads. ``MjpegServer(image, port=free_port())`` has its
address before it is started: a network camera that is not up yet when the terminal boots.
"""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

BOUNDARY = "seedframe"


def free_port() -> int:
    """A loopback port nobody listens on now (for a server started later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Handler(BaseHTTPRequestHandler):
    server: _StreamServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.split("?")[0] != "/stream.mjpg":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        stream = self.server.stream
        try:
            while not stream.stopping.is_set():
                jpeg = stream.jpeg
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                                 .encode("ascii") + jpeg + b"\r\n")
                self.wfile.flush()
                stream.frames_sent += 1
                stream.stopping.wait(1.0 / stream.fps)
        except OSError:
            pass  # the client went away, or stop() shut the socket under us

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        pass


class _StreamServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the client threads (they end once ``stopping`` is set)
    block_on_close = True
    allow_reuse_address = True
    stream: MjpegServer


class MjpegServer:
    def __init__(self, image: np.ndarray, fps: float = 15.0, port: int = 0):
        import cv2

        ok, encoded = cv2.imencode(".jpg", image)
        if not ok:
            raise ValueError("the image could not be encoded as JPEG")
        self.jpeg = encoded.tobytes()
        self.fps = fps
        self.port = port
        self.frames_sent = 0
        self.stopping = threading.Event()
        self._server: _StreamServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> MjpegServer:
        if self._server is not None:
            return self
        self.stopping.clear()
        deadline = time.monotonic() + 5.0
        while True:
            try:
                server = _StreamServer(("127.0.0.1", self.port), _Handler)
                break
            except OSError:  # the port of the previous run is not free yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        server.stream = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="test-mjpeg", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Drop every client and close the port, as a camera that is unplugged."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def port_is_free(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) != 0

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

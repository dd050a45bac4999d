"""Face templates no camera could have made, arriving over the real broker from an older central.

A NaN, a vector of zeros or one of huge finite values (whose distances overflow to NaN, which no
threshold refuses: every stranger would match it) must never reach a terminal's gallery. The record
is refused and reported to the central; the good records of the same message apply and face
recognition keeps working with them.
"""
from __future__ import annotations

import base64

import numpy as np
from sync_support import SITE, publish_as_central, wait_for

from central.ingest.models import Event
from central.people import roster as central_roster
from contract import protocol as p
from sync_agent.roster import roster_version
from terminal.vision.gallery import FaceGallery


def face(values: np.ndarray) -> str:
    return base64.b64encode(np.asarray(values, dtype=np.float32).tobytes()).decode()


def realistic(seed: int) -> np.ndarray:
    """A descriptor shaped like the recogniser's: its norm is about 1.4 (1.29-1.59 on the shared photos)."""
    vector = np.random.default_rng(seed).normal(size=128)
    return vector / np.linalg.norm(vector) * 1.4


def test_impossible_templates_are_refused_and_reported_and_faces_still_work(site, broker_up, terminal_a, central,
                                                                           agent_factory):
    central_roster.upsert_employees([{"number": "T0", "name": "Zero"}])
    agent = agent_factory(terminal_a.config)
    wait_for(lambda: roster_version(terminal_a.store) == 1, what="first roster")
    nan = realistic(2)
    nan[7] = np.nan
    huge = np.where(np.arange(128) % 2 == 0, 3e38, -3e38)
    good = realistic(1)
    delta = {"version": 2, "base": 1, "full": False, "issued_at": p.utc_stamp(), "deletes": [], "upserts": [
        {"number": "G1", "name": "Good", "faces": [face(good)]},
        {"number": "N1", "name": "NaN", "faces": [face(nan)]},
        {"number": "H1", "name": "Huge", "faces": [face(huge)]},
        {"number": "Z1", "name": "Zeros", "faces": [face(np.zeros(128))]}]}
    publish_as_central(site, broker_up, p.device_topic(SITE, "door-a", "roster"), p.dumps(delta))
    wait_for(lambda: roster_version(terminal_a.store) == 2, what="the delta applied in part")
    numbers = {r["number"] for r in terminal_a.store.query("SELECT number FROM employees")}
    assert "G1" in numbers and not numbers & {"N1", "H1", "Z1"}
    events = wait_for(lambda: (found := list(Event.objects.filter(kind="roster.rejected", device_id="door-a")))
                      and len(found) == 3 and found, what="three roster.rejected events centrally")
    assert sorted((e.payload["number"], e.payload["field"]) for e in events) == [
        ("H1", "faces"), ("N1", "faces"), ("Z1", "faces")]
    assert all(face(huge) not in str(e.payload) for e in events)
    gallery = FaceGallery.from_store(terminal_a.store)
    g1 = terminal_a.store.query_one("SELECT id FROM employees WHERE number = 'G1'")["id"]
    assert len(gallery) == 1
    assert gallery.search(good).identity == g1
    stranger = gallery.search(realistic(99))
    assert not stranger.accepted and stranger.identity is None
    agent.stop()

"""A bad face template already in a terminal's store never turns face recognition off.

A template that is not 128 finite values, or whose norm no descriptor of the real pipeline has
(all zeros; values so large that distances overflow), is skipped with a warning and an event
naming the employee (never the values); every other employee is still recognised. The same norm
bounds are the contract's (``check_face_descriptor``), measured on the real photos.
"""
from __future__ import annotations

import base64
import json
import logging

import numpy as np
import pytest

from contract.roster_rules import FACE_DESCRIPTOR_MAX_NORM, FACE_DESCRIPTOR_MIN_NORM, check_face_descriptor
from terminal.store.database import utc_now
from terminal.store.employees import add_employee, add_face_templates
from terminal.vision.gallery import FaceGallery


def realistic(seed: int) -> np.ndarray:
    """A descriptor with the norm the real pipeline gives (about 1.4)."""
    v = np.random.default_rng(seed).normal(size=128)
    return (1.4 * v / np.linalg.norm(v)).astype(np.float32)


def raw_template(store, employee_id: int, values: np.ndarray) -> None:
    """Write a template straight into the table, as an old roster or a hand edit could have."""
    with store.transaction() as conn:
        conn.execute("INSERT INTO face_templates (employee_id, descriptor, quality, source, created_at) "
                     "VALUES (?, ?, NULL, 'old roster', ?)", (employee_id, values.astype(np.float32).tobytes(), utc_now()))


def nan_template() -> np.ndarray:
    values = realistic(9)
    values[77] = np.nan
    return values


BAD = {
    "nan": nan_template,
    "infinity": lambda: np.where(np.arange(128) == 3, np.inf, realistic(9)),
    "all_zeros": lambda: np.zeros(128),
    "huge_1e30": lambda: np.full(128, 1e30),
    "near_float32_max": lambda: np.where(np.arange(128) % 2, 3e38, -3e38),
    "tiny": lambda: realistic(9) * 1e-6,
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_template_is_skipped_and_everyone_else_is_still_recognised(store, caplog, kind):
    alice = add_employee(store, number="1001", name="Alice Wang")
    bob = add_employee(store, number="1002", name="Bob Li")
    carol = add_employee(store, number="1003", name="Carol Chen")
    add_face_templates(store, alice["id"], [realistic(1), realistic(2)])
    add_face_templates(store, bob["id"], [realistic(3)])
    add_face_templates(store, carol["id"], [realistic(4)])
    bad = BAD[kind]()
    raw_template(store, bob["id"], bad)

    with caplog.at_level(logging.WARNING, logger="terminal.vision.gallery"):
        gallery = FaceGallery.from_store(store)
    assert len(gallery) == 4 and gallery.identity_count == 3
    for employee, template in ((alice, realistic(2)), (bob, realistic(3)), (carol, realistic(4))):
        match = gallery.search(template + np.float32(0.01))
        assert match.accepted and match.identity == employee["id"]
    # the bad template matches no one: a probe near it is not taken for Bob (or anyone)
    stranger = gallery.search(realistic(50))
    assert not stranger.accepted and np.isfinite(stranger.distance)

    events = store.query("SELECT payload, severity FROM events WHERE kind = 'face_template_skipped'")
    assert len(events) == 1 and events[0]["severity"] == "warning"
    payload = json.loads(events[0]["payload"])
    assert payload["employee_number"] == "1002" and payload["employee_id"] == bob["id"] and payload["reason"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("1002" in w for w in warnings)
    shown = events[0]["payload"] + " ".join(warnings)
    assert base64.b64encode(bad.astype(np.float32).tobytes()).decode()[:16] not in shown
    assert not any(f"{v:.3f}" in shown for v in realistic(9)[:8])  # no template value is echoed

    FaceGallery.from_store(store)  # a reload (the roster changed) does not repeat the event
    assert len(store.query("SELECT id FROM events WHERE kind = 'face_template_skipped'")) == 1


@pytest.mark.parametrize("kind", sorted(BAD))
def test_the_gallery_refuses_a_bad_template_added_in_memory(kind):
    gallery = FaceGallery()
    with pytest.raises(ValueError):
        gallery.add(1, BAD[kind]())
    assert len(gallery) == 0


def test_a_probe_whose_distances_overflow_is_refused_never_matched():
    gallery = FaceGallery()
    gallery.add(1, realistic(1))
    # finite values whose products overflow: |t|^2 - 2 t.q + |q|^2 becomes inf - inf = NaN, which no
    # comparison with the threshold refuses
    probe = (np.sign(realistic(1).sum()) * np.full(128, 3e38)).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        match = gallery.search(probe)
    assert not match.accepted and match.reason == "too_far"


@pytest.mark.parametrize("kind", ["all_zeros", "huge_1e30", "near_float32_max", "tiny"])
def test_the_contract_refuses_a_descriptor_whose_norm_no_face_has(kind):
    text = base64.b64encode(BAD[kind]().astype(np.float32).tobytes()).decode()
    with pytest.raises(ValueError, match="norm"):
        check_face_descriptor(text)


def test_the_norm_bounds_hold_every_real_descriptor_with_room(analyzer, people_dir):
    """Measured: every face of the shared photos has a descriptor norm well inside the bounds."""
    from terminal.vision.images import load_image

    norms = []
    for photo in sorted(p for p in people_dir.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        face = analyzer.largest_face(load_image(photo))
        if face is not None:
            norms.append(float(np.linalg.norm(face.descriptor)))
            check_face_descriptor(base64.b64encode(face.descriptor.astype(np.float32).tobytes()).decode())
    assert len(norms) > 50
    assert FACE_DESCRIPTOR_MIN_NORM * 2 < min(norms) and max(norms) * 2 < FACE_DESCRIPTOR_MAX_NORM

"""The enrolled faces in memory, and 1:N matching with a threshold and a margin.

All templates live in one contiguous float32 matrix (one row per template, several
rows per person) with the squared norms precomputed, so a probe is matched against
every template with one matrix-vector product: ``|t - q|^2 = |t|^2 - 2 t.q + |q|^2``.
A probe is accepted as identity A only when its distance to A's nearest template is
at most ``threshold`` AND the nearest template of any *other* identity is at least
``margin`` further away: a face half-way between two employees is refused rather than
guessed.

The gallery is a plain object (the evaluation tools fill it from photo folders);
:meth:`FaceGallery.from_store` loads the terminal's ``face_templates``.

A template must be 128 finite values whose norm a face can have (the contract's bounds,
:data:`contract.roster_rules.FACE_DESCRIPTOR_MIN_NORM` .. ``MAX_NORM``): huge finite values
would overflow the distances into NaN, which no threshold comparison refuses. One bad template
already in the store (an older roster, a hand-edited database) is skipped with a warning and a
``face_template_skipped`` event naming the employee, never its values; everyone else is still
recognised. A distance that is not a number counts as infinitely far.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from contract.roster_rules import FACE_DESCRIPTOR_MAX_NORM, FACE_DESCRIPTOR_MIN_NORM

if TYPE_CHECKING:
    from terminal.store.database import Store

log = logging.getLogger(__name__)

DIM = 128
# Chosen by measurement on the shared photos (docs/face-recognition.md, `seed-enroll eval-faces`).
DEFAULT_THRESHOLD = 0.55
DEFAULT_MARGIN = 0.04


@dataclass(frozen=True)
class Match:
    """The result of one 1:N search."""

    accepted: bool
    identity: Hashable | None  # the accepted identity, else None
    best_identity: Hashable | None  # nearest identity whatever the decision
    distance: float  # to the nearest template (inf with an empty gallery)
    second_identity: Hashable | None
    second_distance: float  # to the nearest template of another identity (inf if none)
    reason: str  # "match", "too_far", "ambiguous" or "empty_gallery"

    @property
    def margin(self) -> float:
        return self.second_distance - self.distance

    @property
    def score(self) -> float:
        """A similarity for the punch record: 1 - distance (higher is closer)."""
        return round(1.0 - self.distance, 4) if np.isfinite(self.distance) else 0.0


def _as_descriptors(descriptors: Any) -> np.ndarray:
    with np.errstate(over="ignore"):  # a float64 value beyond float32 becomes inf, refused just below
        array = np.asarray(descriptors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != DIM:
        raise ValueError(f"descriptors must be (N, {DIM}), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("descriptors contain NaN or infinity")
    return array


def template_problem(descriptor: Any) -> str | None:
    """Why a stored template cannot be used (None when it can); the reason never quotes its values."""
    array = np.asarray(descriptor)
    if array.size != DIM:
        return f"has {array.size} values, not {DIM}"
    with np.errstate(over="ignore", invalid="ignore"):
        values = array.astype(np.float64).reshape(DIM)
        if not np.all(np.isfinite(values)):
            return "holds NaN or infinity"
        norm = float(np.sqrt(np.sum(values * values)))
    if not FACE_DESCRIPTOR_MIN_NORM <= norm <= FACE_DESCRIPTOR_MAX_NORM:
        return f"has a norm outside {FACE_DESCRIPTOR_MIN_NORM:g}..{FACE_DESCRIPTOR_MAX_NORM:g} (no face gives it)"
    return None


def _as_templates(descriptors: Any) -> np.ndarray:
    array = _as_descriptors(descriptors)
    for row in array:
        problem = template_problem(row)
        if problem:
            raise ValueError(f"face template {problem}")
    return array


# (database, employee id, template digest) already reported by this process: a reload does not repeat the event
_reported: set[tuple[str, Hashable, str]] = set()
_reported_lock = threading.Lock()


def _report_skipped(store: Store, employee_id: Hashable, descriptor: np.ndarray, problem: str) -> None:
    key = (str(getattr(store, "path", id(store))), employee_id, hashlib.sha256(np.asarray(descriptor).tobytes()).hexdigest())
    with _reported_lock:
        if key in _reported:
            return
        _reported.add(key)
    number = None
    try:
        row = store.query_one("SELECT number FROM employees WHERE id = ?", (employee_id,))
        number = row["number"] if row else None
        log.warning("face template of employee %s (id %s) %s: skipped; the others are loaded", number, employee_id,
                    problem)
        store.record_event("face_template_skipped", {"employee_id": employee_id, "employee_number": number,
                                                     "reason": problem}, severity="warning")
    except Exception as exc:  # the gallery loads whatever the event's fate
        log.warning("face template of employee %s (id %s) %s: skipped (event not recorded: %s)", number, employee_id,
                    problem, exc)


class FaceGallery:
    """Templates of every enrolled identity; thread-safe for concurrent searches and updates."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, margin: float = DEFAULT_MARGIN):
        self.threshold = float(threshold)
        self.margin = float(margin)
        self._lock = threading.RLock()
        self._identities: list[Hashable] = []
        self._index: dict[Hashable, int] = {}
        self._matrix = np.zeros((0, DIM), np.float32)
        self._norms = np.zeros(0, np.float32)
        self._labels = np.zeros(0, np.int32)
        self._pending: list[tuple[int, np.ndarray]] = []

    # -- building ----------------------------------------------------------------------------
    def add(self, identity: Hashable, descriptors: Any) -> None:
        """Add one or more templates for an identity (ValueError for one no face can have)."""
        self._add(identity, _as_templates(descriptors))

    def _add(self, identity: Hashable, array: np.ndarray) -> None:
        with self._lock:
            label = self._index.get(identity)
            if label is None:
                label = len(self._identities)
                self._identities.append(identity)
                self._index[identity] = label
            self._pending.append((label, array))

    def add_many(self, rows: Iterable[tuple[Hashable, Any]]) -> None:
        for identity, descriptor in rows:
            self.add(identity, descriptor)

    def remove(self, identity: Hashable) -> int:
        """Drop every template of an identity; returns how many were removed."""
        with self._lock:
            self._consolidate()
            label = self._index.get(identity)
            if label is None:
                return 0
            keep = self._labels != label
            removed = int((~keep).sum())
            self._matrix, self._norms, self._labels = self._matrix[keep], self._norms[keep], self._labels[keep]
            self._labels = np.where(self._labels > label, self._labels - 1, self._labels).astype(np.int32)
            del self._identities[label]
            self._index = {ident: i for i, ident in enumerate(self._identities)}
            return removed

    def _consolidate(self) -> None:
        if not self._pending:
            return
        blocks = [self._matrix] + [a for _, a in self._pending]
        labels = [self._labels] + [np.full(len(a), lbl, np.int32) for lbl, a in self._pending]
        self._matrix = np.ascontiguousarray(np.concatenate(blocks), dtype=np.float32)
        self._labels = np.concatenate(labels).astype(np.int32)
        self._norms = np.einsum("ij,ij->i", self._matrix, self._matrix).astype(np.float32)
        self._pending.clear()

    @classmethod
    def from_store(cls, store: Store, threshold: float = DEFAULT_THRESHOLD, margin: float = DEFAULT_MARGIN) -> FaceGallery:
        """Every active employee's usable face templates, keyed by employee id (a bad one is skipped and reported)."""
        from terminal.store.employees import face_templates

        gallery = cls(threshold, margin)
        rows = face_templates(store)
        for employee_id, descriptor in rows:
            problem = template_problem(descriptor)
            if problem:
                _report_skipped(store, employee_id, descriptor, problem)
                continue
            gallery._add(employee_id, _as_descriptors(descriptor))  # checked just above
        log.info("face gallery loaded: %s templates of %s employees", len(gallery), gallery.identity_count)
        return gallery

    # -- facts -------------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock:
            return len(self._labels) + sum(len(a) for _, a in self._pending)

    @property
    def identity_count(self) -> int:
        return len(self._identities)

    @property
    def identities(self) -> list[Hashable]:
        return list(self._identities)

    def __contains__(self, identity: Hashable) -> bool:
        return identity in self._index

    @property
    def nbytes(self) -> int:
        """Memory held by the search arrays."""
        with self._lock:
            self._consolidate()
            return int(self._matrix.nbytes + self._norms.nbytes + self._labels.nbytes)

    # -- searching ---------------------------------------------------------------------------
    def _snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Hashable]]:
        with self._lock:
            self._consolidate()
            return self._matrix, self._norms, self._labels, list(self._identities)

    @staticmethod
    def _distances(matrix: np.ndarray, norms: np.ndarray, q: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            d2 = norms - 2.0 * (matrix @ q) + float(q @ q)
        # an overflow gives inf - inf = NaN, which every comparison would let through: infinitely far instead
        d2[np.isnan(d2)] = np.inf
        np.maximum(d2, 0.0, out=d2)
        return np.sqrt(d2)

    def distances(self, descriptor: Any) -> tuple[np.ndarray, np.ndarray]:
        """(distance to every template, identity label of every template)."""
        matrix, norms, labels, _ = self._snapshot()
        return self._distances(matrix, norms, _as_descriptors(descriptor)[0]), labels

    def search(self, descriptor: Any, exclude: Hashable | None = None) -> Match:
        """Nearest identity with the accept/refuse decision; ``exclude`` leaves one identity out."""
        matrix, norms, labels, identities = self._snapshot()
        distances = self._distances(matrix, norms, _as_descriptors(descriptor)[0])
        if exclude is not None and exclude in identities:
            keep = labels != identities.index(exclude)
            distances, labels = distances[keep], labels[keep]
        if distances.size == 0:
            return Match(False, None, None, float("inf"), None, float("inf"), "empty_gallery")
        best = int(np.argmin(distances))
        best_label = int(labels[best])
        best_distance = float(distances[best])
        others = distances[labels != best_label]
        if others.size:
            second = int(np.argmin(others))
            second_distance = float(others[second])
            second_identity = identities[int(labels[labels != best_label][second])]
        else:
            second_distance, second_identity = float("inf"), None
        identity = identities[best_label]
        if best_distance > self.threshold:
            return Match(False, None, identity, best_distance, second_identity, second_distance, "too_far")
        if second_distance - best_distance < self.margin:
            return Match(False, None, identity, best_distance, second_identity, second_distance, "ambiguous")
        return Match(True, identity, identity, best_distance, second_identity, second_distance, "match")


def pairwise_distances(a: Sequence[np.ndarray] | np.ndarray, b: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Euclidean distances between two sets of descriptors, (len(a), len(b))."""
    a = _as_descriptors(a)
    b = _as_descriptors(b)
    d2 = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(d2, 0.0))

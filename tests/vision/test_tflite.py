"""mediapipe's model files run directly with LiteRT: found in the wheel, loaded, refused clearly when missing."""
from __future__ import annotations

import numpy as np
import pytest

from terminal.vision.models import ModelError
from terminal.vision.tflite import FACE_DETECTION_FULL, FACE_DETECTION_SHORT, FACE_LANDMARK, LiteModel, mediapipe_model_path


@pytest.mark.parametrize(("model", "size", "outputs"), [
    (FACE_LANDMARK, (192, 192), {(1, 1, 1, 1404), (1, 1, 1, 1)}),
    (FACE_DETECTION_FULL, (192, 192), {(1, 2304, 16), (1, 2304, 1)}),
    (FACE_DETECTION_SHORT, (128, 128), {(1, 896, 16), (1, 896, 1)}),
])
def test_each_model_loads_from_the_wheel_and_gives_its_outputs(model, size, outputs):
    assert mediapipe_model_path(model).stat().st_size > 100_000
    lite = LiteModel(model)
    assert lite.size == size
    result = lite.run(np.zeros((1, size[1], size[0], 3), np.float32))
    assert {r.shape for r in result} == outputs
    assert all(np.isfinite(r).all() for r in result)


def test_a_model_missing_from_the_wheel_is_a_clear_model_error():
    with pytest.raises(ModelError, match="no_such_model.tflite missing from .*reinstall mediapipe"):
        LiteModel("face_landmark/no_such_model.tflite")


def test_a_model_needing_an_operator_litert_lacks_is_a_clear_model_error():
    # the iris-refining mesh uses a custom operator only mediapipe's graph provides
    with pytest.raises(ModelError, match="cannot load face model face_landmark/face_landmark_with_attention"):
        LiteModel("face_landmark/face_landmark_with_attention.tflite")


def test_an_input_of_the_wrong_shape_is_refused():
    lite = LiteModel(FACE_DETECTION_SHORT)
    with pytest.raises(ValueError):
        lite.run(np.zeros((1, 64, 64, 3), np.float32))

"""The label-error finder's per-image score (workers/runners/label_check.py), on hand-made probabilities."""

import numpy as np

from workers.runners.label_check import image_score, segment_checks


def probabilities_of(classes: np.ndarray, *, top: float, k: int = 2) -> np.ndarray:
    """(h, w, k) probabilities whose argmax is `classes` (1..k) with probability `top`."""
    out = np.full((*classes.shape, k), (1.0 - top) / (k - 1), dtype=np.float32)
    for index in range(1, k + 1):
        out[..., index - 1][classes == index] = top
    return out


def scene():
    """Road (segment 1, class 1) with a car (segment 2, class 2) in a 20x20 map; the model sees the same."""
    label_map = np.ones((20, 20), dtype=np.uint32)
    label_map[5:15, 5:15] = 2
    model = np.where(label_map == 2, 2, 1)
    return label_map, model


def by_id(checks):
    return {c.segment_id: c for c in checks}


def test_a_segment_the_model_agrees_with_scores_about_zero():
    label_map, model = scene()
    checks = by_id(segment_checks(label_map, {1: 1, 2: 2}, probabilities_of(model, top=0.95)))
    assert checks[1].disagreement < 0.01 and checks[2].disagreement < 0.01
    assert image_score(list(checks.values())) < 0.01


def test_a_mislabelled_segment_scores_high_and_names_the_image():
    label_map, model = scene()
    # The approved labels call the car road's class (1); the model confidently says car (2).
    checks = by_id(segment_checks(label_map, {1: 1, 2: 1}, probabilities_of(model, top=0.95)))
    assert checks[2].iou == 0.0 and checks[2].disagreement == 1.0
    assert image_score(list(checks.values())) == 1.0


def test_other_instances_of_the_class_are_not_blamed_on_a_segment():
    label_map, model = scene()
    label_map[16:19, 16:19] = 3  # a second car, also predicted as a car
    model = np.where(label_map >= 2, 2, 1)
    checks = by_id(segment_checks(label_map, {1: 1, 2: 2, 3: 2}, probabilities_of(model, top=0.95)))
    assert checks[2].disagreement < 0.01 and checks[3].disagreement < 0.01


def test_an_unconfident_model_flags_nothing():
    label_map, model = scene()
    checks = segment_checks(label_map, {1: 1, 2: 1}, probabilities_of(model, top=0.6))
    assert all(c.disagreement is None for c in checks)
    assert image_score(checks) is None


def test_a_class_the_model_does_not_know_is_not_judged():
    label_map, model = scene()
    checks = by_id(segment_checks(label_map, {1: 1}, probabilities_of(model, top=0.95)))
    assert checks[2].disagreement is None and checks[1].disagreement is not None


def test_a_full_size_map_is_sampled_onto_the_working_grid():
    label_map, model = scene()
    big = np.kron(label_map, np.ones((4, 4), dtype=np.uint32))  # 80x80 labels, 20x20 probabilities
    checks = by_id(segment_checks(big, {1: 1, 2: 1}, probabilities_of(model, top=0.95)))
    assert checks[2].disagreement == 1.0

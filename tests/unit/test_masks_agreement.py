"""Agreement metrics against cases computed by hand."""

import numpy as np
import pytest

from labeling.masks.agreement import (
    Labelling,
    disagreement_map,
    instance_agreement,
    majority_merge,
    panoptic_agreement,
    semantic_agreement,
)

CAR, ROAD, SKY = 10, 20, 30


def lab(rows, classes):
    return Labelling(np.array(rows, dtype=np.uint32), classes)


def test_semantic_miou_by_hand():
    a = lab([[1, 1, 2, 2]] * 4, {1: ROAD, 2: SKY})
    b = lab([[7, 7, 7, 8]] * 4, {7: ROAD, 8: SKY})  # other segment ids: only classes count
    result = semantic_agreement(a, b)
    # road: A 8 px, B 12 px, both 8 -> 8/12; sky: A 8, B 4, both 4 -> 4/8
    assert result.per_class[ROAD].iou == pytest.approx(2 / 3)
    assert result.per_class[SKY].iou == pytest.approx(1 / 2)
    assert result.score == pytest.approx(7 / 12)
    assert result.as_dict()["per_class"] == {ROAD: {"iou": pytest.approx(2 / 3)}, SKY: {"iou": 0.5}}


def test_instance_matching_by_hand():
    a = lab([[1, 1, 0, 0],
             [1, 1, 0, 0],
             [0, 0, 2, 2],
             [0, 0, 2, 2]], {1: CAR, 2: CAR})
    b = lab([[5, 5, 0, 7],
             [5, 0, 6, 6],
             [0, 0, 6, 6],
             [0, 0, 6, 6]], {5: CAR, 6: CAR, 7: CAR})
    # 1~5: IoU 3/4 (a match); 2~6: 4 / 6 = 0.667 (a match); 7 matches nothing.
    result = instance_agreement(a, b)
    car = result.per_class[CAR]
    assert (car.tp, car.fp, car.fn) == (2, 1, 0)
    assert car.iou_sum == pytest.approx(3 / 4 + 4 / 6)
    assert result.score == pytest.approx((3 / 4 + 4 / 6) / 3)


def test_iou_of_exactly_one_half_is_not_a_match():
    a = lab([[1, 1, 0, 0]], {1: CAR})
    b = lab([[2, 2, 2, 2]], {2: CAR})  # 2 / 4
    car = instance_agreement(a, b).per_class[CAR]
    assert (car.tp, car.fp, car.fn) == (0, 1, 1)
    assert instance_agreement(a, b).score == 0.0


def test_panoptic_quality_by_hand_and_classes_must_agree():
    a = lab([[1, 1, 1, 3],
             [2, 2, 2, 3]], {1: ROAD, 2: CAR, 3: CAR})
    b = lab([[4, 4, 4, 4],
             [5, 5, 6, 6]], {4: ROAD, 5: CAR, 6: SKY})
    # road: 1~4 IoU 3/4 -> TP, SQ .75, RQ 1, PQ .75
    # car: 2~5 IoU 2/3 -> TP; 3 unmatched (FN) -> SQ 2/3, RQ 1 / 1.5, PQ 4/9
    # sky: 6 overlaps car 2 and 3 but is another class -> FP: PQ 0
    result = panoptic_agreement(a, b)
    assert result.per_class[ROAD].pq == pytest.approx(0.75)
    assert (result.per_class[CAR].tp, result.per_class[CAR].fn) == (1, 1)
    assert result.per_class[CAR].pq == pytest.approx(4 / 9)
    assert result.per_class[SKY].pq == 0
    assert result.score == pytest.approx((0.75 + 4 / 9 + 0) / 3)
    assert result.sq == pytest.approx((0.75 + 2 / 3 + 0) / 3)
    assert result.rq == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert set(result.as_dict()) == {"metric", "score", "per_class", "sq", "rq"}


@pytest.mark.parametrize("metric", [semantic_agreement, instance_agreement, panoptic_agreement])
def test_identical_and_empty_maps_agree_fully(metric):
    same = lab([[1, 2], [2, 0]], {1: CAR, 2: ROAD})
    assert metric(same, same).score == pytest.approx(1.0)
    empty = lab([[0, 0]], {})
    assert metric(empty, empty).score == 1.0


def test_maps_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="differ in size"):
        semantic_agreement(lab([[1]], {1: CAR}), lab([[1, 1]], {1: CAR}))


def test_disagreement_map_is_the_share_outside_the_majority():
    x = lab([[1, 1, 0]], {1: CAR})
    y = lab([[1, 2, 0]], {1: CAR, 2: ROAD})
    z = lab([[3, 3, 3]], {3: ROAD})
    heat = disagreement_map([x, y, z])
    # pixel 0: car car road -> 1/3; pixel 1: car road road -> 1/3; pixel 2: none none road -> 1/3
    assert heat.tolist() == [[pytest.approx(1 / 3)] * 3]
    assert disagreement_map([x, x]).tolist() == [[0.0, 0.0, 0.0]]


def test_majority_merge_keeps_what_most_annotators_agree_on():
    a = lab([[1, 1, 1, 0],
             [2, 2, 0, 0]], {1: CAR, 2: ROAD})
    b = lab([[5, 5, 0, 0],
             [6, 6, 6, 0]], {5: CAR, 6: ROAD})  # 5 ~ 1 (IoU 2/3), 6 ~ 2 (IoU 2/3)
    c = lab([[9, 9, 9, 9],
             [0, 0, 0, 8]], {9: CAR, 8: SKY})  # 9 ~ 1 (IoU 3/4); 8 matches nothing
    merged = majority_merge([a, b, c])
    # car: pixels (0,0),(0,1) have 3 votes, (0,2) 2 of 3; road (1,0),(1,1) 2 of 3; (1,2) only b; sky only c.
    assert merged.label_map.tolist() == [[1, 1, 1, 0], [2, 2, 0, 0]]
    assert merged.classes == {1: CAR, 2: ROAD}


def test_majority_merge_of_two_keeps_only_agreement_and_new_ids_for_unmatched():
    a = lab([[1, 1, 0]], {1: CAR})
    b = lab([[3, 3, 4]], {3: CAR, 4: ROAD})
    merged = majority_merge([a, b])
    assert merged.label_map.tolist() == [[1, 1, 0]]  # road: 1 of 2 votes is no majority
    assert merged.classes == {1: CAR}
    c = lab([[0, 7, 7]], {7: ROAD})
    merged = majority_merge([a, c, c])  # c's road (unmatched in a) wins with 2 of 3: it gets a new id
    assert merged.label_map.tolist() == [[0, 2, 2]]
    assert merged.classes == {2: ROAD}


def test_majority_merge_keeps_one_segment_per_stuff_class():
    a = lab([[1, 1, 0, 0]], {1: ROAD})
    b = lab([[0, 4, 4, 4]], {4: ROAD})  # IoU 1/4 with a's road: no match, a new id
    merged = majority_merge([a, b, b], stuff_classes=frozenset({ROAD}))
    assert merged.label_map.tolist() == [[0, 2, 2, 2]]  # the majority's road, as the only road segment
    merged = majority_merge([a, a, b, b, b], stuff_classes=frozenset({ROAD}))
    assert merged.label_map.tolist() == [[0, 2, 2, 2]]
    two_roads = majority_merge([lab([[1, 0, 2]], {1: ROAD, 2: ROAD})] * 3, stuff_classes=frozenset({ROAD}))
    assert two_roads.label_map.tolist() == [[1, 0, 1]] and two_roads.classes == {1: ROAD}

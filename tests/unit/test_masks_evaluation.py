"""Dataset-level evaluation against cases computed by hand and a boolean-mask reference for PQ."""

import json

import numpy as np
import pytest

from labeling.masks.agreement import Labelling
from labeling.masks.evaluation import Evaluator

CAR, PERSON, ROAD, SKY = 10, 11, 20, 30
KINDS = {CAR: "thing", PERSON: "thing", ROAD: "stuff", SKY: "stuff"}


def lab(rows, classes):
    return Labelling(np.array(rows, dtype=np.uint32), classes)


def evaluate(*pairs, kinds=KINDS):
    evaluator = Evaluator(kinds)
    for pair in pairs:
        evaluator.add(*pair)
    return evaluator.result()


def test_a_perfect_prediction_scores_one_everywhere():
    gt = lab([[1, 1, 2, 2, 0],
              [1, 1, 2, 2, 0],
              [3, 3, 3, 4, 4]], {1: CAR, 2: PERSON, 3: ROAD, 4: CAR})
    pred = lab([[7, 7, 8, 8, 0],
                [7, 7, 8, 8, 0],
                [5, 5, 5, 6, 6]], {7: CAR, 8: PERSON, 5: ROAD, 6: CAR})  # other ids: only segments count
    result = evaluate((gt, pred), (gt, gt))
    assert result.images == 2
    assert result.semantic.miou == 1.0 and result.semantic.pixel_accuracy == 1.0
    assert result.panoptic.all.pq == 1.0 and result.panoptic.all.classes == 3
    assert (result.panoptic.things.classes, result.panoptic.stuff.classes) == (2, 1)
    assert result.panoptic.per_class[CAR].tp == 4
    instance = result.instance
    assert (instance.ap, instance.ap50, instance.ap75, instance.ar100) == (1.0, 1.0, 1.0, 1.0)
    assert (instance.ap_small, instance.ap_medium, instance.ap_large) == (1.0, None, None)
    assert instance.per_class == {CAR: 1.0, PERSON: 1.0}
    assert (instance.ground_truth_instances, instance.predicted_instances) == (6, 6)


def two_images():
    gt_a = lab([[1, 1, 1, 1],
                [2, 2, 2, 2]], {1: ROAD, 2: CAR})
    pred_a = lab([[5, 5, 5, 6],
                  [6, 6, 6, 6]], {5: ROAD, 6: CAR})
    gt_b = lab([[3, 3, 3, 3],
                [3, 3, 3, 3]], {3: ROAD})
    pred_b = lab([[7, 7, 7, 7],
                  [8, 8, 8, 8]], {7: ROAD, 8: CAR})
    return (gt_a, pred_a), (gt_b, pred_b)


def test_semantic_iou_sums_intersections_and_unions_over_images():
    result = evaluate(*two_images()).semantic
    # road: A 3 of gt 4 / pred 3 -> I 3, U 4; B gt 8, pred 4 -> I 4, U 8. Summed: 7 / 12.
    # car: A gt 4, pred 5 -> I 4, U 5; B gt 0, pred 4 -> I 0, U 4. Summed: 4 / 9.
    assert (result.per_class[ROAD].intersection, result.per_class[ROAD].union) == (7, 12)
    assert (result.per_class[CAR].intersection, result.per_class[CAR].union) == (4, 9)
    assert result.miou == pytest.approx((7 / 12 + 4 / 9) / 2)  # not the mean of the per-image mIoUs
    assert result.pixel_accuracy == pytest.approx(11 / 16)
    assert result.as_dict()["per_class"][CAR] == {"iou": pytest.approx(4 / 9), "intersection": 4, "union": 9}


def test_panoptic_sums_counts_over_images_and_splits_things_and_stuff():
    result = evaluate(*two_images()).panoptic
    # A: road 1~5 IoU 3/4 (TP), car 2~6 IoU 4/5 (TP). B: road 3~7 IoU 4/8 = 0.5 is no match (FN + FP),
    # car 8 matches nothing (FP).
    road, car = result.per_class[ROAD], result.per_class[CAR]
    assert (road.tp, road.fp, road.fn, road.iou_sum) == (1, 1, 1, 0.75)
    assert (car.tp, car.fp, car.fn) == (1, 1, 0)
    assert road.pq == pytest.approx(0.75 * 0.5)
    assert car.pq == pytest.approx(0.8 * 2 / 3)
    assert result.stuff.pq == pytest.approx(0.375) and result.stuff.classes == 1
    assert result.things.pq == pytest.approx(8 / 15) and result.things.classes == 1
    assert result.all.pq == pytest.approx((0.375 + 8 / 15) / 2)
    assert result.all.sq == pytest.approx((0.75 + 0.8) / 2)
    assert result.all.rq == pytest.approx((0.5 + 2 / 3) / 2)
    d = result.as_dict()
    assert d["pq"] == pytest.approx((0.375 + 8 / 15) / 2)
    assert d["things"]["classes"] == 1 and d["stuff"]["pq"] == pytest.approx(0.375)
    assert d["per_class"][CAR] == {"pq": pytest.approx(8 / 15), "sq": pytest.approx(0.8),
                                   "rq": pytest.approx(2 / 3), "tp": 1, "fp": 1, "fn": 0}


def test_predictions_over_unlabelled_ground_truth_are_void():
    gt = lab([[1, 1, 1, 1, 2, 0, 0, 0, 3]], {1: CAR, 2: ROAD, 3: ROAD})
    pred = lab([[5, 5, 5, 5, 7, 7, 7, 6, 8]], {5: CAR, 7: CAR, 6: PERSON, 8: CAR})
    result = evaluate((gt, pred))
    # semantic: pixels 5..7 are void. car: gt 4, pred 5 (4 + 1 on road), I 4 -> 4/5; road: gt 2, I 0 -> 0.
    # person lies only over void: no class.
    assert {c: (s.intersection, s.union) for c, s in result.semantic.per_class.items()} == {CAR: (4, 6),
                                                                                          ROAD: (0, 2)}
    assert result.semantic.pixel_accuracy == pytest.approx(4 / 6)
    # panoptic: 5~1 TP at IoU 1; 7 is 2 of 3 pixels void -> not an FP; 6 is all void -> not an FP;
    # 8 is over road (not void) -> FP; road 2 and 3 unmatched -> 2 FN.
    car = result.panoptic.per_class[CAR]
    assert (car.tp, car.fp, car.fn, car.iou_sum) == (1, 1, 0, 1.0)
    assert PERSON not in result.panoptic.per_class
    assert (result.panoptic.per_class[ROAD].fn, result.panoptic.per_class[ROAD].fp) == (2, 0)


def test_void_is_removed_from_the_union_and_half_void_is_still_a_false_positive():
    gt = lab([[1, 1, 0, 0, 2, 0]], {1: CAR, 2: ROAD})
    pred = lab([[5, 5, 5, 5, 9, 9]], {5: CAR, 9: PERSON})
    car = evaluate((gt, pred)).panoptic.per_class
    # 5 ~ 1: I 2, union 4 - 2 (void) + 2 - 2 = 2 -> IoU 1 (without void handling 0.5, no match).
    assert (car[CAR].tp, car[CAR].iou_sum) == (1, 1.0)
    assert car[PERSON].fp == 1  # exactly half void: an FP


def test_ground_truth_segments_without_a_class_are_void():
    gt = lab([[1, 1, 4, 4]], {1: CAR})
    pred = lab([[5, 5, 5, 5]], {5: CAR})
    result = evaluate((gt, pred))
    assert result.semantic.per_class[CAR].iou == 1.0
    assert result.panoptic.per_class[CAR].iou_sum == 1.0


def test_shifted_instance_matches_at_iou_half_but_not_three_quarters():
    gt = lab([[0, 1, 1, 1, 1, 0, 0, 0],
              [0, 1, 1, 1, 1, 0, 0, 0]], {1: CAR})
    pred = lab([[0, 0, 5, 5, 5, 5, 0, 0],
                [0, 0, 5, 5, 5, 5, 0, 0]], {5: CAR})  # I 6, U 10: IoU 0.6
    instance = evaluate((gt, pred)).instance
    assert instance.ap50 == pytest.approx(1.0)
    assert instance.ap75 == 0.0
    assert instance.ap == pytest.approx(0.3)  # matched at 0.50, 0.55 and 0.60 of the ten thresholds
    assert instance.per_class == {CAR: instance.ap}


def test_a_low_score_false_positive_ranks_below_the_true_positive():
    gt = lab([[1, 1, 0, 0],
              [1, 1, 0, 0]], {1: CAR})
    pred = lab([[5, 5, 0, 0],
                [5, 5, 0, 6]], {5: CAR, 6: CAR})
    assert evaluate((gt, pred, {5: 0.9, 6: 0.1})).instance.ap == pytest.approx(1.0)
    assert evaluate((gt, pred, {6: 0.5})).instance.ap == pytest.approx(1.0)  # 5 defaults to 1.0
    flipped = evaluate((gt, pred, {5: 0.1, 6: 0.9})).instance
    assert flipped.ap == pytest.approx(0.5)  # the FP first: precision 1/2 at every recall
    assert flipped.ar100 == 1.0


def test_empty_prediction_and_empty_ground_truth():
    gt = lab([[1, 1, 2, 2]], {1: CAR, 2: ROAD})
    empty = lab([[0, 0, 0, 0]], {})
    missed = evaluate((gt, empty))
    assert missed.semantic.miou == 0.0 and missed.semantic.pixel_accuracy == 0.0
    assert missed.panoptic.all.pq == 0.0 and missed.panoptic.per_class[CAR].fn == 1
    assert missed.instance.ap == 0.0 and missed.instance.predicted_instances == 0

    nothing_to_find = evaluate((empty, gt))  # everything the prediction paints is void
    assert nothing_to_find.semantic.miou is None and nothing_to_find.semantic.pixel_accuracy is None
    assert nothing_to_find.panoptic.all.pq is None and nothing_to_find.panoptic.per_class == {}
    instance = nothing_to_find.instance
    assert instance.ap is None and instance.ap50 is None and instance.ar100 is None
    assert instance.per_class == {CAR: None} and instance.predicted_instances == 1

    nothing_at_all = evaluate()
    assert nothing_at_all.images == 0 and nothing_at_all.semantic.miou is None
    json.dumps(nothing_at_all.as_dict())


def test_classes_on_one_side_only():
    gt = lab([[1, 1, 1, 1]], {1: ROAD})
    pred = lab([[1, 1, 5, 5]], {1: ROAD, 5: CAR})
    result = evaluate((gt, pred))
    assert result.semantic.per_class[ROAD].iou == 0.5 and result.semantic.per_class[CAR].iou == 0.0
    assert result.semantic.miou == 0.25
    assert result.instance.ap is None  # no ground-truth thing: COCOeval's -1 becomes None
    assert result.instance.per_class == {CAR: None}
    person_only_in_gt = evaluate((lab([[3, 3]], {3: PERSON}), lab([[7, 7]], {7: CAR}))).instance
    assert person_only_in_gt.ap == 0.0 and person_only_in_gt.per_class == {CAR: None, PERSON: 0.0}


def test_large_segment_ids_give_the_same_result():
    gt, pred = two_images()[0]
    big = 2**31
    gt_big = Labelling(np.where(gt.label_map > 0, gt.label_map + big, 0).astype(np.uint32),
                       {k + big: v for k, v in gt.classes.items()})
    pred_big = Labelling(np.where(pred.label_map > 0, pred.label_map + big, 0).astype(np.uint32),
                         {k + big: v for k, v in pred.classes.items()})
    assert evaluate((gt_big, pred_big)).as_dict() == evaluate((gt, pred)).as_dict()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one size"):
        evaluate((lab([[1]], {1: CAR}), lab([[1, 1]], {1: CAR})))
    with pytest.raises(ValueError, match="without a kind"):
        evaluate((lab([[1]], {1: 99}), lab([[1]], {1: CAR})))
    with pytest.raises(ValueError, match="'thing' or 'stuff'"):
        Evaluator({CAR: "object"})


def test_results_are_json_ready_and_nothing_is_printed(capsys):
    result = evaluate(*two_images())
    text = json.dumps(result.as_dict())
    assert capsys.readouterr().out == ""
    d = json.loads(text)
    assert set(d) == {"images", "semantic", "panoptic", "instance"}
    assert set(d["instance"]) == {"ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large", "ar100",
                                  "ground_truth_instances", "predicted_instances", "per_class"}
    assert d["instance"]["per_class"] == {str(CAR): {"ap": pytest.approx(result.instance.per_class[CAR])}}
    assert all(type(v) is float for v in (result.semantic.miou, result.panoptic.all.pq, result.instance.ap))


def reference_pq(pairs, kinds):
    """panopticapi's pq_compute_single_core with one boolean mask per segment."""
    stats: dict[int, list] = {}
    for gt, pred in pairs:
        void = ~np.isin(gt.label_map, [s for s in gt.classes if s])
        gts = {s: gt.label_map == s for s in np.unique(gt.label_map).tolist() if s in gt.classes}
        preds = {s: pred.label_map == s for s in np.unique(pred.label_map).tolist() if s in pred.classes}
        matched_gt, matched_pred = set(), set()
        for g, gm in gts.items():
            for p, pm in preds.items():
                if gt.classes[g] != pred.classes[p]:
                    continue
                inter = np.count_nonzero(gm & pm)
                union = np.count_nonzero(pm) - np.count_nonzero(pm & void) + np.count_nonzero(gm) - inter
                if inter / union > 0.5:
                    matched_gt.add(g)
                    matched_pred.add(p)
                    s = stats.setdefault(gt.classes[g], [0, 0, 0, 0.0])
                    s[0] += 1
                    s[3] += inter / union
        for g in gts.keys() - matched_gt:
            stats.setdefault(gt.classes[g], [0, 0, 0, 0.0])[2] += 1
        for p, pm in preds.items():
            if p not in matched_pred and np.count_nonzero(pm & void) / np.count_nonzero(pm) <= 0.5:
                stats.setdefault(pred.classes[p], [0, 0, 0, 0.0])[1] += 1
    return stats


def random_pair(rng):
    """A ground truth of overlapping rectangles with void, and a prediction that shifts, relabels and adds."""
    h, w = 24, 32
    classes = list(KINDS)
    gt = np.zeros((h, w), dtype=np.uint32)
    gt_classes = {}
    for sid in range(1, 12):
        y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
        gt[y:y + rng.integers(3, 12), x:x + rng.integers(3, 14)] = sid
        gt_classes[sid] = classes[rng.integers(len(classes))]
    pred = np.roll(gt, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1)).astype(np.uint32) * 3
    pred_classes = {sid * 3: c if rng.random() > 0.2 else classes[rng.integers(len(classes))]
                    for sid, c in gt_classes.items()}
    for sid in range(100, 104):
        y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
        pred[y:y + rng.integers(2, 8), x:x + rng.integers(2, 8)] = sid
        pred_classes[sid] = classes[rng.integers(len(classes))]
    return Labelling(gt, gt_classes), Labelling(pred, pred_classes)


def test_panoptic_matches_a_boolean_mask_reference():
    rng = np.random.default_rng(7)
    pairs = [random_pair(rng) for _ in range(12)]
    expected = reference_pq(pairs, KINDS)
    per_class = evaluate(*pairs).panoptic.per_class
    assert sum(s[0] for s in expected.values()) > 5 and sum(s[1] for s in expected.values()) > 5  # not trivial
    assert {c: (s.tp, s.fp, s.fn) for c, s in per_class.items()} == {c: tuple(s[:3]) for c, s in expected.items()}
    for c, s in per_class.items():
        assert s.iou_sum == pytest.approx(expected[c][3])

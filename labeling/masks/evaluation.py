"""Dataset-level evaluation of a prediction (a model's pre-labels, an annotator's work) against ground truth.

Pure numpy + pycocotools, no Django. Images are added one at a time to an `Evaluator`; only per-class sums (and,
for mask AP, the RLEs COCOeval needs) are kept. Unlike `agreement.py` the two sides are not symmetric:

  void       ground-truth pixels that are unlabelled (0, or a segment without a class) are void. A prediction
             segment id without a class counts as unlabelled.
  semantic   per-class IoU = intersection / union of the class maps, both summed over all images and counted on
             non-void pixels only (a prediction over void is neither right nor wrong); mIoU = mean over classes
             with a non-zero union. Pixel accuracy = correctly classed / ground-truth-labelled pixels.
  panoptic   PQ, SQ, RQ as panopticapi computes them: within a class, segments match at IoU > 0.5 where the
             union leaves out the void part of the predicted segment; an unmatched predicted segment more than
             half over void is not a false positive. TP, FP, FN and the IoU sum are summed over all images and
             averaged over classes with TP + FP + FN > 0 (all, things, stuff). No crowd regions.
  instance   mask AP of thing segments by pycocotools' COCOeval (iouType "segm"), with each predicted
             segment's score (1.0 by default). Numbers COCOeval cannot give (-1: no ground truth) are None.
Scores only order detections for AP; semantic and panoptic use every segment as it is.
"""

import contextlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from labeling.masks.agreement import MATCH_IOU, ClassScore, Labelling

KINDS = ("thing", "stuff")


@dataclass(frozen=True)
class ClassIoU:
    intersection: int
    union: int

    @property
    def iou(self) -> float:
        return self.intersection / self.union


@dataclass(frozen=True)
class SemanticEvaluation:
    miou: float | None  # None: no class on either side
    pixel_accuracy: float | None  # None: no ground-truth-labelled pixel
    per_class: dict[int, ClassIoU] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "miou": self.miou,
            "pixel_accuracy": self.pixel_accuracy,
            "per_class": {
                c: {"iou": s.iou, "intersection": s.intersection, "union": s.union}
                for c, s in sorted(self.per_class.items())
            },
        }


@dataclass(frozen=True)
class Quality:
    """PQ, SQ and RQ averaged over `classes` classes; None when there are none."""

    pq: float | None
    sq: float | None
    rq: float | None
    classes: int

    @classmethod
    def mean(cls, scores: list[ClassScore]) -> "Quality":
        if not scores:
            return cls(pq=None, sq=None, rq=None, classes=0)
        n = len(scores)
        return cls(
            pq=sum(s.pq for s in scores) / n,
            sq=sum(s.sq for s in scores) / n,
            rq=sum(s.rq for s in scores) / n,
            classes=n,
        )

    def as_dict(self) -> dict:
        return {"pq": self.pq, "sq": self.sq, "rq": self.rq, "classes": self.classes}


@dataclass(frozen=True)
class PanopticEvaluation:
    all: Quality
    things: Quality
    stuff: Quality
    per_class: dict[int, ClassScore] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            **self.all.as_dict(),
            "things": self.things.as_dict(),
            "stuff": self.stuff.as_dict(),
            "per_class": {
                c: {"pq": s.pq, "sq": s.sq, "rq": s.rq, "tp": s.tp, "fp": s.fp, "fn": s.fn}
                for c, s in sorted(self.per_class.items())
            },
        }


@dataclass(frozen=True)
class InstanceEvaluation:
    ap: float | None  # IoU 0.50:0.95, 100 detections per image
    ap50: float | None
    ap75: float | None
    ap_small: float | None
    ap_medium: float | None
    ap_large: float | None
    ar100: float | None
    ground_truth_instances: int
    predicted_instances: int
    per_class: dict[int, float | None] = field(default_factory=dict)  # AP 0.50:0.95; None: no ground truth

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in (
            "ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large", "ar100",
            "ground_truth_instances", "predicted_instances",
        )}
        out["per_class"] = {c: {"ap": ap} for c, ap in sorted(self.per_class.items())}
        return out


@dataclass(frozen=True)
class Evaluation:
    images: int
    semantic: SemanticEvaluation
    panoptic: PanopticEvaluation
    instance: InstanceEvaluation

    def as_dict(self) -> dict:
        return {
            "images": self.images,
            "semantic": self.semantic.as_dict(),
            "panoptic": self.panoptic.as_dict(),
            "instance": self.instance.as_dict(),
        }


def _pair_counts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel count of every (a id, b id) pair that occurs, 0 included: one counting pass over the two maps."""
    la, lb = a.ravel(), b.ravel()
    span = int(lb.max(initial=0)) + 1
    if (int(la.max(initial=0)) + 1) * span <= 4 * la.size + 1024:  # small ids: a dense histogram is fastest
        counts = np.bincount(la.astype(np.int64) * span + lb, minlength=1)
        pairs = np.flatnonzero(counts)
        return pairs // span, pairs % span, counts[pairs]
    pairs, counts = np.unique((la.astype(np.uint64) << np.uint64(32)) | lb, return_counts=True)
    return (pairs >> np.uint64(32)).astype(np.int64), (pairs & np.uint64(0xFFFFFFFF)).astype(np.int64), counts


class Evaluator:
    """Accumulates semantic, panoptic and instance evaluation over images: `add` each image, then `result()`.

    `kinds` maps every class id either side may use to "thing" or "stuff"; only thing classes take part in
    mask AP. A class missing from `kinds` is a ValueError.
    """

    def __init__(self, kinds: Mapping[int, str]):
        bad = {c: k for c, k in kinds.items() if k not in KINDS}
        if bad:
            raise ValueError(f"class kinds must be 'thing' or 'stuff', got {bad}")
        self.kinds = dict(kinds)
        self.images = 0
        self._semantic: dict[int, list[int]] = {}  # class -> [intersection, gt area, predicted area], non-void
        self._correct = 0
        self._labelled = 0
        self._panoptic: dict[int, list] = {}  # class -> [tp, fp, fn, iou sum]
        self._coco_images: list[dict] = []
        self._coco_gt: list[dict] = []
        self._coco_dt: list[dict] = []

    def add(self, ground_truth: Labelling, prediction: Labelling, scores: Mapping[int, float] | None = None) -> None:
        """Add one image. `scores` maps prediction segment ids to a confidence (1.0 when missing)."""
        gt_map, pred_map = np.asarray(ground_truth.label_map), np.asarray(prediction.label_map)
        if gt_map.ndim != 2 or gt_map.shape != pred_map.shape:
            raise ValueError(f"label maps must be 2-D and of one size: {gt_map.shape} and {pred_map.shape}")
        gt_ids, pred_ids, counts = _pair_counts(gt_map, pred_map)
        gt_ids, pred_ids, counts = gt_ids.tolist(), pred_ids.tolist(), counts.tolist()
        gt_class = self._classes(set(gt_ids), ground_truth.classes)
        pred_class = self._classes(set(pred_ids), prediction.classes)

        gt_area: dict[int, int] = {}
        pred_area: dict[int, int] = {}
        pred_void: dict[int, int] = {}  # the part of a predicted segment over void
        for g, p, n in zip(gt_ids, pred_ids, counts, strict=True):
            gc, pc = gt_class.get(g), pred_class.get(p)
            if gc is not None:
                gt_area[g] = gt_area.get(g, 0) + n
            if pc is not None:
                pred_area[p] = pred_area.get(p, 0) + n
                if gc is None:
                    pred_void[p] = pred_void.get(p, 0) + n
            if gc is None:
                continue
            self._labelled += n
            self._semantic.setdefault(gc, [0, 0, 0])[1] += n
            if pc is not None:
                self._semantic.setdefault(pc, [0, 0, 0])[2] += n
                if pc == gc:
                    self._semantic[gc][0] += n
                    self._correct += n

        matched_gt: set[int] = set()
        matched_pred: set[int] = set()
        for g, p, n in zip(gt_ids, pred_ids, counts, strict=True):
            c = gt_class.get(g)
            if c is None or c != pred_class.get(p):
                continue
            iou = n / (pred_area[p] - pred_void.get(p, 0) + gt_area[g] - n)
            if iou > MATCH_IOU:  # unique on both sides, as in agreement.py
                matched_gt.add(g)
                matched_pred.add(p)
                counts_c = self._panoptic.setdefault(c, [0, 0, 0, 0.0])
                counts_c[0] += 1
                counts_c[3] += iou
        for g in gt_area.keys() - matched_gt:
            self._panoptic.setdefault(gt_class[g], [0, 0, 0, 0.0])[2] += 1
        for p in pred_area.keys() - matched_pred:
            if pred_void.get(p, 0) / pred_area[p] <= 0.5:
                self._panoptic.setdefault(pred_class[p], [0, 0, 0, 0.0])[1] += 1

        self.images += 1
        image_id = self.images  # COCOeval treats id 0 as "no match": ids start at 1
        height, width = gt_map.shape
        self._coco_images.append({"id": image_id, "height": height, "width": width})
        for sid, rle, bbox in self._thing_rles(gt_map, gt_area, gt_class):
            self._coco_gt.append({
                "id": len(self._coco_gt) + 1, "image_id": image_id, "category_id": gt_class[sid],
                "segmentation": rle, "area": gt_area[sid], "bbox": bbox, "iscrowd": 0,
            })
        scores = scores or {}
        for sid, rle, bbox in self._thing_rles(pred_map, pred_area, pred_class):
            self._coco_dt.append({
                "id": len(self._coco_dt) + 1, "image_id": image_id, "category_id": pred_class[sid],
                "segmentation": rle, "area": pred_area[sid], "bbox": bbox, "iscrowd": 0,
                "score": float(scores.get(sid, 1.0)),
            })

    def _classes(self, ids: set[int], classes: Mapping[int, int]) -> dict[int, int]:
        """Class of each segment id present that has one."""
        out = {sid: classes[sid] for sid in ids if sid and sid in classes}
        unknown = set(out.values()) - self.kinds.keys()
        if unknown:
            raise ValueError(f"classes without a kind: {sorted(unknown)}")
        return out

    def _thing_rles(self, label_map: np.ndarray, areas: Mapping[int, int], classes: Mapping[int, int]):
        """(segment id, RLE, bbox) of each thing segment present, encoded in one pycocotools call."""
        ids = [sid for sid in sorted(areas) if self.kinds[classes[sid]] == "thing"]
        if not ids:
            return []
        masks = np.empty((*label_map.shape, len(ids)), dtype=np.uint8, order="F")  # what encode wants
        columns = np.ascontiguousarray(label_map.T)  # so that each mask is written in memory order
        for i, sid in enumerate(ids):
            np.equal(columns, sid, out=masks[:, :, i].T, casting="unsafe")
        rles = coco_mask.encode(masks)
        return zip(ids, rles, coco_mask.toBbox(rles).tolist(), strict=True)

    def result(self) -> Evaluation:
        return Evaluation(
            images=self.images, semantic=self._semantic_result(), panoptic=self._panoptic_result(),
            instance=self._instance_result(),
        )

    def _semantic_result(self) -> SemanticEvaluation:
        per_class = {
            c: ClassIoU(intersection=i, union=g + p - i)
            for c, (i, g, p) in sorted(self._semantic.items()) if g + p - i
        }
        return SemanticEvaluation(
            miou=sum(s.iou for s in per_class.values()) / len(per_class) if per_class else None,
            pixel_accuracy=self._correct / self._labelled if self._labelled else None,
            per_class=per_class,
        )

    def _panoptic_result(self) -> PanopticEvaluation:
        per_class = {
            c: ClassScore(tp=tp, fp=fp, fn=fn, iou_sum=s)
            for c, (tp, fp, fn, s) in sorted(self._panoptic.items()) if tp + fp + fn
        }
        return PanopticEvaluation(
            all=Quality.mean(list(per_class.values())),
            things=Quality.mean([s for c, s in per_class.items() if self.kinds[c] == "thing"]),
            stuff=Quality.mean([s for c, s in per_class.items() if self.kinds[c] == "stuff"]),
            per_class=per_class,
        )

    def _instance_result(self) -> InstanceEvaluation:
        predicted_classes = {d["category_id"] for d in self._coco_dt}
        if not self._coco_gt:
            return InstanceEvaluation(
                ap=None, ap50=None, ap75=None, ap_small=None, ap_medium=None, ap_large=None, ar100=None,
                ground_truth_instances=0, predicted_instances=len(self._coco_dt),
                per_class=dict.fromkeys(sorted(predicted_classes)),
            )
        classes = sorted({a["category_id"] for a in self._coco_gt} | predicted_classes)
        with contextlib.redirect_stdout(io.StringIO()):  # COCO and COCOeval print progress
            gt = _coco({"images": self._coco_images, "categories": [{"id": c} for c in classes],
                        "annotations": self._coco_gt})
            dt = _coco({"images": self._coco_images, "categories": [{"id": c} for c in classes],
                        "annotations": self._coco_dt})
            coco_eval = COCOeval(gt, dt, iouType="segm")
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        stats = [_or_none(v) for v in coco_eval.stats]
        precision = coco_eval.eval["precision"]  # [iou threshold, recall, class, area range, max detections]
        per_class = {}
        for k, c in enumerate(coco_eval.params.catIds):
            p = precision[:, :, k, 0, -1]
            per_class[int(c)] = float(p[p > -1].mean()) if (p > -1).any() else None
        return InstanceEvaluation(
            ap=stats[0], ap50=stats[1], ap75=stats[2], ap_small=stats[3], ap_medium=stats[4], ap_large=stats[5],
            ar100=stats[8], ground_truth_instances=len(self._coco_gt), predicted_instances=len(self._coco_dt),
            per_class=per_class,
        )


def _coco(dataset: dict[str, Any]) -> COCO:
    coco = COCO()
    coco.dataset = dataset
    coco.createIndex()
    return coco


def _or_none(value: float) -> float | None:
    return None if value < 0 else float(value)

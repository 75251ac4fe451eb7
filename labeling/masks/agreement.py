"""Agreement between two label maps of one image: mask-aware, never exact match.

Pure numpy, no Django. A labelling is a label map (uint32 segment ids, 0 = unlabelled) plus each segment's class.
  semantic   per-class IoU of the class maps and their mean (mIoU) over the classes either side uses;
  instance   segments matched one-to-one within a class at IoU > 0.5 (non-overlapping segments make such a
             match unique); agreement = sum of matched IoUs / (matches + unmatched on either side), so a missed
             or extra instance counts as IoU 0;
  panoptic   PQ = SQ x RQ per class (Kirillov et al.): SQ = mean IoU of the matches, RQ = TP / (TP + FP/2 + FN/2),
             averaged over the classes either side uses. Symmetric: neither side is ground truth, so there is
             no void region.
The same functions score an annotator against a gold reference (`a` = reference).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

MATCH_IOU = 0.5


@dataclass(frozen=True)
class Labelling:
    label_map: np.ndarray  # (H, W) uint32
    classes: Mapping[int, int]  # segment id -> class id


@dataclass(frozen=True)
class ClassScore:
    iou: float | None = None  # semantic
    tp: int = 0
    fp: int = 0
    fn: int = 0
    iou_sum: float = 0.0

    @property
    def sq(self) -> float:
        return self.iou_sum / self.tp if self.tp else 0.0

    @property
    def rq(self) -> float:
        denominator = self.tp + 0.5 * self.fp + 0.5 * self.fn
        return self.tp / denominator if denominator else 0.0

    @property
    def pq(self) -> float:
        return self.sq * self.rq


@dataclass(frozen=True)
class Agreement:
    metric: str  # miou | matched_iou | pq
    score: float
    per_class: dict[int, ClassScore] = field(default_factory=dict)
    sq: float | None = None
    rq: float | None = None

    def as_dict(self) -> dict:
        out = {"metric": self.metric, "score": self.score, "per_class": {}}
        if self.sq is not None:
            out.update(sq=self.sq, rq=self.rq)
        for class_id, c in sorted(self.per_class.items()):
            out["per_class"][class_id] = (
                {"iou": c.iou} if self.metric == "miou"
                else {"tp": c.tp, "fp": c.fp, "fn": c.fn, "sq": c.sq, "rq": c.rq, "pq": c.pq}
            )
        return out


def _check(a: Labelling, b: Labelling) -> None:
    if a.label_map.shape != b.label_map.shape:
        raise ValueError(f"label maps differ in size: {a.label_map.shape} and {b.label_map.shape}")


def _class_map(x: Labelling) -> np.ndarray:
    ids = np.fromiter(x.classes.keys(), dtype=np.int64, count=len(x.classes))
    lut_size = int(x.label_map.max()) + 1 if x.label_map.size else 1
    lut = np.zeros(max(lut_size, int(ids.max()) + 1 if ids.size else 1), dtype=np.int64)
    if ids.size:
        lut[ids] = np.fromiter(x.classes.values(), dtype=np.int64, count=len(x.classes))
    return lut[x.label_map]


def semantic_agreement(a: Labelling, b: Labelling) -> Agreement:
    """mIoU of the class maps over every class either side painted."""
    _check(a, b)
    ca, cb = _class_map(a).ravel(), _class_map(b).ravel()
    per_class = {}
    for c in sorted((set(np.unique(ca)) | set(np.unique(cb))) - {0}):
        in_a, in_b = ca == c, cb == c
        union = int(np.count_nonzero(in_a | in_b))
        per_class[int(c)] = ClassScore(iou=int(np.count_nonzero(in_a & in_b)) / union)
    score = float(np.mean([s.iou for s in per_class.values()])) if per_class else 1.0
    return Agreement(metric="miou", score=score, per_class=per_class)


def _overlaps(a: Labelling, b: Labelling):
    """Areas of every segment on each side and the intersection of every overlapping (a, b) pair."""
    la, lb = a.label_map.ravel().astype(np.uint64), b.label_map.ravel().astype(np.uint64)
    ids_a, area_a = np.unique(la, return_counts=True)
    ids_b, area_b = np.unique(lb, return_counts=True)
    both = (la != 0) & (lb != 0)
    pairs, inter = np.unique((la[both] << np.uint64(32)) | lb[both], return_counts=True)
    areas_a = {int(i): int(n) for i, n in zip(ids_a, area_a, strict=True) if i}
    areas_b = {int(i): int(n) for i, n in zip(ids_b, area_b, strict=True) if i}
    intersections = {(int(p >> np.uint64(32)), int(p & np.uint64(0xFFFFFFFF))): int(n)
                     for p, n in zip(pairs, inter, strict=True)}
    return areas_a, areas_b, intersections


def _match(a: Labelling, b: Labelling) -> dict[int, ClassScore]:
    """Per class: segments matched at IoU > 0.5 within the class (TP), unmatched in b (FP) and in a (FN)."""
    _check(a, b)
    areas_a, areas_b, intersections = _overlaps(a, b)
    matched_a: dict[int, float] = {}
    matched_b: set[int] = set()
    for (sa, sb), inter in intersections.items():
        if sa not in a.classes or sb not in b.classes or a.classes[sa] != b.classes[sb]:
            continue
        iou = inter / (areas_a[sa] + areas_b[sb] - inter)
        if iou > MATCH_IOU:  # > 0.5 makes the match unique on both sides
            matched_a[sa] = iou
            matched_b.add(sb)
    counts: dict[int, list] = {}
    for sa in areas_a:
        c = counts.setdefault(a.classes.get(sa, 0), [0, 0, 0, 0.0])
        if sa in matched_a:
            c[0] += 1
            c[3] += matched_a[sa]
        else:
            c[2] += 1
    for sb in areas_b:
        if sb not in matched_b:
            counts.setdefault(b.classes.get(sb, 0), [0, 0, 0, 0.0])[1] += 1
    return {cls: ClassScore(tp=tp, fp=fp, fn=fn, iou_sum=s) for cls, (tp, fp, fn, s) in sorted(counts.items())}


def instance_agreement(a: Labelling, b: Labelling) -> Agreement:
    per_class = _match(a, b)
    total = sum(c.tp + c.fp + c.fn for c in per_class.values())
    score = sum(c.iou_sum for c in per_class.values()) / total if total else 1.0
    return Agreement(metric="matched_iou", score=score, per_class=per_class)


def panoptic_agreement(a: Labelling, b: Labelling) -> Agreement:
    per_class = _match(a, b)
    if not per_class:
        return Agreement(metric="pq", score=1.0, per_class={}, sq=1.0, rq=1.0)
    n = len(per_class)
    return Agreement(
        metric="pq",
        score=sum(c.pq for c in per_class.values()) / n,
        per_class=per_class,
        sq=sum(c.sq for c in per_class.values()) / n,
        rq=sum(c.rq for c in per_class.values()) / n,
    )


AGREEMENT_FOR_PROJECT_KIND = {
    "semantic": semantic_agreement,
    "instance": instance_agreement,
    "panoptic": panoptic_agreement,
}


def disagreement_map(labellings: list[Labelling]) -> np.ndarray:
    """Per pixel, the share of annotators who did not give it the majority class (0 = all agree), as float32.
    What a reviewer's heat map shows."""
    if not labellings:
        raise ValueError("no labellings")
    for x in labellings[1:]:
        _check(labellings[0], x)
    stack = np.stack([_class_map(x) for x in labellings])
    best = np.zeros(stack.shape[1:], dtype=np.int64)
    for c in np.unique(stack):
        best = np.maximum(best, np.count_nonzero(stack == c, axis=0))
    return (1.0 - best / len(labellings)).astype(np.float32)


def majority_merge(labellings: list[Labelling], *, stuff_classes: frozenset[int] = frozenset()) -> Labelling:
    """Per pixel, the segment a strict majority of annotators agree on; pixels without one stay unlabelled.

    Segments are identified across annotators in order: a segment that matches (same class, IoU > 0.5) a segment
    of an earlier annotator votes with it, under its id; an unmatched one gets a new id (after the first
    labelling's ids) that later annotators can match in turn. Segments of one stuff class become one segment
    (a map holds one segment per stuff class).
    """
    if not labellings:
        raise ValueError("no labellings")
    first = labellings[0]
    for x in labellings[1:]:
        _check(first, x)
    next_id = max([0, *first.classes, int(first.label_map.max(initial=0))]) + 1
    classes: dict[int, int] = dict(first.classes)
    voted = [Labelling(first.label_map.astype(np.uint32), classes)]
    for x in labellings[1:]:
        mapped: dict[int, int] = {}
        for earlier in voted:  # the earliest annotator with a matching segment names it
            areas_e, areas_x, intersections = _overlaps(earlier, x)
            for (se, sx), inter in intersections.items():
                if sx in mapped or classes.get(se) is None or classes.get(se) != x.classes.get(sx):
                    continue
                if inter / (areas_e[se] + areas_x[sx] - inter) > MATCH_IOU:
                    mapped[sx] = se
        lut = np.zeros(int(x.label_map.max(initial=0)) + 1, dtype=np.uint32)
        for sid in np.unique(x.label_map).tolist():
            if sid in mapped:
                lut[sid] = mapped[sid]
            elif sid and sid in x.classes:
                lut[sid] = next_id
                classes[next_id] = x.classes[sid]
                next_id += 1
        voted.append(Labelling(lut[x.label_map], classes))
    stack = np.stack([v.label_map for v in voted])
    need = len(labellings) // 2 + 1
    merged = np.zeros(first.label_map.shape, dtype=np.uint32)
    for sid in np.unique(stack).tolist():
        if sid:
            merged[np.count_nonzero(stack == sid, axis=0) >= need] = sid
    present = sorted(set(np.unique(merged).tolist()) - {0})
    stuff_owner: dict[int, int] = {}
    for sid in present:
        if classes[sid] in stuff_classes:
            owner = stuff_owner.setdefault(classes[sid], sid)
            if owner != sid:
                merged[merged == sid] = owner
    kept = set(np.unique(merged).tolist()) - {0}
    return Labelling(label_map=merged, classes={sid: c for sid, c in classes.items() if sid in kept})

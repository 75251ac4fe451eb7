"""The label-error finder's score of one approved image: where a confident model disagrees with its segments.
Pure compute (numpy); no Django. The job around it is labeling/services/label_check.py.

Rule (README "Label-error finder"), on the model's working grid (the probabilities' (h', w') grid; the approved
map is sampled at its pixel centres, labels never blend):
- a pixel is *confident* when its top class probability is at least `confidence` (0.8);
- a segment is judged only when the model knows its class, it covers at least `min_pixels` grid pixels, and at
  least `min_confident_share` (0.5) of them are confident; otherwise its disagreement is None (not judged);
- its IoU compares, over confident pixels only, the segment with the model's prediction of its class inside the
  segment's box widened by half its size on each side, leaving out other segments of the same class (so a correct
  instance is not blamed for its neighbours, nor a segment for the whole image's predictions of its class);
- disagreement = 1 - IoU, and the image's score is its worst judged segment's (None when none was judged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from workers.runners.pixel_forest import resample_nearest

CONFIDENCE = 0.8
MIN_CONFIDENT_SHARE = 0.5
MIN_PIXELS = 4


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class SegmentCheck:
    segment_id: int
    iou: float | None
    disagreement: float | None
    confident_share: float  # share of the segment's grid pixels where the model is confident

    def as_dict(self) -> dict:
        return {"segment_id": self.segment_id, "iou": _rounded(self.iou), "disagreement": _rounded(self.disagreement),
                "confident_share": round(self.confident_share, 4)}


def segment_checks(label_map: np.ndarray, segment_classes: Mapping[int, int], probabilities: np.ndarray, *,
                   confidence: float = CONFIDENCE, min_confident_share: float = MIN_CONFIDENT_SHARE,
                   min_pixels: int = MIN_PIXELS) -> list[SegmentCheck]:
    """One check per segment of `label_map` (segment ids; any regular reduction of the image) present in it.

    `segment_classes` maps segment id -> the model's class index 1..K (0 or absent: a class the model does not
    know); `probabilities` is (h', w', K). See the module note for the rule."""
    grid = resample_nearest(label_map, probabilities.shape[:2])
    top = probabilities.max(axis=-1)
    confident = top >= confidence
    predicted = probabilities.argmax(axis=-1).astype(np.int32) + 1
    index_of = np.zeros(int(grid.max(initial=0)) + 1, dtype=np.int32) if grid.size else np.zeros(1, np.int32)
    for segment_id, index in segment_classes.items():
        if 0 < segment_id < len(index_of):
            index_of[segment_id] = index
    class_grid = index_of[grid]  # each grid pixel's approved class index (0: unlabelled or unknown to the model)
    height, width = grid.shape
    checks = []
    for segment_id in (int(s) for s in np.unique(grid) if s):
        mask = grid == segment_id
        area = int(mask.sum())
        share = float((mask & confident).sum()) / area
        index = int(index_of[segment_id])
        if not index or area < min_pixels or share < min_confident_share:
            checks.append(SegmentCheck(segment_id, None, None, share))
            continue
        rows, cols = np.nonzero(mask)
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        dr, dc = (r1 - r0) // 2, (c1 - c0) // 2
        box = (slice(max(0, r0 - dr), min(height, r1 + dr)), slice(max(0, c0 - dc), min(width, c1 + dc)))
        here, sure = mask[box], confident[box]
        others = (class_grid[box] == index) & ~here  # other segments of the same class
        said = (predicted[box] == index) & sure & ~others
        mine = here & sure
        union = int((mine | said).sum())
        iou = float((mine & said).sum()) / union if union else 1.0
        checks.append(SegmentCheck(segment_id, iou, 1.0 - iou, share))
    return checks


def image_score(checks: list[SegmentCheck]) -> float | None:
    """The worst judged segment's disagreement; None when no segment was judged."""
    judged = [c.disagreement for c in checks if c.disagreement is not None]
    return max(judged) if judged else None

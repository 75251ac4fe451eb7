"""A seeded train/val/test split stratified by class presence: each class's images are shared between the splits
in the requested fractions as closely as whole images allow, and the split sizes follow the fractions too.

Iterative stratification (Sechidis, Tsoumakas and Vlahavas, 2011), made deterministic: the classes are taken rarest
first; each image holding the class (in an order shuffled by the seed) goes to the split that still wants the
most of that class, then the most images overall, then the first in SPLITS order. Images without any class go
where the most images are still wanted. The same items, fractions and seed give the same split on every machine.
"""

from collections.abc import Iterable, Mapping

import numpy as np

SPLITS = ("train", "val", "test")
# What COCO layouts call the one part of an export that is not split (`instances_default.json`, as CVAT writes it
# and datumaro's COCO importers detect it).
DEFAULT_PART = "default"


def check_fractions(fractions: Mapping[str, float]) -> dict[str, float]:
    """The fractions per split, validated: known names, none negative, summing to 1 (within rounding)."""
    unknown = set(fractions) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown splits {sorted(unknown)}; use {', '.join(SPLITS)}")
    values = {s: float(fractions.get(s, 0.0)) for s in SPLITS}
    if any(not np.isfinite(v) or v < 0 for v in values.values()):
        raise ValueError("split fractions must be finite and not negative")
    if abs(sum(values.values()) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, not {sum(values.values()):g}")
    return values


def stratified_split(items: Iterable[tuple[int, Iterable[int]]], fractions: Mapping[str, float],
                     seed: int) -> dict[int, str]:
    """{image id: split} for (image id, its class ids) items."""
    wanted = check_fractions(fractions)
    labels = {int(image): frozenset(int(c) for c in classes) for image, classes in items}
    ids = sorted(labels)
    shuffled = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids)).tolist()]
    total = {s: wanted[s] * len(ids) for s in SPLITS}
    by_class: dict[int, list[int]] = {}
    for image in shuffled:
        for c in labels[image]:
            by_class.setdefault(c, []).append(image)
    per_class = {c: {s: wanted[s] * len(members) for s in SPLITS} for c, members in by_class.items()}
    split: dict[int, str] = {}

    def place(image: int, split_name: str) -> None:
        split[image] = split_name
        total[split_name] -= 1
        for c in labels[image]:
            per_class[c][split_name] -= 1

    remaining = {c: len(members) for c, members in by_class.items()}
    while remaining:
        rarest = min(remaining, key=lambda c: (remaining[c], c))
        for image in by_class[rarest]:
            if image in split:
                continue
            best = max(SPLITS, key=lambda s: (per_class[rarest][s], total[s], -SPLITS.index(s)))
            place(image, best)
            for c in labels[image]:
                remaining[c] = remaining.get(c, 0) - 1
        del remaining[rarest]
        remaining = {c: n for c, n in remaining.items() if n > 0}
    for image in shuffled:
        if image not in split:
            place(image, max(SPLITS, key=lambda s: (total[s], -SPLITS.index(s))))
    return split


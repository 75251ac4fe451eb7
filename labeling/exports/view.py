"""The plain in-memory view of a dataset that exporters read: no ORM in format code.

`labeling.services.exports` builds it from the database; tests build it by hand. Images come in a stable order
(by id) and load their label map only when a format asks for it, one image at a time, so memory does not grow
with the number of images.
"""

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Category:
    id: int  # the class's stable number (>= 1): the id COCO and the mask PNGs write; not contiguous
    class_id: int  # the project's class id (label maps' segments refer to it)
    name: str
    kind: str  # thing | stuff
    color: str  # #rrggbb


@dataclass(frozen=True)
class ExportSegment:
    segment_id: int  # the value its pixels carry in the label map
    category_id: int
    instance: int | None
    area: int
    bbox: tuple[int, int, int, int]  # x, y, width, height
    attributes: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    source: str = "manual"


@dataclass(frozen=True)
class ExportImage:
    id: int  # the image's id in the project: stable across exports
    file_name: str  # portable: no server path
    width: int
    height: int
    split: str
    segments: tuple[ExportSegment, ...]
    load_map: Callable[[], np.ndarray]  # (height, width) uint32 segment ids; segments not listed count as 0
    read_file: Callable[[], bytes] | None = None  # the original image bytes, when the export includes them
    # The stored per-image artifact for an `artifacts.ArtifactContext`, or None when there is none (then the
    # format computes it): see `labeling.exports.artifacts`.
    artifact: Callable[[Any], bytes | None] | None = None


@dataclass(frozen=True)
class DatasetView:
    name: str
    kind: str  # semantic | instance | panoptic
    categories: tuple[Category, ...]
    images: Iterable[ExportImage]
    count: int  # number of images, for progress
    # Whether the export is split: then every image has a split and the images come grouped by split (in
    # `SPLITS` order), so a format can write one file per split in a single streamed pass.
    split: bool = False

    def parts(self) -> Iterator[tuple[str, Iterator[ExportImage]]]:
        """(split, its images) for each split in turn, or once ("", every image) when the export is not split."""
        if not self.split:
            yield "", iter(self.images)
            return
        seen: set[str] = set()
        for name, group in itertools.groupby(self.images, key=lambda image: image.split):
            if not name or name in seen:
                raise ValueError(f"a split export needs its images grouped by split; {name!r} comes again")
            seen.add(name)
            yield name, group

    def category_of_class(self) -> dict[int, Category]:
        return {c.class_id: c for c in self.categories}

"""The plain in-memory view of a dataset that exporters read: no ORM in format code.

`labeling.services.exports` builds it from the database; tests build it by hand. Images come in a stable order
(by id) and load their label map only when a format asks for it, one image at a time, so memory does not grow
with the number of images.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Category:
    id: int  # 1-based, in the project's class order: the id every format writes
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


@dataclass(frozen=True)
class DatasetView:
    name: str
    kind: str  # semantic | instance | panoptic
    categories: tuple[Category, ...]
    images: Iterable[ExportImage]
    count: int  # number of images, for progress

    def category_of_class(self) -> dict[int, Category]:
        return {c.class_id: c for c in self.categories}

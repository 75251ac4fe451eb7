"""Mask PNGs: a semantic PNG per image (each pixel its category id, 0 = unlabelled; 8-bit with the classes'
palette when every id is below 256, else 16-bit) with `classes.json`, and an instance PNG per
image (16-bit: each segment its 1-based number within the image, 0 = unlabelled) with `instances.json` mapping
numbers to categories and instance numbers. A split export puts each split's PNGs in a folder of its name
(`semantic/train/...`). Read back with Pillow + numpy (tests/unit/test_exports.py)."""

import json

import numpy as np

from labeling.exports.artifacts import ArtifactContext, image_artifact
from labeling.exports.png import png_bytes, split_dir, stem
from labeling.exports.registry import exporter

MAX_16BIT = 65535


def segment_values(image, values: dict[int, int]) -> np.ndarray:
    """Map the label map's segment ids to `values` (others, and 0, to 0)."""
    label_map = image.load_map()
    if not values:
        return np.zeros(label_map.shape, dtype=np.uint32)
    ids = np.fromiter(values.keys(), dtype=np.int64)
    lut = np.zeros(max(int(ids.max()), int(label_map.max(initial=0))) + 1, dtype=np.uint32)
    lut[ids] = np.fromiter(values.values(), dtype=np.uint32)
    return lut[label_map]


def _palette(categories) -> list[int]:
    """Each category's colour at its id (ids are stable class numbers, so there may be gaps: black)."""
    palette = [0, 0, 0] * (1 + max((c.id for c in categories), default=0))
    for c in categories:
        palette[3 * c.id:3 * c.id + 3] = [int(c.color[i:i + 2], 16) for i in (1, 3, 5)]
    return palette


def _bits(categories) -> int:
    return 8 if max((c.id for c in categories), default=0) < 256 else 16


def semantic_png(image, context) -> bytes:
    """The image's semantic PNG: 8-bit paletted when every id fits, else 16-bit grey."""
    classes = segment_values(image, {s.segment_id: s.category_id for s in image.segments})
    if _bits(context.categories) == 8:
        return png_bytes(classes.astype(np.uint8), _palette(context.categories))
    return png_bytes(classes.astype(np.uint16))


def instance_png(image, context) -> bytes:
    """The image's instance PNG: each segment its 1-based number in the image's segment order."""
    if len(image.segments) > MAX_16BIT:
        raise ValueError(f"image {image.file_name} has {len(image.segments)} segments; a 16-bit instance PNG "
                         f"holds at most {MAX_16BIT}")
    numbers = {s.segment_id: i for i, s in enumerate(image.segments, 1)}
    return png_bytes(segment_values(image, numbers).astype(np.uint16))


@exporter(name="semantic_png", version=2, title="Semantic masks (PNG, category per pixel)", per_image=semantic_png)
def write_semantic_png(view, sink, options, progress) -> dict:
    context = ArtifactContext("semantic_png", view.categories, options)
    count = 0
    for image in view.images:
        sink.write(f"semantic/{split_dir(image)}{stem(image.file_name)}.png", image_artifact(image, context))
        count += 1
        progress(count / max(1, view.count))
    table = {"bits": _bits(view.categories), "unlabelled": 0,
             "classes": [{"index": c.id, "name": c.name, "kind": c.kind, "color": c.color} for c in view.categories]}
    sink.write("classes.json", json.dumps(table, indent=1).encode())
    return {"images": count}


@exporter(name="instance_png", version=2, title="Instance masks (16-bit PNG)", per_image=instance_png)
def write_instance_png(view, sink, options, progress) -> dict:
    # Per image (category id, instance) in PNG value order: compact tuples, written out streamed at the end
    # (a zip takes one member at a time), so 10k images x 20 instances stay a few MB.
    context = ArtifactContext("instance_png", view.categories, options)
    mapping: list[tuple[str, tuple[tuple[int, int | None], ...]]] = []
    for done, image in enumerate(view.images, 1):
        sink.write(f"instance/{split_dir(image)}{stem(image.file_name)}.png", image_artifact(image, context))
        mapping.append((stem(image.file_name), tuple((s.category_id, s.instance) for s in image.segments)))
        progress(done / max(1, view.count))
    categories = [{"id": c.id, "name": c.name, "kind": c.kind} for c in view.categories]
    with sink.open("instances.json") as out:
        out.write(b'{"categories":' + json.dumps(categories).encode() + b',"images":{')
        for i, (name, rows) in enumerate(mapping):
            entries = [{"value": v, "category_id": c, "instance": n} for v, (c, n) in enumerate(rows, 1)]
            out.write((b"," if i else b"") + json.dumps(name).encode() + b":" + json.dumps(entries).encode())
        out.write(b"}}")
    return {"images": len(mapping)}

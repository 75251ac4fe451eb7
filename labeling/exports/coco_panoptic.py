"""COCO panoptic: `annotations/panoptic_default.json` (images, categories with `isthing` and an RGB colour, one
annotation per image with its `segments_info`) and `annotations/panoptic_default/<name>.png`, where each pixel's
segment id is R + 256·G + 256²·B (0 = unlabelled, COCO's void) and segment ids are the segments' 1-based numbers
within the image. A split export writes `annotations/panoptic_<split>.json` and `annotations/panoptic_<split>/`
per split: COCO's own layout, with datumaro's default part name when not split, so its importer detects both.
Stuff segments are one per class already (a label map holds one per stuff class)."""

import json

import numpy as np

from labeling.exports.artifacts import ArtifactContext, image_artifact
from labeling.exports.png import png_bytes, stem
from labeling.exports.registry import exporter
from labeling.exports.split import DEFAULT_PART

MAX_24BIT = 2**24 - 1


def _rgb(hex_color: str) -> list[int]:
    return [int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """(h, w) ids below 2**24 -> (h, w, 3) uint8 with R the lowest byte: the bytes of little-endian uint32."""
    little = np.ascontiguousarray(ids, dtype="<u4")
    return np.ascontiguousarray(little.view(np.uint8).reshape(*ids.shape, 4)[..., :3])


def panoptic_png(image, context) -> bytes:
    """The image's panoptic PNG: each segment's 1-based number in the image as R + 256·G + 256²·B."""
    if len(image.segments) > MAX_24BIT:
        raise ValueError(f"image {image.file_name} has more segments than a panoptic PNG holds")
    label_map = image.load_map()
    numbers = np.zeros(max(int(label_map.max(initial=0)), max((s.segment_id for s in image.segments),
                                                               default=0)) + 1, dtype=np.uint32)
    for number, seg in enumerate(image.segments, 1):
        numbers[seg.segment_id] = number
    return png_bytes(id_to_rgb(numbers[label_map]))


@exporter(name="coco_panoptic", version=2, title="COCO panoptic (PNG + segments_info)", per_image=panoptic_png)
def write_coco_panoptic(view, sink, options, progress) -> dict:
    context = ArtifactContext("coco_panoptic", view.categories, options)
    categories = [{"id": c.id, "name": c.name, "supercategory": c.kind, "isthing": int(c.kind == "thing"),
                   "color": _rgb(c.color)} for c in view.categories]
    done = segments = 0
    sink.folder("images")  # datumaro's COCO importer demands it, even in an export without the image files
    for split, part in view.parts():
        base = f"annotations/panoptic_{split or DEFAULT_PART}"
        images, annotations = [], []
        for image in part:
            name = stem(image.file_name)
            images.append({"id": image.id, "file_name": image.file_name, "width": image.width,
                           "height": image.height})
            sink.write(f"{base}/{name}.png", image_artifact(image, context))
            annotations.append({"image_id": image.id, "file_name": f"{name}.png", "segments_info": [
                {"id": number, "category_id": seg.category_id, "area": seg.area, "bbox": list(seg.bbox),
                 "iscrowd": 0, **({"instance": seg.instance} if seg.instance is not None else {}),
                 **({"attributes": seg.attributes} if seg.attributes else {})}
                for number, seg in enumerate(image.segments, 1)]})
            segments += len(image.segments)
            done += 1
            progress(done / max(1, view.count))
        document = {"info": {"description": view.name, "version": "1", "kind": view.kind}, "licenses": [],
                    "images": images, "annotations": annotations, "categories": categories}
        sink.write(f"{base}.json", json.dumps(document, separators=(",", ":")).encode())
    return {"images": done, "segments": segments}

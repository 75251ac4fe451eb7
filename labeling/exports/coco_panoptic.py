"""COCO panoptic: `annotations/panoptic.json` (images, categories with `isthing` and an RGB colour, one
annotation per image with its `segments_info`) and `annotations/panoptic/<id>_<name>.png`, where each pixel's
segment id is R + 256·G + 256²·B (0 = unlabelled, COCO's void) and segment ids are the segments' 1-based numbers
within the image. Stuff segments are one per class already (a label map holds one per stuff class)."""

import io
import json
from pathlib import PurePosixPath

import numpy as np
from PIL import Image as PILImage

from labeling.exports.registry import exporter

MAX_24BIT = 2**24 - 1


def _rgb(hex_color: str) -> list[int]:
    return [int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """(h, w) ids below 2**24 -> (h, w, 3) uint8 with R the lowest byte: the bytes of little-endian uint32."""
    little = np.ascontiguousarray(ids, dtype="<u4")
    return np.ascontiguousarray(little.view(np.uint8).reshape(*ids.shape, 4)[..., :3])


@exporter(name="coco_panoptic", version=1, title="COCO panoptic (PNG + segments_info)")
def write_coco_panoptic(view, sink, options, progress) -> dict:
    images, annotations, files = [], [], []
    for done, image in enumerate(view.images, 1):
        if len(image.segments) > MAX_24BIT:
            raise ValueError(f"image {image.file_name} has more segments than a panoptic PNG holds")
        stem = PurePosixPath(image.file_name).stem
        images.append({"id": image.id, "file_name": image.file_name, "width": image.width, "height": image.height})
        label_map = image.load_map()
        numbers = np.zeros(max(int(label_map.max(initial=0)), max((s.segment_id for s in image.segments),
                                                                   default=0)) + 1, dtype=np.uint32)
        for number, seg in enumerate(image.segments, 1):
            numbers[seg.segment_id] = number
        buf = io.BytesIO()
        PILImage.fromarray(id_to_rgb(numbers[label_map]), mode="RGB").save(buf, format="PNG", compress_level=6)
        sink.write(f"annotations/panoptic/{stem}.png", buf.getvalue())
        annotations.append({"image_id": image.id, "file_name": f"{stem}.png", "segments_info": [
            {"id": number, "category_id": seg.category_id, "area": seg.area, "bbox": list(seg.bbox), "iscrowd": 0,
             **({"instance": seg.instance} if seg.instance is not None else {}),
             **({"attributes": seg.attributes} if seg.attributes else {})}
            for number, seg in enumerate(image.segments, 1)]})
        if options.include_images and image.read_file is not None:
            files.append((image.file_name, image.read_file))
        progress(done / max(1, view.count))
    for file_name, read_file in files:
        sink.write(f"images/{file_name}", read_file(), compress=False)
    document = {
        "info": {"description": view.name, "version": "1", "kind": view.kind}, "licenses": [],
        "images": images, "annotations": annotations,
        "categories": [{"id": c.id, "name": c.name, "supercategory": c.kind, "isthing": int(c.kind == "thing"),
                        "color": _rgb(c.color)} for c in view.categories],
    }
    sink.write("annotations/panoptic.json", json.dumps(document, separators=(",", ":")).encode())
    return {"images": len(images), "segments": sum(len(a["segments_info"]) for a in annotations)}

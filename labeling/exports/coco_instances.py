"""COCO instances: one JSON with images, categories (1-based ids, `supercategory` = thing / stuff, `isthing`) and
one annotation per segment whose `segmentation` is a compressed RLE from pycocotools: exact, holes kept.

Annotation ids run 1.. in (image id, segment id) order; image ids are the project's image ids, so both are
stable across exports. `pycocotools.coco.COCO` reads the file back (tests/unit/test_exports.py).
"""

import json

import numpy as np

from labeling.exports.registry import exporter
from labeling.masks.rle import mask_to_rle


@exporter(name="coco_instances", version=1, title="COCO instances (RLE)")
def write_coco_instances(view, sink, options, progress) -> dict:
    images, annotations = [], []
    for done, image in enumerate(view.images, 1):
        images.append({"id": image.id, "file_name": image.file_name, "width": image.width, "height": image.height,
                       **({"split": image.split} if image.split else {})})
        if options.include_images and image.read_file is not None:
            sink.write(f"images/{image.file_name}", image.read_file(), compress=False)
        if image.segments:
            label_map = image.load_map()
            for seg in image.segments:
                x, y, w, h = seg.bbox
                mask = np.zeros(label_map.shape, dtype=bool)
                mask[y:y + h, x:x + w] = label_map[y:y + h, x:x + w] == seg.segment_id
                item = {
                    "id": len(annotations) + 1, "image_id": image.id, "category_id": seg.category_id,
                    "segmentation": mask_to_rle(mask), "area": seg.area, "bbox": list(seg.bbox), "iscrowd": 0,
                }
                if seg.instance is not None:
                    item["instance"] = seg.instance
                if seg.attributes:
                    item["attributes"] = seg.attributes
                if seg.score is not None:
                    item["score"] = seg.score
                annotations.append(item)
        progress(done / max(1, view.count))
    document = {
        "info": {"description": view.name, "version": "1", "kind": view.kind},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c.id, "name": c.name, "supercategory": c.kind, "isthing": int(c.kind == "thing"),
                        "color": c.color} for c in view.categories],
    }
    sink.write("annotations/instances.json", json.dumps(document, separators=(",", ":")).encode())
    return {"images": len(images), "annotations": len(annotations)}

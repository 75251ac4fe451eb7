"""COCO instances: one JSON with images, categories (1-based ids, `supercategory` = thing / stuff, `isthing`) and
one annotation per segment whose `segmentation` is a compressed RLE from pycocotools: exact, holes kept.

Annotation ids run 1.. in (image id, segment id) order; image ids are the project's image ids, so both are
stable across exports. `pycocotools.coco.COCO` reads the file back (tests/unit/test_exports.py).
"""

import json

from labeling.exports.registry import exporter
from labeling.masks.rle import crop_to_rle


@exporter(name="coco_instances", version=1, title="COCO instances (RLE)")
def write_coco_instances(view, sink, options, progress) -> dict:
    # Streamed: annotations are written into the zip as each image is done, so memory does not grow with the
    # dataset (the small image entries are kept for the end). Key order is free in JSON.
    categories = [{"id": c.id, "name": c.name, "supercategory": c.kind, "isthing": int(c.kind == "thing"),
                   "color": c.color} for c in view.categories]
    images, count = [], 0
    with sink.open("annotations/instances.json") as out:
        head = {"info": {"description": view.name, "version": "1", "kind": view.kind}, "licenses": [],
                "categories": categories}
        out.write(json.dumps(head, separators=(",", ":"))[:-1].encode() + b',"annotations":[')
        for done, image in enumerate(view.images, 1):
            images.append({"id": image.id, "file_name": image.file_name, "width": image.width,
                           "height": image.height, **({"split": image.split} if image.split else {})})
            if image.segments:
                label_map = image.load_map()
                for seg in image.segments:
                    x, y, w, h = seg.bbox
                    rle = crop_to_rle(label_map[y:y + h, x:x + w] == seg.segment_id, x=x, y=y,
                                      height=image.height, width=image.width)
                    count += 1
                    item = {"id": count, "image_id": image.id, "category_id": seg.category_id,
                            "segmentation": rle, "area": seg.area, "bbox": list(seg.bbox), "iscrowd": 0}
                    if seg.instance is not None:
                        item["instance"] = seg.instance
                    if seg.attributes:
                        item["attributes"] = seg.attributes
                    if seg.score is not None:
                        item["score"] = seg.score
                    out.write((b"," if count > 1 else b"") + json.dumps(item, separators=(",", ":")).encode())
            progress(done / max(1, view.count))
        out.write(b'],"images":' + json.dumps(images, separators=(",", ":")).encode() + b"}")
    return {"images": len(images), "annotations": count}

"""COCO instances: one JSON with images, categories (each class's stable number as its id, `supercategory` =
thing / stuff, `isthing`) and
one annotation per segment. `segmentation` is a compressed RLE from pycocotools (exact, holes kept), or with the
`polygons` option the segment's exact pixel boundary as polygons of pixel-corner coordinates, which pycocotools
rasterises back to the same pixels. COCO polygons cannot hold a hole, so a segment with holes stays RLE.

Annotation ids run 1.. in (image id, segment id) order; image ids are the project's image ids, so both are
stable across exports. Each image's annotations are its per-image artifact (without their ids, given while
streaming), so stored artifacts of approved images are streamed as they are. The file is
`annotations/instances_<split>.json`, `instances_default.json` when the export is not split: COCO's own naming,
which datumaro's (and CVAT's) COCO importers detect.
`pycocotools.coco.COCO` reads the files back (tests/unit/test_exports.py).
"""

import json

import numpy as np

from labeling.exports.artifacts import ArtifactContext, image_artifact
from labeling.exports.registry import exporter
from labeling.exports.split import DEFAULT_PART
from labeling.masks.polygons import mask_to_rings, polygon_area
from labeling.masks.rle import crop_to_rle


def _segmentation(crop: np.ndarray, *, x: int, y: int, height: int, width: int, polygons: bool):
    """(segmentation, written as polygons?) of a segment's crop placed at (x, y)."""
    if polygons:
        rings = mask_to_rings(crop)
        if all(polygon_area(r) > 0 for r in rings):  # outer boundaries only: no hole to lose
            return [(r + (x, y)).ravel().tolist() for r in rings], True
    return crop_to_rle(crop, x=x, y=y, height=height, width=width), False


def coco_annotations(image, context) -> bytes:
    """The image's annotations, one line per segment: `R` (RLE) or `P` (polygons), then its JSON without the
    leading `{"id":N,`, which the export splices in (ids run across the whole export)."""
    polygons = context.options.polygons
    label_map = image.load_map() if image.segments else None
    lines = []
    for seg in image.segments:
        x, y, w, h = seg.bbox
        segmentation, is_polygon = _segmentation(label_map[y:y + h, x:x + w] == seg.segment_id, x=x, y=y,
                                                 height=image.height, width=image.width, polygons=polygons)
        item = {"image_id": image.id, "category_id": seg.category_id, "segmentation": segmentation,
                "area": seg.area, "bbox": list(seg.bbox), "iscrowd": 0}
        if seg.instance is not None:
            item["instance"] = seg.instance
        if seg.attributes:
            item["attributes"] = seg.attributes
        if seg.score is not None:
            item["score"] = seg.score
        # Compact JSON never holds a raw newline (json escapes them in strings): lines split safely.
        lines.append((b"P" if is_polygon else b"R") + json.dumps(item, separators=(",", ":")).encode()[1:])
    return b"\n".join(lines)


@exporter(name="coco_instances", version=2, title="COCO instances (RLE, or polygons)", per_image=coco_annotations,
          variant=lambda options: "polygons" if options.polygons else "", polygons=True)
def write_coco_instances(view, sink, options, progress) -> dict:
    # Streamed: annotations are written into the zip as each image is done, so memory does not grow with the
    # dataset (the small image entries are kept for the end of each file). Key order is free in JSON.
    context = ArtifactContext("coco_instances", view.categories, options)
    categories = [{"id": c.id, "name": c.name, "supercategory": c.kind, "isthing": int(c.kind == "thing"),
                   "color": c.color} for c in view.categories]
    head = {"info": {"description": view.name, "version": "1", "kind": view.kind}, "licenses": [],
            "categories": categories}
    count = done = as_rle = 0
    sink.folder("images")  # datumaro's COCO importer demands it, even in an export without the image files
    for split, part in view.parts():
        images, first = [], True
        name = f"annotations/instances_{split or DEFAULT_PART}.json"
        with sink.open(name) as out:
            out.write(json.dumps(head, separators=(",", ":"))[:-1].encode() + b',"annotations":[')
            for image in part:
                images.append({"id": image.id, "file_name": image.file_name, "width": image.width,
                               "height": image.height, **({"split": image.split} if image.split else {})})
                data = image_artifact(image, context)
                for line in data.split(b"\n") if data else ():
                    as_rle += options.polygons and line[:1] == b"R"
                    count += 1
                    out.write((b"" if first else b",") + b'{"id":%d,' % count + line[1:])
                    first = False
                done += 1
                progress(done / max(1, view.count))
            out.write(b'],"images":' + json.dumps(images, separators=(",", ":")).encode() + b"}")
    summary = {"images": done, "annotations": count}
    if options.polygons:
        summary["kept_as_rle"] = as_rle  # segments with holes
    return summary

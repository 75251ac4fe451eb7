"""YOLO segmentation (Ultralytics): `labels/<split>/<stem>.txt` beside `images/<split>/<file_name>`, one line per
polygon, `<class index> x1 y1 x2 y2 ...` with the class index 0-based in `data.yaml`'s `names` and coordinates
divided by the image's width and height. Unsplit exports use `labels/` and `images/`.

The polygons are each segment's exact pixel boundary (pixel corners). YOLO has no holes and one polygon per
object, so a segment in several parts gives one line per part, and holes are left out: the summary counts
them (`holes_dropped`). Use COCO or a mask format where that matters.
"""

import json

from labeling.exports.artifacts import ArtifactContext, image_artifact, pack_parts, unpack_parts
from labeling.exports.png import split_dir, stem
from labeling.exports.registry import exporter
from labeling.masks.polygons import mask_to_rings, polygon_area


def _line(index: int, ring, *, x: int, y: int, width: int, height: int) -> str:
    coords = " ".join(f"{(px + x) / width:.6f} {(py + y) / height:.6f}" for px, py in ring.tolist())
    return f"{index} {coords}\n"


def yolo_labels(image, context) -> bytes:
    """The image's label file and how many holes it left out, packed together (`artifacts.pack_parts`)."""
    index_of = {c.id: i for i, c in enumerate(context.categories)}
    lines, holes = [], 0
    label_map = image.load_map() if image.segments else None
    for seg in image.segments:
        x, y, w, h = seg.bbox
        for ring in mask_to_rings(label_map[y:y + h, x:x + w] == seg.segment_id):
            if polygon_area(ring) < 0:
                holes += 1
                continue
            lines.append(_line(index_of[seg.category_id], ring, x=x, y=y, width=image.width, height=image.height))
    return pack_parts("".join(lines).encode(), b"%d %d" % (len(lines), holes))


@exporter(name="yolo_seg", version=1, title="YOLO segmentation (polygons, Ultralytics)", per_image=yolo_labels)
def write_yolo_seg(view, sink, options, progress) -> dict:
    context = ArtifactContext("yolo_seg", view.categories, options)
    done = polygons = holes = 0
    splits = []
    for split, part in view.parts():
        splits.append(split)
        for image in part:
            text, counts = unpack_parts(image_artifact(image, context))
            lines, dropped = (int(n) for n in counts.split())
            sink.write(f"labels/{split_dir(image)}{stem(image.file_name)}.txt", text)
            polygons += lines
            holes += dropped
            done += 1
            progress(done / max(1, view.count))
    # YAML by hand: JSON strings are valid YAML scalars, so any class name is quoted safely.
    folders = {s: f"images/{s}" for s in splits if s} or {"train": "images", "val": "images"}
    yaml = ["path: .", *(f"{s}: {folder}" for s, folder in folders.items()), "names:"]
    yaml += [f"  {i}: {json.dumps(c.name)}" for i, c in enumerate(view.categories)]
    sink.write("data.yaml", ("\n".join(yaml) + "\n").encode())
    return {"images": done, "polygons": polygons, "holes_dropped": holes}

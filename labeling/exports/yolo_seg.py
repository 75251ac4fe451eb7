"""YOLO segmentation (Ultralytics): `labels/<split>/<stem>.txt` beside `images/<split>/<file_name>`, one line per
polygon, `<class index> x1 y1 x2 y2 ...` with the class index 0-based in `data.yaml`'s `names` and coordinates
divided by the image's width and height. Unsplit exports use `labels/` and `images/`.

Polygons are written the way Ultralytics turns a mask into polygons itself (`cv2.findContours` with
RETR_EXTERNAL and CHAIN_APPROX_SIMPLE: `labeling.masks.polygons.mask_to_contours` gives the same vertices),
so that its loader, which multiplies a polygon by the image size, truncates it to int32 and fills it with
`cv2.fillPoly` (`ultralytics.data.utils.polygon2mask`), gets back exactly the exported pixels of each part
(tests/unit/test_yolo_export.py). Pixel-corner outlines, written up to version 1, came back about a pixel
wider on the right and bottom that way.

What YOLO cannot hold, and what is written instead:
- Holes: a part is its outer outline, the holes filled (the summary counts them, `holes_dropped`), and a part
  lying inside a hole of the same segment is left out, as covered by that outline. COCO or a mask format
  keeps holes.
- A segment in several parts (8-connected, so pixels touching at a corner are one part) gives one line per
  part: each line fills exactly its part, but training counts each part as an object. Ultralytics' COCO
  converter instead joins the parts of one object with zero-width bridges (`merge_multi_segment`), which
  `fillPoly` fills along each bridge's line too; this exporter prefers the exact pixels.
- A part with fewer than three vertices (a single pixel, a straight line one pixel wide) repeats its vertices
  up to three: the loader reads a file whose lines all have fewer than seven numbers as boxes, and Ultralytics'
  own converter drops such parts. (Its training augmentation then keeps only boxes over 2 px wide and tall.)

Exact means at the image's own size, as the loader fills the written vertices: training then resizes the image,
resamples each polygon to many points and fills masks at a quarter of the resolution, Ultralytics' own
approximations for every dataset.
"""

import json

import numpy as np

from labeling.exports.artifacts import ArtifactContext, image_artifact, pack_parts, unpack_parts
from labeling.exports.png import split_dir, stem
from labeling.exports.registry import exporter
from labeling.masks.polygons import mask_to_contours

# A vertex at pixel index x is written as x + 1/BIAS, divided by the size and rounded up to `decimals(size)`
# places, which adds under another 1/BIAS: read back as float32 (as Ultralytics does) and multiplied by the
# size it lies in [x + 1/64, x + 1/32), float32's error staying under 1/64 for coordinates below 2**17, so
# truncation (the loader) and rounding (other readers) both give x. Ultralytics' own round(x / w, 6) can come
# back just under x and lose a row of pixels (x = 1, w = 3 gives 0.999999).
BIAS = 64


def decimals(size: int) -> int:
    """Places enough that rounding up moves a coordinate by at most 1/BIAS of a pixel: 6, more past 15625 px."""
    places = 6
    while 10**places < BIAS * size:
        places += 1
    return places


def normalised(values: np.ndarray, size: int, places: int) -> list[str]:
    """Pixel indices as the decimal strings written for them (see BIAS), computed in integers."""
    scale = 10**places
    numerator = -(-(np.asarray(values, dtype=np.int64) * BIAS + 1) * scale // (BIAS * size))  # ceiling
    return [f"{n / scale:.{places}f}" for n in numerator.tolist()]


def _line(index: int, contour: np.ndarray, *, width: int, height: int, places: int) -> str:
    points = np.resize(contour, (max(3, len(contour)), 2))  # repeats a short contour's vertices cyclically
    xs, ys = normalised(points[:, 0], width, places), normalised(points[:, 1], height, places)
    return f"{index} " + " ".join(f"{x} {y}" for x, y in zip(xs, ys)) + "\n"


def yolo_labels(image, context) -> bytes:
    """The image's label file and how many holes it left out, packed together (`artifacts.pack_parts`)."""
    index_of = {c.id: i for i, c in enumerate(context.categories)}
    lines, holes = [], 0
    label_map = image.load_map() if image.segments else None
    places = decimals(max(image.width, image.height))
    for seg in image.segments:
        x, y, w, h = seg.bbox
        contours, dropped = mask_to_contours(label_map[y:y + h, x:x + w] == seg.segment_id)
        holes += dropped
        lines += [_line(index_of[seg.category_id], contour + (x, y), width=image.width, height=image.height,
                        places=places) for contour in contours]
    return pack_parts("".join(lines).encode(), b"%d %d" % (len(lines), holes))


@exporter(name="yolo_seg", version=2, title="YOLO segmentation (polygons, Ultralytics)", per_image=yolo_labels)
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
    # No `path:`. Ultralytics (`check_det_dataset`) takes the dataset root from `path` when it is set, and
    # resolves a relative one against the working directory, else its datasets folder: `path: .` only worked
    # when training started in the unzipped folder. Without `path` the root is the folder holding data.yaml,
    # wherever that is. YAML by hand: JSON strings are valid YAML scalars, so any class name is quoted safely.
    folders = {s: f"images/{s}" for s in splits if s} or {"train": "images", "val": "images"}
    yaml = [*(f"{s}: {folder}" for s, folder in folders.items()), "names:"]
    yaml += [f"  {i}: {json.dumps(c.name)}" for i, c in enumerate(view.categories)]
    sink.write("data.yaml", ("\n".join(yaml) + "\n").encode())
    return {"images": done, "polygons": polygons, "holes_dropped": holes}

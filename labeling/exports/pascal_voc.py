"""Pascal VOC segmentation, the layout VOC2012 and CVAT use:

  SegmentationClass/<stem>.png   8-bit paletted, each pixel its labelmap index (0 = background), the classes' colours
  SegmentationObject/<stem>.png  8-bit paletted, each segment its 1-based number within the image (0 = none),
                                 VOC's own colour map; every segment counts, stuff included (not background)
  ImageSets/Segmentation/<split>.txt  the image stems of each split (and trainval.txt), or default.txt unsplit
  labelmap.txt                   `name:r,g,b::` per class, background first (what CVAT reads back)
  JPEGImages/<file_name>         the image files when included (they keep their own format)

The class PNG's values are the labelmap's line numbers: 0 is VOC's `background` (black), then the exported
classes in order. A project class named "background" (any case) IS that background: its pixels are written 0,
its segments are not objects (0 in the object PNG), and it gets no line of its own, so the labelmap never names
`background` twice (datumaro refuses that). The other classes then take the values 1, 2, ... without a gap.

VOC reserves 255 for "void", so at most 254 classes and 254 segments per image fit; more is refused.
"""

import numpy as np

from labeling.exports.artifacts import ArtifactContext, image_artifact, pack_parts, unpack_parts
from labeling.exports.class_png import segment_values
from labeling.exports.png import png_bytes, stem
from labeling.exports.registry import exporter

MAX_VALUE = 254


def voc_colormap(n: int = 256) -> list[int]:
    """VOC's palette: the bits of the index spread over the high bits of R, G and B, as the devkit builds it."""
    palette = []
    for index in range(n):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette += [r, g, b]
    return palette


_OBJECT_PALETTE = voc_colormap()


def _image_path(image) -> str:
    return f"JPEGImages/{image.file_name}"


def is_background(category) -> bool:
    return category.name.strip().lower() == "background"


def voc_classes(categories) -> tuple[dict[int, int], list[tuple[str, list[int]]]]:
    """({category id: class PNG value}, the labelmap's (name, rgb) rows in value order, background first)."""
    values, rows = {}, [("background", [0, 0, 0])]
    for c in categories:
        if is_background(c):
            values[c.id] = 0
        else:
            values[c.id] = len(rows)
            rows.append((c.name, [int(c.color[i:i + 2], 16) for i in (1, 3, 5)]))
    return values, rows


def voc_pngs(image, context) -> bytes:
    """The image's class PNG and object PNG, packed together (`artifacts.pack_parts`)."""
    if len(context.categories) > MAX_VALUE:
        raise ValueError(f"Pascal VOC holds at most {MAX_VALUE} classes; this export has {len(context.categories)}")
    values, rows = voc_classes(context.categories)
    objects = [s for s in image.segments if values[s.category_id] != 0]
    if len(objects) > MAX_VALUE:
        raise ValueError(f"image {image.file_name} has {len(objects)} segments; a VOC object PNG "
                         f"holds at most {MAX_VALUE}")
    class_palette = [v for _, rgb in rows for v in rgb]
    classes = segment_values(image, {s.segment_id: values[s.category_id] for s in image.segments})
    numbers = segment_values(image, {s.segment_id: i for i, s in enumerate(objects, 1)})
    return pack_parts(png_bytes(classes.astype(np.uint8), class_palette),
                      png_bytes(numbers.astype(np.uint8), _OBJECT_PALETTE))


@exporter(name="pascal_voc", version=3, title="Pascal VOC segmentation (class and object PNGs)",
          image_path=_image_path, per_image=voc_pngs)
def write_pascal_voc(view, sink, options, progress) -> dict:
    if len(view.categories) > MAX_VALUE:
        raise ValueError(f"Pascal VOC holds at most {MAX_VALUE} classes; this export has {len(view.categories)}")
    context = ArtifactContext("pascal_voc", view.categories, options)
    done = segments = 0
    lists: dict[str, list[str]] = {}
    for split, part in view.parts():
        names = lists.setdefault(split or "default", [])
        for image in part:
            name = stem(image.file_name)
            class_png, object_png = unpack_parts(image_artifact(image, context))
            sink.write(f"SegmentationClass/{name}.png", class_png)
            sink.write(f"SegmentationObject/{name}.png", object_png)
            names.append(name)
            segments += len(image.segments)
            done += 1
            progress(done / max(1, view.count))
    for split, names in lists.items():
        sink.write(f"ImageSets/Segmentation/{split}.txt", "".join(f"{n}\n" for n in names).encode())
    if set(lists) & {"train", "val"}:
        trainval = lists.get("train", []) + lists.get("val", [])
        sink.write("ImageSets/Segmentation/trainval.txt", "".join(f"{n}\n" for n in trainval).encode())
    lines = ["# label:color_rgb:parts:actions"]
    lines += [f"{name}:{r},{g},{b}::" for name, (r, g, b) in voc_classes(view.categories)[1]]
    sink.write("labelmap.txt", ("\n".join(lines) + "\n").encode())
    return {"images": done, "segments": segments}

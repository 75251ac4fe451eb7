"""Read an export with datumaro and print what it found as JSON: run by the tests with .venv-readers/bin/python
(datumaro pins another Pillow than the product, so it runs in its own venv and process).

    datumaro_read.py FORMAT FOLDER  ->  {"detected": [...], "items": [{"id", "subset", "annotations": [...]}]}

Each annotation: its type, label name, instance id / group / is_crowd where the format has them, and its mask as
a COCO RLE (pycocotools) at the image's size, polygons rasterised by pycocotools like every COCO reader does."""

import json
import sys

import numpy as np
from datumaro.components.annotation import AnnotationType
from datumaro.components.dataset import Dataset
from datumaro.components.environment import Environment
from pycocotools import mask as mask_utils


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def main(format_name: str, folder: str) -> None:
    detected = sorted(Environment().detect_dataset(folder))
    dataset = Dataset.import_from(folder, format_name)
    labels = dataset.categories()[AnnotationType.label]
    items = []
    for item in dataset:
        height, width = item.media.size if item.media is not None and item.media.has_size else (None, None)
        annotations = []
        for ann in item.annotations:
            entry = {"type": ann.type.name, "label": labels[ann.label].name if ann.label is not None else None,
                     "id": ann.id, "group": ann.group, "attributes": {k: v for k, v in ann.attributes.items()
                                                                     if isinstance(v, (int, float, str, bool))}}
            if ann.type == AnnotationType.mask:
                entry["rle"] = _rle(ann.image)
            elif ann.type == AnnotationType.polygon and height:
                points = [float(p) for p in ann.points]
                entry["rle"] = _rle(mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([points], height,
                                                                                               width))))
            annotations.append(entry)
        items.append({"id": item.id, "subset": item.subset, "size": [height, width], "annotations": annotations})
    print(json.dumps({"detected": detected, "labels": [c.name for c in labels], "items": items}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

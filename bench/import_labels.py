#!/usr/bin/env python
"""Import speed and memory: an export of N images x 20 instances read back by an importer, in process (the
import core alone: reading, checking and composing each label map; no database writes). Prints one JSON object.

    cd /work/main && . .venv/bin/activate && python bench/import_labels.py [--images 1000] [--format coco_instances]

The upload is made by the matching exporter from the same synthetic maps as bench/export.py (not timed) and
extracted to a temporary folder, as the import job does; `--format` is an export format (coco_instances,
coco_panoptic, instance_png, semantic_png, pascal_voc), read by its importer. Peak RSS (VmHWM) is reset just before the
timed read; run each size in its own process.
"""

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_export", ROOT / "bench" / "export.py")
bench_export = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_export)

IMPORTER_OF = {"coco_instances": "coco_instances", "coco_panoptic": "coco_panoptic", "instance_png": "mask_pngs",
               "semantic_png": "mask_pngs", "pascal_voc": "pascal_voc"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--format", default="coco_instances", choices=sorted(IMPORTER_OF))
    args = parser.parse_args()

    from labeling.exports import ExportOptions, run_exporter
    from labeling.exports.view import Category, DatasetView, ExportImage, ExportSegment
    from labeling.exports.zipsink import ZipSink
    from labeling.imports import Files, Report, TargetClass, TargetImage, read_labels
    from labeling.masks.labelmap import segment_stats

    maps = bench_export.make_maps(8, args.instances, np.random.default_rng(0))
    tables = [tuple(ExportSegment(segment_id=sid, category_id=1 + sid % 3, instance=sid, area=a,
                                  bbox=(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
                    for sid, (a, x0, y0, x1, y1) in sorted(segment_stats(m).items())) for m in maps]
    categories = tuple(Category(i, 100 + i, f"class {i}", "thing", "#3366cc") for i in (1, 2, 3))
    images = (ExportImage(id=i + 1, file_name=f"{i + 1}_image.jpg", width=640, height=480, split="",
                          segments=tables[i % 8], load_map=lambda m=maps[i % 8]: m) for i in range(args.images))
    view = DatasetView(name="bench", kind="instance", categories=categories, images=images, count=args.images)

    with tempfile.TemporaryDirectory(prefix="bench-import-") as work:
        upload = Path(work) / "upload.zip"
        with open(upload, "wb") as out:
            sink = ZipSink(out)
            run_exporter(args.format, view, sink, ExportOptions(), lambda f: None)
            sink.close()
        upload_bytes = upload.stat().st_size
        paths = {}
        with zipfile.ZipFile(upload) as archive:
            for k, name in enumerate(archive.namelist()):
                paths[name] = Path(work) / f"m{k}"
                paths[name].write_bytes(archive.read(name))
        targets = [TargetImage(i + 1, f"{i + 1}_image.jpg", "image.jpg", 640, 480) for i in range(args.images)]
        classes = [TargetClass(100 + i, f"class {i}", "thing") for i in (1, 2, 3)]
        report = Report()
        bench_export.reset_peak_rss()
        rss_before = bench_export.rss_mb()
        start = time.perf_counter()
        count = segments = 0
        for item in read_labels(IMPORTER_OF[args.format], Files(paths), classes=classes, images=targets,
                                report=report):
            count += 1
            segments += len(item.segments)
        seconds = time.perf_counter() - start
        peak = bench_export.peak_rss_mb()
    print(json.dumps({
        "benchmark": "import", "format": args.format, "importer": IMPORTER_OF[args.format], "images": count,
        "segments": segments, "instances_per_image": args.instances, "seconds": round(seconds, 2),
        "upload_bytes": upload_bytes,
        "problems": report.errors + report.warnings, "peak_rss_mb": peak, "rss_before_import_mb": rss_before,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

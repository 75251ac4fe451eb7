#!/usr/bin/env python
"""Export speed and memory: N images x 20 instances through a format, in process, from an in-memory dataset view
(the format code alone: no database). Prints one JSON object.

    cd /work/main && . .venv/bin/activate && python bench/export.py [--images 1000] [--format coco_instances]
    python bench/export.py --artifacts ...   # per-image artifacts pre-built in storage, as approval stores them

Each image is 640x480 with 20 rectangular-ish instances (random boxes with a hole in some) of 3 classes; maps are
generated once per distinct seed (8 of them) and reused, so generation is not timed. Peak RSS is read from
/proc/self/status (VmHWM) after the run, reset just before the timed export (/proc/self/clear_refs); run each
size in its own process to compare them (`--images 1000` then `--images 10000`). The issue's reference: Label
Studio exports 1000 x 20 polygons to COCO in about 4.2 s on this machine.

With `--artifacts`, each image's artifact for the format is first computed and stored through Django's storage
(a temporary media folder; not timed) as `labeling.services.export_artifacts` does on approval, and the images
offer them through the lookup the export job uses (`labeling.services.exports.artifact_load`: open,
checksum), so the timed export only reads and streams them. Django and the export service are then loaded too
(about 25 MB more RSS at rest, shown as `rss_before_export_mb`).
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM back to the current RSS


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def prebuild_artifacts(images, name: str, categories, media: str):
    """Store each image's artifact for `name` as approval does; returns the images offering them."""
    import django
    from django.conf import settings

    # Only what the storage and the export service need: the full settings would import every worker runner
    # (torch among them, ~750 MB) through the Celery app, which is no part of an export's memory.
    settings.configure(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "labeling"],
                       MEDIA_ROOT=media, DATABASES={}, USE_TZ=True)
    django.setup()
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from labeling.exports import EXPORTERS
    from labeling.exports.artifacts import ArtifactContext, seal
    from labeling.services.exports import artifact_load, artifact_path

    context = ArtifactContext(name, categories)
    offered = []
    for image in images:
        where = {"project_id": 1, "image_id": image.id, "width": image.width, "height": image.height,
                 "annotation_id": image.id, "annotation_version": 1}
        data = seal(EXPORTERS[name].per_image(image, context))
        default_storage.save(artifact_path(context, **where), ContentFile(data))
        offered.append(replace(image, artifact=lambda c, w=where: artifact_load(artifact_path(c, **w))))
    return offered


def make_maps(count: int, instances: int, rng) -> list[np.ndarray]:
    maps = []
    for _ in range(count):
        label_map = np.zeros((480, 640), dtype=np.uint32)
        for sid in range(1, instances + 1):
            x, y = int(rng.integers(0, 560)), int(rng.integers(0, 400))
            w, h = int(rng.integers(20, 80)), int(rng.integers(20, 80))
            label_map[y:y + h, x:x + w] = sid
            if sid % 4 == 0:
                label_map[y + h // 3:y + h // 2, x + w // 3:x + w // 2] = 0
        maps.append(label_map)
    return maps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--format", default="coco_instances")
    parser.add_argument("--artifacts", action="store_true",
                        help="pre-build the per-image artifacts in storage (not timed), then time the export")
    args = parser.parse_args()

    from labeling.exports import ExportOptions, run_exporter
    from labeling.exports.view import Category, DatasetView, ExportImage, ExportSegment
    from labeling.exports.zipsink import ZipSink
    from labeling.masks.labelmap import segment_stats

    rng = np.random.default_rng(0)
    maps = make_maps(8, args.instances, rng)
    tables = []
    for label_map in maps:
        stats = segment_stats(label_map)
        tables.append(tuple(
            ExportSegment(segment_id=sid, category_id=1 + sid % 3, instance=sid, area=a,
                          bbox=(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
            for sid, (a, x0, y0, x1, y1) in sorted(stats.items())))
    categories = tuple(Category(i, 100 + i, f"class {i}", "thing", "#3366cc") for i in (1, 2, 3))

    def images():
        for i in range(args.images):
            k = i % len(maps)
            yield ExportImage(id=i + 1, file_name=f"{i + 1}_image.jpg", width=640, height=480, split="",
                              segments=tables[k], load_map=lambda m=maps[k]: m)

    media = tempfile.mkdtemp(prefix="bench-export-") if args.artifacts else None
    source = prebuild_artifacts(images(), args.format, categories, media) if args.artifacts else images()
    view = DatasetView(name="bench", kind="instance", categories=categories, images=source, count=args.images)
    reset_peak_rss()
    rss_before = rss_mb()
    with tempfile.TemporaryFile() as tmp:
        sink = ZipSink(tmp)
        start = time.perf_counter()
        summary = run_exporter(args.format, view, sink, ExportOptions(), lambda f: None)
        sink.close()
        seconds = time.perf_counter() - start
        size = tmp.tell()
    peak = peak_rss_mb()
    if media:
        shutil.rmtree(media)
    print(json.dumps({
        "benchmark": "export", "format": args.format, "images": args.images, "instances_per_image": args.instances,
        "artifacts": args.artifacts, "seconds": round(seconds, 2), "zip_bytes": size, "peak_rss_mb": peak,
        "rss_before_export_mb": rss_before, "summary": summary,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "reference_label_studio_coco_polygons_s": 4.2,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

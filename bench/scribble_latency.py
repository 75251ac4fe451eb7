"""Scribble proposals: seconds from request to proposal for a 1-megapixel image, coarse and full, with the
region's features computed (cold) or taken from the per-process cache (warm). Prints one JSON object.

    python bench/scribble_latency.py                 # 5 repeats of each; about 40 s on 2 cores
    python bench/scribble_latency.py --repeats 9 --size 1400

The image is scikit-image's astronaut photo resized to --size x --size (1000: 1 MP), stored as a PNG through
`images_upload` in a throwaway instance (SQLite, media and broker in a temporary folder; nothing is processed
after upload). Strokes for three classes and background are painted on the suit, the flag, the face and the
dark sky. Each measurement calls `labeling.services.scribbles.scribble_proposal` in this process (what the
view calls after parsing the request); cold clears the feature cache first. `client_sequence` is what the
editor does after a stroke: coarse, then full, both cold (a new image or view).
"""

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import log, machine_busy_seconds  # noqa: E402


def _strokes(size: int, ids: dict) -> list[dict]:
    """Strokes in the astronaut's coordinates (512 px photo) scaled to `size`."""
    f = size / 512

    def stroke(class_id, radius, *points):
        return {"class_id": class_id, "radius": radius * f, "points": [[x * f, y * f] for x, y in points]}

    return [
        stroke(ids["suit"], 4, (180, 330), (230, 420), (300, 470)),
        stroke(ids["suit"], 4, (90, 470), (130, 400)),
        stroke(ids["flag"], 3, (395, 300), (440, 320)),
        stroke(ids["face"], 3, (210, 120), (240, 170)),
        stroke(None, 5, (20, 40), (30, 250)),
        stroke(None, 5, (470, 30), (480, 200)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=1000, help="image side in pixels (1000: 1 MP)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scribble-bench-") as tmp:
        os.environ.update(ANNOTATOR_VAR_DIR=tmp, DATABASE_URL=f"sqlite:///{tmp}/db.sqlite3",
                          DJANGO_SETTINGS_MODULE="annotator.settings", CELERY_BROKER_URL="filesystem://",
                          ANNOTATOR_SAM_EMBED_AFTER_UPLOAD="0", ANNOTATOR_SUPERPIXELS_AFTER_UPLOAD="0",
                          ANNOTATOR_LOG_LEVEL="WARNING")
        import django

        django.setup()
        import numpy as np
        from django.contrib.auth import get_user_model
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.core.management import call_command
        from PIL import Image as PILImage
        from skimage import data, transform

        from labeling.models import Image
        from labeling.services import scribbles
        from labeling.services.images import images_upload
        from labeling.services.projects import label_class_create, project_create

        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_user("bench", password=None)
        project = project_create(user=user, name="scribbles", kind="semantic")
        ids = {name: label_class_create(project=project, name=name, kind="stuff", color=color).pk
               for name, color in (("suit", "#ffffff"), ("flag", "#ff0000"), ("face", "#ffcc99"))}
        rgb = (transform.resize(data.astronaut(), (args.size, args.size), anti_aliasing=True) * 255).astype(np.uint8)
        buffer = io.BytesIO()
        PILImage.fromarray(rgb).save(buffer, format="PNG")
        batch = images_upload(project=project, user=user,
                              files=[SimpleUploadedFile("astronaut.png", buffer.getvalue())])
        image = Image.objects.get(pk=batch.results[0].image_id)
        strokes = _strokes(args.size, ids)

        def proposal(resolution: str, *, cold: bool) -> dict:
            if cold:
                scribbles.feature_cache_clear()
            started = time.perf_counter()
            answer = scribbles.scribble_proposal(image=image, user=user, strokes=strokes, resolution=resolution)
            seconds = dict(answer["seconds"], wall=time.perf_counter() - started)
            assert answer["cached"] is not cold
            return {"seconds": seconds, "scale": answer["scale"],
                    "response_kb": round((len(answer["labels"]) + len(answer["confidence"])) / 1024, 1)}

        log("warm-up (imports, first thread pools)")
        proposal("coarse", cold=True)
        results = {}
        busy_before, wall_before = machine_busy_seconds(), time.perf_counter()
        for resolution in ("coarse", "full"):
            for cold in (True, False):
                if not cold:
                    proposal(resolution, cold=True)  # fill the cache
                runs = [proposal(resolution, cold=cold) for _ in range(args.repeats)]
                name = f"{resolution}_{'cold' if cold else 'warm'}"
                results[name] = {
                    "median_s": round(statistics.median(r["seconds"]["total"] for r in runs), 3),
                    "median_parts_s": {part: round(statistics.median(r["seconds"][part] for r in runs), 3)
                                       for part in ("features", "fit", "predict")},
                    "runs_s": [round(r["seconds"]["total"], 3) for r in runs],
                    "scale": runs[0]["scale"], "response_kb": runs[0]["response_kb"],
                }
                log(name, results[name])
        sequence = []
        for _ in range(args.repeats):
            scribbles.feature_cache_clear()
            started = time.perf_counter()
            coarse = scribbles.scribble_proposal(image=image, user=user, strokes=strokes, resolution="coarse")
            first = time.perf_counter() - started
            scribbles.scribble_proposal(image=image, user=user, strokes=strokes, resolution="full")
            sequence.append((first, time.perf_counter() - started))
            assert coarse["scale"] < 1
        results["client_sequence"] = {
            "coarse_shown_median_s": round(statistics.median(s[0] for s in sequence), 3),
            "full_shown_median_s": round(statistics.median(s[1] for s in sequence), 3),
        }
        elapsed = time.perf_counter() - wall_before
        busy = machine_busy_seconds() - busy_before
    print(json.dumps({
        "benchmark": "scribble_latency",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
        "image": f"{args.size}x{args.size} PNG (skimage.data.astronaut resized)",
        "strokes": len(strokes), "labels": 4, "repeats": args.repeats, "threads": scribbles.THREADS,
        "target_s": 3.0,
        "results": results,
        # CPU the whole machine used meanwhile, in cores: near `threads` when nothing else ran.
        "machine_cores_busy": round(busy / elapsed, 2),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""SAM on the server: embedding-job throughput against a bare `SamPredictor.set_image` loop, and the server
decode endpoint's latency over HTTP. Prints one JSON object (progress on stderr).

    python bench/sam_embedding.py                       # random-weight real-size vit_b, 4 images of 640x480
    python bench/sam_embedding.py --images 8 --decodes 200
    python bench/sam_embedding.py --tcmalloc            # also rerun the embedding part with libtcmalloc preloaded

The model is `sam_model_registry["vit_b"]()` with random weights saved as a temporary checkpoint (weights are
never downloaded; speed does not depend on the weights' values). Everything lives in a temporary folder: a
SQLite database, media, the checkpoint. The job path is the real one: `images_upload` stores the images,
then the `workers.tasks.compute_embeddings` task runs the `embeddings` job in this process (eagerly, no
broker), which reads each image from storage, encodes in batches of ANNOTATOR_SAM_BATCH_SIZE, and writes the
float16 file and the row. The decoder is exported before timing (a one-time cost, reported separately).
The decode part starts gunicorn on 127.0.0.1 and POSTs single-click prompts to /api/images/{id}/sam/decode/.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ServerProcess, log, manage  # noqa: E402

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _png(seed: int, width: int, height: int) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    img = np.stack([xs * 255 // width, ys * 255 // height, rng.integers(0, 256, (height, width))], -1)
    buf = io.BytesIO()
    Image.fromarray(img.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def embedding_part(args, work: Path) -> dict:
    """Runs inside a process whose environment points Django at `work` (see main)."""
    import django

    django.setup()
    import numpy as np
    import torch
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from segment_anything import SamPredictor

    from labeling.models import Image, Job
    from labeling.services.images import images_upload
    from labeling.services.jobs import job_create
    from labeling.services.projects import project_create
    from labeling.services.sam import _load_rgb, _worker_model, decoders_export, embedding_batch_size, sam_config
    from workers.tasks import compute_embeddings

    user = get_user_model().objects.get(username="bench")
    project = project_create(user=user, name=f"bench {time.time()}", kind="instance")
    files = [SimpleUploadedFile(f"{i}.png", _png(i + 100 * args.round, args.width, args.height))
             for i in range(args.images)]
    batch = images_upload(project=project, files=files, user=user)  # the display job is not run: not measured
    ids = [r.image_id for r in batch.results]
    images = list(Image.objects.filter(pk__in=ids).order_by("pk"))
    config = sam_config()
    start = time.perf_counter()
    sam, device = _worker_model(config)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    decoders_export(config=config, sam=sam)
    export_s = time.perf_counter() - start

    arrays = [_load_rgb(image)[0] for image in images]
    predictor = SamPredictor(sam)
    predictor.set_image(arrays[0])  # warm-up
    bare = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for array in arrays:
            predictor.set_image(array)
            _ = predictor.features.cpu().numpy().astype(np.float16)
        bare.append(time.perf_counter() - start)

    job_times = []
    for repeat in range(args.repeats):
        from labeling.models import ImageEmbedding

        ImageEmbedding.objects.filter(sha256__in=[im.sha256 for im in images]).delete()
        job, _ = job_create(kind="embeddings", project=project, params={"image_ids": ids}, user=user,
                            dedup_key=f"bench-{time.time()}-{repeat}")
        start = time.perf_counter()
        compute_embeddings(job.pk)  # the Celery task body: job_run → embeddings_compute
        job_times.append(time.perf_counter() - start)
        job.refresh_from_db()
        assert job.status == "succeeded" and len(job.result["computed"]) == len(ids), (job.status, job.error)
    bare_med, job_med = statistics.median(bare), statistics.median(job_times)
    return {
        "images": args.images, "size": [args.height, args.width], "device": device,
        "torch_threads": torch.get_num_threads(),
        "batch_size": embedding_batch_size(settings.ANNOTATOR["SAM_BATCH_SIZE"], device),
        "model_load_s": round(load_s, 2), "decoder_export_s": round(export_s, 2),
        "bare_set_image_s_per_image": round(bare_med / args.images, 3),
        "job_s_per_image": round(job_med / args.images, 3),
        "job_images_per_s": round(args.images / job_med, 3),
        "bare_images_per_s": round(args.images / bare_med, 3),
        "job_overhead_pct": round(100 * (job_med - bare_med) / bare_med, 1),
        "runs_s": {"bare": [round(t, 2) for t in bare], "job": [round(t, 2) for t in job_times]},
        "image_ids": ids,
        "last_job": Job.objects.filter(kind="embeddings").order_by("-id").first().pk,
    }


def decode_part(args, env: dict, work: Path, image_id: int) -> dict:
    token_script = ("from rest_framework.authtoken.models import Token;"
                    "from django.contrib.auth import get_user_model;"
                    "print(Token.objects.get_or_create(user=get_user_model().objects.get(username='bench'))[0].key)")
    token = subprocess.run([sys.executable, "manage.py", "shell", "-c", token_script], cwd=ROOT, env=env,
                           check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]

    def command(bind):
        return [sys.executable, "-m", "gunicorn", "annotator.wsgi:application", "--bind", bind, "--workers", "1",
                "--threads", "1", "--worker-class", "sync"]

    server = ServerProcess(command, env, work / "gunicorn.log", name="gunicorn")
    server.start()
    try:
        url = f"{server.base}/api/images/{image_id}/sam/decode/"
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        latencies = []
        for i in range(args.decodes + 5):
            x, y = 20.5 + (i * 37) % (args.width - 40), 20.5 + (i * 53) % (args.height - 40)
            body = json.dumps({"points": [[x, y]], "labels": [1], "multimask": i % 2 == 0}).encode()
            start = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=60) as response:
                payload = json.loads(response.read())
            if i >= 5:  # the first requests load the decoder session and the embedding
                latencies.append((time.perf_counter() - start) * 1000)
            assert payload["masks"], payload
    finally:
        server.stop()
    return {"requests": len(latencies), "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(_percentile(latencies, 0.95), 1), "server": "gunicorn sync, 1 worker",
            "decoder_threads": int(env.get("ANNOTATOR_SAM_DECODER_THREADS", 1))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--repeats", type=int, default=2, help="timed passes over the images (median reported)")
    p.add_argument("--decodes", type=int, default=100)
    p.add_argument("--tcmalloc", action="store_true", help=f"also run the embedding part with {TCMALLOC} preloaded")
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--embedding-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.embedding_only:  # child process: Django is configured by the environment
        print(json.dumps(embedding_part(args, Path(args.work))))
        return

    with tempfile.TemporaryDirectory(prefix="sam-bench-") as tmp:
        work = Path(tmp)
        import torch
        from segment_anything import sam_model_registry

        log("building a random-weight vit_b checkpoint")
        torch.manual_seed(0)
        checkpoint = work / "sam_vit_b_random.pth"
        torch.save(sam_model_registry["vit_b"]().state_dict(), checkpoint)
        env = dict(os.environ)
        env.update(ANNOTATOR_VAR_DIR=str(work), DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
                   DJANGO_MEDIA_ROOT=str(work / "media"), CELERY_BROKER_URL="filesystem://",
                   ANNOTATOR_SAM_CHECKPOINT=str(checkpoint), ANNOTATOR_SAM_MODEL_TYPE="vit_b",
                   ANNOTATOR_SAM_EMBED_AFTER_UPLOAD="0", ANNOTATOR_SUPERPIXEL_GRANULARITIES="0",
                   DJANGO_SETTINGS_MODULE="annotator.settings", DJANGO_ENV="production",
                   DJANGO_SECRET_KEY="bench-" + os.urandom(16).hex(), DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
                   DJANGO_SECURE_COOKIES="0")
        env.pop("LD_PRELOAD", None)
        manage(env, "migrate", "--noinput")
        subprocess.run([sys.executable, "manage.py", "shell", "-c",
                        "from django.contrib.auth import get_user_model;"
                        "get_user_model().objects.create_user('bench', password=None)"],
                       cwd=ROOT, env=env, check=True, stdout=sys.stderr)

        def run_embedding(extra_env: dict, round_: int) -> dict:
            cmd = [sys.executable, __file__, "--embedding-only", "--work", str(work), "--round", str(round_),
                   "--images", str(args.images), "--width", str(args.width), "--height", str(args.height),
                   "--repeats", str(args.repeats)]
            out = subprocess.run(cmd, cwd=ROOT, env={**env, **extra_env}, check=True, capture_output=True, text=True)
            sys.stderr.write(out.stderr[-2000:])
            return json.loads(out.stdout.strip().splitlines()[-1])

        log("embeddings: bare SamPredictor loop vs the embedding job")
        plain = run_embedding({}, 0)
        result = {"benchmark": "sam_embedding", "model": "vit_b (random weights)", "cpu_count": os.cpu_count(),
                  "embedding": plain}
        if args.tcmalloc:
            if Path(TCMALLOC).exists():
                log("embeddings again with tcmalloc")
                result["embedding_tcmalloc"] = run_embedding({"LD_PRELOAD": TCMALLOC}, 1)
            else:
                result["embedding_tcmalloc"] = f"{TCMALLOC} missing (apt-get install libtcmalloc-minimal4)"
        log("server decode latency")
        result["decode"] = decode_part(args, env, work, plain["image_ids"][0])
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

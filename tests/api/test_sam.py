"""SAM endpoints with a tiny random-weight model (the real segment_anything classes) as the checkpoint."""

import io

import numpy as np
import onnxruntime as ort
import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from PIL import Image as PILImage
from segment_anything import SamPredictor
from skimage import data as skdata

from labeling.masks.rle import rle_to_mask
from labeling.models import Image, ImageEmbedding, Job, JobStatus, Proposal, Role
from labeling.services.images import images_upload
from labeling.services.projects import project_create
from labeling.services.sam import _load_rgb, decoder_path, embedding_path, sam_config
from tests.api.conftest import client_for
from tests.conftest import png_bytes
from tests.sam_support import compute_embedding, tiny_checkpoint, use_tiny_sam
from workers.runners import sam as runner


@pytest.fixture
def sam_world(world, settings):
    use_tiny_sam(settings)
    return world


def _embedding_url(image):
    return reverse("image-embedding", kwargs={"pk": image.pk})


def _decode(client, image, **body):
    return client.post(reverse("image-sam-decode", kwargs={"pk": image.pk}), body, format="json")


def test_without_a_checkpoint_sam_is_unavailable_and_the_rest_still_works(world):
    client = client_for(world.users["manager"])
    status = client.get(reverse("sam-status")).json()
    assert status["available"] is False and "ANNOTATOR_SAM_CHECKPOINT" in status["reason"]
    assert status["model_key"] is None and status["decoder"]["available"] is False
    assert status["decoder"]["url"] == "/api/sam/decoder/" and status["embedding_size"] == 1024
    response = _decode(client, world.image, points=[[1.5, 1.5]], labels=[1])
    assert response.status_code == 503 and response.json()["code"] == "sam_unavailable"
    assert client.post(_embedding_url(world.image)).status_code == 503
    assert client.get(_embedding_url(world.image)).status_code == 503
    assert client.get(reverse("sam-decoder")).status_code == 503
    assert client.get(reverse("image-proposals", kwargs={"pk": world.image.pk})).json() == {
        "model_key": None, "results": []}
    assert not Job.objects.filter(kind="embeddings").exists()
    assert client.get(reverse("image-detail", kwargs={"pk": world.image.pk})).status_code == 200


def test_a_missing_checkpoint_file_is_named(world, settings, tmp_path):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SAM_CHECKPOINT": str(tmp_path / "nope.pt")}
    status = client_for(world.users["annotator"]).get(reverse("sam-status")).json()
    assert status["available"] is False and "nope.pt" in status["reason"]


def test_embedding_missing_then_computed_then_served(sam_world, django_capture_on_commit_callbacks):
    image = sam_world.image
    client = client_for(sam_world.users[Role.ANNOTATOR])
    missing = client.get(_embedding_url(image))
    assert missing.status_code == 404
    assert missing.json()["code"] == "embedding_missing" and missing.json()["extra"] == {"job": None}

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(_embedding_url(image))
    assert started.status_code == 202, started.content
    job = Job.objects.get(pk=started.json()["job"]["id"])
    assert job.kind == "embeddings" and job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["computed"] == [image.pk]

    response = client.get(_embedding_url(image))
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    key = sam_config().model_key
    assert response["X-Embedding-Shape"] == "16,64,64"
    assert response["X-Embedding-Original-Size"] == "480,640"
    assert response["X-Embedding-Input-Size"] == "768,1024"
    assert response["X-Embedding-Model"] == key and key.startswith("tiny-")
    assert response["Content-Type"] == "application/octet-stream"
    stored = ImageEmbedding.objects.get(sha256=image.sha256, model_key=key)
    assert stored.file == embedding_path(model_key=key, sha256=image.sha256)
    # The bytes are what SamPredictor.set_image computes for the image, as float16.
    served = np.frombuffer(body, dtype="<f2").reshape(16, 64, 64).astype(np.float32)
    predictor = SamPredictor(runner.load_sam("tiny", tiny_checkpoint()))
    predictor.set_image(_load_rgb(image)[0])
    np.testing.assert_allclose(served, predictor.features[0].numpy(), atol=2e-2, rtol=1e-2)

    again = client.get(_embedding_url(image), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert client.post(_embedding_url(image)).json() == {"job": None}  # exists already: 200, no job


def test_upload_enqueues_embeddings_and_duplicates_share_them(sam_world, django_capture_on_commit_callbacks):
    manager = sam_world.users["manager"]
    files = [SimpleUploadedFile("a.png", png_bytes(90, 60, seed=3)), SimpleUploadedFile("b.png", png_bytes(50, 70))]
    with django_capture_on_commit_callbacks(execute=True):
        batch = images_upload(project=sam_world.project, files=files, user=manager)
    ids = [r.image_id for r in batch.results]
    job = Job.objects.get(kind="embeddings")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert sorted(job.params["image_ids"]) == sorted(ids) and sorted(job.result["computed"]) == sorted(ids)
    assert all(Image.objects.get(pk=i).sha256 for i in ids)
    # The same bytes in another project reuse the stored embedding: the job skips it.
    other = project_create(user=manager, name="Other", kind="semantic")
    with django_capture_on_commit_callbacks(execute=True):
        images_upload(project=other, files=[SimpleUploadedFile("a.png", png_bytes(90, 60, seed=3))], user=manager)
    assert ImageEmbedding.objects.count() == 2
    second = Job.objects.filter(kind="embeddings").exclude(pk=job.pk)
    assert not second.exists()  # nothing was missing, so no job was created


def test_decode_matches_the_torch_predictor(sam_world):
    image = sam_world.image
    compute_embedding(image)
    client = client_for(sam_world.users[Role.REVIEWER])
    single = _decode(client, image, points=[[320.5, 240.5]], labels=[1])
    assert single.status_code == 200, single.content
    assert single.json()["model_key"] == sam_config().model_key
    assert len(single.json()["masks"]) == 1
    multi = _decode(client, image, points=[[320.5, 240.5], [100.5, 50.5]], labels=[1, 0], multimask=True).json()
    assert len(multi["masks"]) == 3
    scores = [m["score"] for m in multi["masks"]]
    assert scores == sorted(scores, reverse=True)

    row = ImageEmbedding.objects.get(sha256=image.sha256)
    predictor = SamPredictor(runner.load_sam("tiny", tiny_checkpoint()))
    predictor.features = torch.as_tensor(
        runner.embedding_from_bytes(open(row_path(row), "rb").read(), row.shape).astype(np.float32))[None]
    predictor.original_size, predictor.input_size, predictor.is_image_set = (480, 640), (768, 1024), True
    logits, torch_scores, _ = predictor.predict(np.array([[320.5, 240.5], [100.5, 50.5]]), np.array([1, 0]),
                                                multimask_output=True, return_logits=True)
    for mask in multi["masks"]:
        decoded = rle_to_mask(mask["rle"])
        assert decoded.shape == (480, 640) and decoded.sum() == mask["area"]
        best = int(np.argmin(np.abs(torch_scores - mask["score"])))
        assert abs(torch_scores[best] - mask["score"]) < 1e-4
        assert (decoded != (logits[best] > 0)).sum() <= 0.001 * decoded.size


def test_decode_with_the_quantized_decoder_and_without_it(sam_world):
    """The editor asks for the decoder its browser worker loads (uint8 by default) so both paths agree; an
    instance that never exported it answers with float32 and says so."""
    from django.core.files.storage import default_storage

    from labeling.services import sam as sam_services

    image = sam_world.image
    compute_embedding(image)
    client = client_for(sam_world.users[Role.ANNOTATOR])
    prompt = {"points": [[320.5, 240.5]], "labels": [1], "multimask": True}
    fp32 = _decode(client, image, **prompt).json()
    quant = _decode(client, image, decoder="quantized", **prompt).json()
    assert fp32["decoder"] == "fp32" and quant["decoder"] == "quantized"
    assert [m["score"] for m in quant["masks"]] != [m["score"] for m in fp32["masks"]]  # another network
    assert len(quant["masks"]) == 3 and all(m["area"] > 0 for m in quant["masks"])
    assert _decode(client, image, decoder="int4", **prompt).status_code == 400

    default_storage.delete(decoder_path(model_key=sam_config().model_key, quantized=True))
    sam_services._sessions.clear()  # a process that never loaded it
    fallback = _decode(client, image, decoder="quantized", **prompt).json()
    assert fallback["decoder"] == "fp32" and fallback["masks"] == fp32["masks"]


def row_path(row):
    from django.core.files.storage import default_storage

    return default_storage.path(row.file)


@pytest.mark.parametrize("body", [
    {"points": [], "labels": []},
    {"points": [[1.5, 1.5]], "labels": []},
    {"points": [[1.5, 1.5]], "labels": [2]},
    {"points": [[641.0, 1.5]], "labels": [1]},
    {"points": [[1.5, -1.0]], "labels": [1]},
    {"points": [[1.5, 1.5]] * 65, "labels": [1] * 65},
    {"points": [[1.5]], "labels": [1]},
    {"points": [["a", 1]], "labels": [1]},
    {"box": [100, 100, 50, 200]},
    {"box": [0, 0, 700, 200]},
    {"box": [0, 0, 10]},
])
def test_bad_prompts_are_400(sam_world, body):
    # Prompts are checked before anything else (no embedding needed, nothing enqueued).
    response = _decode(client_for(sam_world.users["manager"]), sam_world.image, **body)
    assert response.status_code == 400, response.content
    assert response.json()["message"]
    assert not Job.objects.filter(kind="embeddings").exists()


def test_decode_without_embedding_is_409_and_starts_it(sam_world):
    response = _decode(client_for(sam_world.users["manager"]), sam_world.image, box=[10, 10, 200, 100])
    assert response.status_code == 409 and response.json()["code"] == "embedding_missing"
    job = Job.objects.get(pk=response.json()["extra"]["job"])
    assert job.kind == "embeddings" and job.params["image_ids"] == [sam_world.image.pk]
    # Asking again while it runs reports the same job.
    again = client_for(sam_world.users["manager"]).get(_embedding_url(sam_world.image))
    assert again.json()["extra"]["job"] == job.pk


def test_missing_decoders_with_every_embedding_there_are_exported_by_a_job(sam_world,
                                                                           django_capture_on_commit_callbacks):
    """After an upgrade that changed the decoder format, the images keep their embeddings but no decoder of the
    new format exists: the editor's POST (and a decode) start the job that exports it."""
    from django.core.files.storage import default_storage

    image = sam_world.image
    compute_embedding(image)
    key = sam_config().model_key
    for quantized in (False, True):
        default_storage.delete(decoder_path(model_key=key, quantized=quantized))
    client = client_for(sam_world.users[Role.ANNOTATOR])
    assert client.get(reverse("sam-status")).json()["decoder"]["available"] is False
    refused = _decode(client, image, points=[[10.5, 10.5]], labels=[1])
    assert refused.status_code == 409 and refused.json()["code"] == "decoder_missing"
    job = Job.objects.get(pk=refused.json()["extra"]["job"])
    assert job.kind == "embeddings" and job.params["image_ids"] == [image.pk]
    assert client.post(_embedding_url(image)).json()["job"]["id"] == job.pk  # the same job, not a second one
    job.delete()
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(_embedding_url(image))
    assert started.status_code == 202
    finished = Job.objects.get(pk=started.json()["job"]["id"])
    assert finished.status == JobStatus.SUCCEEDED, finished.error
    assert finished.result["skipped"] == [image.pk]  # the embedding was kept
    assert client.get(reverse("sam-status")).json()["decoder"]["available"] is True
    assert _decode(client, image, points=[[10.5, 10.5]], labels=[1]).status_code == 200
    assert client.post(_embedding_url(image)).json() == {"job": None}


def test_proposals_job_and_list(sam_world, django_capture_on_commit_callbacks):
    image = sam_world.image
    client = client_for(sam_world.users[Role.ANNOTATOR])
    url = reverse("image-proposals", kwargs={"pk": image.pk})
    for _ in range(2):  # a second run replaces the first one's proposals
        with django_capture_on_commit_callbacks(execute=True):
            started = client.post(url)
        assert started.status_code == 202
        job = Job.objects.get(pk=started.json()["job"]["id"])
        assert job.status == JobStatus.SUCCEEDED, job.error
    listed = client.get(url).json()
    assert listed["model_key"] == sam_config().model_key
    assert len(listed["results"]) == job.result["proposals"] == Proposal.objects.filter(image=image).count()
    scores = [p["score"] for p in listed["results"]]
    assert scores == sorted(scores, reverse=True)
    for proposal in listed["results"]:
        mask = rle_to_mask(proposal["rle"], shape=(480, 640))
        assert mask.sum() == proposal["area"] > 0


def test_decoder_files_are_served_and_load(world, settings):
    use_tiny_sam(settings, with_decoders=False)
    client = client_for(world.users[Role.ANNOTATOR])
    missing = client.get(reverse("sam-decoder"))
    assert missing.status_code == 404 and missing.json()["code"] == "decoder_missing"
    assert "export_sam_decoder" in missing.json()["message"]
    call_command("export_sam_decoder", "--quantize")
    key = sam_config().model_key
    assert client.get(reverse("sam-status")).json()["decoder"]["available"] is True
    decoder = client.get(reverse("sam-status")).json()["decoder"]
    # The URLs name the model and the decoder format, so a browser never reuses a cached decoder of another.
    assert decoder["url"] == f"{reverse('sam-decoder')}?v={key}.v{runner.DECODER_FORMAT}"
    assert decoder["quantized_url"] == decoder["url"] + "&quantized=1"
    fp32 = client.get(decoder["url"])
    quant = client.get(decoder["quantized_url"])
    assert fp32.status_code == quant.status_code == 200
    assert fp32["ETag"] != quant["ETag"] and fp32["X-Sam-Model"] == key
    fp32_bytes, quant_bytes = b"".join(fp32.streaming_content), b"".join(quant.streaming_content)
    assert fp32_bytes != quant_bytes
    for data in (fp32_bytes, quant_bytes):
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == [
            "image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input"]
        assert [o.name for o in session.get_outputs()] == ["low_res_masks", "iou_predictions"]
    assert client.get(reverse("sam-decoder"), HTTP_IF_NONE_MATCH=fp32["ETag"]).status_code == 304
    from django.core.files.storage import default_storage

    assert default_storage.exists(decoder_path(model_key=key, quantized=True))
    assert decoder_path(model_key=key).endswith(f"/decoder-v{runner.DECODER_FORMAT}.onnx")


def test_embedding_batch_size_is_automatic_by_device():
    from labeling.services.sam import embedding_batch_size

    assert embedding_batch_size(0, "cpu") == 1
    assert embedding_batch_size(0, "cuda") == 4 and embedding_batch_size(0, "cuda:1") == 4
    assert embedding_batch_size(3, "cpu") == 3


def test_a_large_image_is_decoded_reduced_and_embeds_like_the_full_resolution_one(sam_world, settings):
    """Images over 4x the encoder's input are decoded at a reduced size (JPEG draft + reduce) before SAM's exact
    resize; the embedding keeps the full image size and is the one computed from the full-resolution pixels."""
    big = np.asarray(PILImage.fromarray(skdata.astronaut()).resize((5000, 3000), PILImage.Resampling.BILINEAR))
    buffer = io.BytesIO()
    PILImage.fromarray(big).save(buffer, "JPEG", quality=92)
    batch = images_upload(project=sam_world.project, files=[SimpleUploadedFile("big.jpg", buffer.getvalue())],
                          user=sam_world.users[Role.MANAGER])
    image = Image.objects.get(pk=batch.results[0].image_id)
    rgb, original = _load_rgb(image)
    assert original == (3000, 5000)
    assert max(rgb.shape[:2]) < 5000 and max(rgb.shape[:2]) >= 2 * runner.TARGET_LENGTH  # reduced, not below 2x

    compute_embedding(image)
    row = ImageEmbedding.objects.get(sha256=image.sha256, model_key=sam_config().model_key)
    assert row.original_size == [3000, 5000] and row.input_size == [614, 1024]
    stored = runner.embedding_from_bytes(open(settings.MEDIA_ROOT / row.file, "rb").read(), row.shape)
    predictor = SamPredictor(runner.load_sam("tiny", tiny_checkpoint()))
    with PILImage.open(io.BytesIO(buffer.getvalue())) as full:
        predictor.set_image(np.asarray(full.convert("RGB")))
    reference = predictor.features[0].numpy()
    correlation = np.corrcoef(stored.astype(np.float32).ravel(), reference.ravel())[0, 1]
    assert correlation > 0.99, correlation


def test_sam_masks_are_refused_for_images_over_the_mask_size_limit(sam_world, settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SAM_MAX_MASK_PIXELS": 640 * 480 - 1}
    client = client_for(sam_world.users[Role.ANNOTATOR])
    response = _decode(client, sam_world.image, points=[[10, 10]], labels=[1], box=None, multimask=True)
    assert response.status_code == 400 and response.json()["code"] == "image_too_large"
    started = client.post(reverse("image-proposals", kwargs={"pk": sam_world.image.pk}))
    assert started.status_code == 400 and started.json()["code"] == "image_too_large"
    assert not Job.objects.filter(kind="proposals").exists()
    assert client.get(reverse("sam-status")).json()["max_mask_pixels"] == 640 * 480 - 1

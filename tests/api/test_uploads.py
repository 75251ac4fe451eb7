"""Uploads through the API: many files and ZIPs per request, rejected per file with a reason."""

import io
import stat
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from labeling.models import Image, Job, PyramidStatus
from tests.api.conftest import client_for, upload_files
from tests.conftest import jpeg_bytes, png_bytes
from tests.unit.test_ingest_images import handmade_tiff


def zip_bytes(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


@pytest.fixture
def manager_client(world):
    return client_for(world.users["manager"])


def by_name(response):
    """Per-file results: in the body of a 201/200, in `extra.results` of a 422 (nothing accepted)."""
    body = response.json()
    if response.status_code == 422:
        assert body["code"] == "nothing_accepted" and body["message"], body
        return {r["name"]: r for r in body["extra"]["results"]}
    return {r["name"]: r for r in body["results"]}


def test_batch_with_good_bad_and_duplicate_files(world, manager_client, django_capture_on_commit_callbacks):
    truncated = jpeg_bytes(200, 100, seed=3)[:600]
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_files(manager_client, world.project, [
            SimpleUploadedFile("good.jpg", jpeg_bytes(120, 80, seed=1)),
            SimpleUploadedFile("good.png", png_bytes(64, 48, seed=2)),
            SimpleUploadedFile("again.png", png_bytes(64, 48, seed=2)),
            SimpleUploadedFile("street-copy.png", png_bytes(640, 480)),  # same bytes as the world's image
            SimpleUploadedFile("cut.jpg", truncated),
            SimpleUploadedFile("fake.png", b"<html><script>alert(1)</script></html>"),
            SimpleUploadedFile("png-named.jpg", png_bytes(10, 10, seed=9)),
        ])
    assert response.status_code == 201, response.json()
    results = by_name(response)
    assert results["good.jpg"]["status"] == "accepted"
    assert results["good.png"]["status"] == "accepted"
    assert results["again.png"]["status"] == "duplicate"
    assert results["street-copy.png"]["status"] == "duplicate"
    assert results["street-copy.png"]["image_id"] == world.image.pk
    assert results["cut.jpg"]["status"] == "rejected" and results["cut.jpg"]["code"] in {"truncated", "corrupt"}
    assert results["fake.png"]["status"] == "rejected"
    assert results["png-named.jpg"]["code"] == "disguised_file"
    assert all(r["message"] for r in results.values() if r["status"] != "accepted")
    assert response.json()["accepted"] == 2 and response.json()["duplicates"] == 2
    good = Image.objects.get(pk=results["good.jpg"]["image_id"])
    assert (good.width, good.height, good.format) == (120, 80, "JPEG")
    assert good.pyramid_status == PyramidStatus.READY
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.status == "succeeded" and sorted(job.result["processed"]) == sorted(
        [results["good.jpg"]["image_id"], results["good.png"]["image_id"]])
    thumb = manager_client.get(reverse("image-thumbnail", kwargs={"pk": good.pk}))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"


def test_zip_archive_members_are_judged_one_by_one(world, manager_client, settings):
    archive = zip_bytes(
        {
            "photos/a.png": png_bytes(30, 20, seed=11),
            "photos/b.jpg": jpeg_bytes(30, 20, seed=12),
            "../evil.png": png_bytes(8, 8, seed=13),
            "inner.zip": zip_bytes({"x.png": png_bytes(8, 8, seed=14)}),
            "notes.txt": b"hello",
            "__MACOSX/._a.png": b"junk",
        },
        symlinks={"link.png": "/etc/passwd"},
    )
    response = upload_files(manager_client, world.project, [SimpleUploadedFile("batch.zip", archive)])
    assert response.status_code == 201, response.json()
    results = by_name(response)
    assert results["batch.zip/photos/a.png"]["status"] == "accepted"
    assert results["batch.zip/photos/b.jpg"]["status"] == "accepted"
    assert results["batch.zip/../evil.png"]["code"] == "zip_slip"
    assert results["batch.zip/inner.zip"]["code"] == "nested_archive"
    assert results["batch.zip/link.png"]["code"] == "symlink"
    assert results["batch.zip/notes.txt"]["status"] == "rejected"
    assert not any("__MACOSX" in name for name in results)
    assert Image.objects.filter(project=world.project).count() == 3


def test_oversized_archive_member_is_refused(world, manager_client, settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "MAX_UPLOAD_FILE_BYTES": 10_000}
    archive = zip_bytes({"big.png": png_bytes(200, 200, seed=1), "small.png": png_bytes(10, 10, seed=2)})
    results = by_name(upload_files(manager_client, world.project, [SimpleUploadedFile("a.zip", archive)]))
    assert results["a.zip/big.png"]["code"] == "member_too_large"
    assert results["a.zip/small.png"]["status"] == "accepted"


def test_corrupt_zip_is_refused_whole_but_the_batch_goes_on(world, manager_client):
    broken = zip_bytes({"a.png": png_bytes(10, 10, seed=5)})[:-30]
    response = upload_files(manager_client, world.project, [SimpleUploadedFile("broken.zip", broken),
                                                      SimpleUploadedFile("ok.png", png_bytes(9, 9, seed=6))])
    results = by_name(response)
    assert results["broken.zip"]["status"] == "rejected"
    assert results["ok.png"]["status"] == "accepted"


def test_pixel_limit(world, manager_client, settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "MAX_IMAGE_PIXELS": 1000}
    results = by_name(upload_files(manager_client, world.project, [SimpleUploadedFile("big.png", png_bytes(50, 50))]))
    assert results["big.png"]["code"] == "too_many_pixels"


def test_exif_orientation_is_applied(world, manager_client, django_capture_on_commit_callbacks):
    # A 40x20 image whose EXIF says "rotate 90 CW to display" (orientation 6) displays as 20x40.
    img = PILImage.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 10, 10))  # red in the stored top-left corner
    exif = PILImage.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes(), quality=95)
    with django_capture_on_commit_callbacks(execute=True):
        rotated = SimpleUploadedFile("rotated.jpg", buf.getvalue())
        results = by_name(upload_files(manager_client, world.project, [rotated]))
    image = Image.objects.get(pk=results["rotated.jpg"]["image_id"])
    assert (image.width, image.height) == (20, 40)
    stored = manager_client.get(reverse("image-file", kwargs={"pk": image.pk}))
    upright = PILImage.open(io.BytesIO(b"".join(stored.streaming_content)))
    assert upright.size == (20, 40)
    red, green, blue = upright.convert("RGB").getpixel((17, 2))  # rotated CW: top-left lands top-right
    assert red > 200 and blue < 60


def test_no_files_is_a_clear_400(world, manager_client):
    response = manager_client.post(reverse("project-images", kwargs={"project_pk": world.project.pk}), {},
                                   format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == "no_files"


def test_image_list_filters_and_pagination(world, manager_client):
    upload_files(manager_client, world.project, [SimpleUploadedFile(f"img{i}.png", png_bytes(8, 8, seed=100 + i))
                                           for i in range(5)])
    url = reverse("project-images", kwargs={"project_pk": world.project.pk})
    page = manager_client.get(url, {"page_size": 2}).json()
    assert page["count"] == 6 and len(page["results"]) == 2 and page["next"]
    assert manager_client.get(url, {"search": "img3"}).json()["count"] == 1
    assert manager_client.get(url, {"state": "approved"}).json()["count"] == 0
    bad = manager_client.get(url, {"state": "bogus"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"


def test_different_images_of_one_name_keep_distinct_names(world, manager_client):
    """Folders of a ZIP stay in the name (with / whoever zipped it); a name two images of one upload would share
    (a ZIP may hold two members of one path, a batch two files of one name) gets a number."""
    archive = zip_bytes({"train/cat.png": png_bytes(20, 10, seed=21), "val/cat.png": png_bytes(20, 10, seed=22),
                         "win\\dog.png": png_bytes(20, 10, seed=23)})
    twice = io.BytesIO()
    with zipfile.ZipFile(twice, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("cat.png", png_bytes(20, 10, seed=24))
        zf.writestr("cat.png", png_bytes(20, 10, seed=25))
        zf.writestr("same.png", png_bytes(20, 10, seed=26))
        zf.writestr("same.png", png_bytes(20, 10, seed=26))  # the same content: a duplicate, not a second image
    response = upload_files(manager_client, world.project, [
        SimpleUploadedFile("batch.zip", archive), SimpleUploadedFile("twice.zip", twice.getvalue()),
        SimpleUploadedFile("x.png", png_bytes(20, 10, seed=27)),
        SimpleUploadedFile("x.png", png_bytes(20, 10, seed=28))])
    assert response.status_code == 201, response.json()
    results = response.json()["results"]
    assert [(r["name"], r["status"], r["message"]) for r in results] == [
        ("batch.zip/train/cat.png", "accepted", ""), ("batch.zip/val/cat.png", "accepted", ""),
        ("batch.zip/win/dog.png", "accepted", ""), ("twice.zip/cat.png", "accepted", ""),
        ("twice.zip/cat.png", "accepted",
         "another image of this upload is named so too; stored as twice.zip/cat (2).png"),
        ("twice.zip/same.png", "accepted", ""),
        ("twice.zip/same.png", "duplicate", "same content as twice.zip/same.png in this upload"),
        ("x.png", "accepted", ""),
        ("x.png", "accepted", "another image of this upload is named so too; stored as x (2).png")]
    names = {r["image_id"]: r for r in results if r["status"] == "accepted"}
    stored = dict(Image.objects.filter(pk__in=names).values_list("pk", "original_name"))
    assert sorted(stored.values()) == sorted([
        "batch.zip/train/cat.png", "batch.zip/val/cat.png", "batch.zip/win/dog.png", "twice.zip/cat.png",
        "twice.zip/cat (2).png", "twice.zip/same.png", "x.png", "x (2).png"])


def test_a_float64_tiff_is_refused_saying_so(world, manager_client, tmp_path):
    path = handmade_tiff(tmp_path, dtype="float64", sample_format=3)
    response = upload_files(manager_client, world.project, [SimpleUploadedFile("scan.tif", path.read_bytes())])
    assert response.status_code == 422
    (result,) = by_name(response).values()
    assert result["code"] == "unsupported_sample_format"
    assert "64-bit floating-point samples" in result["message"] and "32-bit float" in result["message"]

"""A 20000 x 20000 photo goes through upload validation and gets a pyramid the browser can open at any zoom."""

import io

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.urls import reverse
from PIL import Image as PILImage
from PIL import ImageDraw

from labeling.models import Image, PyramidStatus
from labeling.services.projects import project_create
from tests.api.conftest import client_for, make_user

SIZE = 20_000


@pytest.fixture(scope="module")
def huge_jpeg(tmp_path_factory):
    path = tmp_path_factory.mktemp("huge") / "huge.jpg"
    gradient = PILImage.linear_gradient("L").resize((SIZE, SIZE))
    image = PILImage.merge("RGB", (gradient, gradient.transpose(PILImage.Transpose.ROTATE_90), gradient))
    del gradient
    draw = ImageDraw.Draw(image)
    draw.rectangle((10_000, 10_000, 10_255, 10_255), fill=(255, 0, 0))  # a marker in a known level-0 tile
    image.save(path, format="JPEG", quality=80)
    image.close()
    return path


@pytest.mark.django_db
def test_20000_square_image_is_accepted_and_tiled(huge_jpeg, settings, django_capture_on_commit_callbacks):
    manager = make_user("manager")
    project = project_create(user=manager, name="Huge", kind="semantic")
    client = client_for(manager)
    upload = TemporaryUploadedFile("huge.jpg", "image/jpeg", huge_jpeg.stat().st_size, None)
    with open(huge_jpeg, "rb") as src:
        upload.write(src.read())
    upload.seek(0)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("project-images", kwargs={"project_pk": project.pk}), {"files": [upload]},
                               format="multipart")
    assert response.status_code == 201, response.json()
    image = Image.objects.get(pk=response.json()["results"][0]["image_id"])
    assert (image.width, image.height) == (SIZE, SIZE)
    assert image.pyramid_status == PyramidStatus.READY
    levels = image.pyramid_levels
    assert levels[0] == [SIZE, SIZE, 79, 79]
    assert levels[-1][2:] == [1, 1] and len(levels) == 8
    # The full-resolution tile holding the marker is red; the one-tile overview shows the whole image.
    tile = client.get(reverse("image-tile", kwargs={"pk": image.pk, "level": 0, "x": 10_000 // 256,
                                                    "y": 10_000 // 256}))
    pixels = PILImage.open(io.BytesIO(b"".join(tile.streaming_content))).convert("RGB")
    red, green, blue = pixels.getpixel((10_000 % 256 + 100, 10_000 % 256 + 100))
    assert red > 200 and green < 60 and blue < 60
    top = client.get(reverse("image-tile", kwargs={"pk": image.pk, "level": len(levels) - 1, "x": 0, "y": 0}))
    assert PILImage.open(io.BytesIO(b"".join(top.streaming_content))).size == tuple(levels[-1][:2])

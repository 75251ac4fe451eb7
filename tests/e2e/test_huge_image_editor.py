"""A 20000 x 20000 image opens in the editor and can be labeled."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import TemporaryUploadedFile
from PIL import Image as PILImage

from labeling.models import Annotation, LabelMapTile, Segment
from labeling.services.images import images_upload
from labeling.services.projects import label_class_create, project_create
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import PASSWORD, drag, open_editor, wait_saved

pytestmark = pytest.mark.django_db(transaction=True)
SIZE = 20_000


def test_a_20000_square_image_opens_and_can_be_labeled(live_server, new_page, tmp_path):
    user = get_user_model().objects.create_user("huge", password=PASSWORD)
    project = project_create(user=user, name="Huge", kind="instance")
    label_class_create(project=project, name="field", kind="thing", color="#00aa00")
    path = tmp_path / "huge.jpg"
    gradient = PILImage.linear_gradient("L").resize((SIZE, SIZE))
    PILImage.merge("RGB", (gradient, gradient.transpose(PILImage.Transpose.ROTATE_90), gradient)).save(
        path, format="JPEG", quality=70)
    del gradient
    upload = TemporaryUploadedFile("huge.jpg", "image/jpeg", path.stat().st_size, None)
    upload.write(path.read_bytes())
    upload.seek(0)
    batch = images_upload(project=project, files=[upload], user=user)  # eager: the pyramid is built here
    image_id = batch.results[0].image_id

    base = live_server.url
    page = new_page()
    open_editor(page, base, "huge", image_id, timeout=30_000)
    page.wait_for_function("window.__editor.renderer.renderNow().imageTiles > 0", timeout=30_000)
    page.keyboard.press("b")
    page.get_by_test_id("brush-size").fill("200")
    drag(page, [(9_000, 9_000), (11_000, 11_000)])  # image pixels, across label tiles
    wait_saved(page, timeout=60_000)
    shot(page, "12-huge-image-labeled")
    annotation = Annotation.objects.get(image_id=image_id)
    (segment,) = Segment.objects.filter(annotation=annotation)
    assert segment.area > 2_000 * 400  # a 400-px-wide band along a 2800-px diagonal
    assert LabelMapTile.objects.filter(annotation=annotation).count() >= 8

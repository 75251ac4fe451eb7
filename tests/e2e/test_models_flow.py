"""A manager uploads an own model in the browser (a pickle first, which is refused at the file field), runs it as
a pre-label job and watches the progress bar complete; an annotator sees the list read-only and opens the image
on the model's segments."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Annotation, Image, Membership, Role, Segment
from labeling.services.images import images_upload
from labeling.services.projects import label_class_create, project_create
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import PASSWORD, drag, login, wait_saved
from tests.own_model_fixtures import SemanticNet, blob_image, manifest, pickle_bytes, png_of, torchscript_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def test_manager_uploads_a_model_and_runs_a_prelabel_job(live_server, new_page, tmp_path):
    users = get_user_model().objects
    manager = users.create_user("modeller", password=PASSWORD, is_staff=True)  # staff: TorchScript is code
    annotator = users.create_user("labeller", password=PASSWORD)
    project = project_create(user=manager, name="Streets", kind="panoptic")
    Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)
    label_class_create(project=project, name="car", kind="thing", color="#e6194b")
    label_class_create(project=project, name="road", kind="stuff", color="#3cb44b")
    batch = images_upload(project=project, user=manager,
                          files=[SimpleUploadedFile("blobs.png", png_of(blob_image()))])
    image = Image.objects.get(pk=batch.results[0].image_id)
    model_file = tmp_path / "segmenter.pt"
    model_file.write_bytes(torchscript_bytes(SemanticNet()))
    pickle_file = tmp_path / "checkpoint.pt"
    pickle_file.write_bytes(pickle_bytes(SemanticNet()))
    base = live_server.url

    page = new_page()
    login(page, base, "modeller")
    page.goto(f"{base}/app/projects/{project.pk}")
    page.get_by_test_id("tab-models").click()
    page.wait_for_url(re.compile(rf".*/app/projects/{project.pk}/models$"))
    page.get_by_test_id("empty-state").wait_for()

    # A torch.save pickle is refused, and the message appears at the file field.
    page.get_by_test_id("model-file").set_input_files(str(pickle_file))
    page.get_by_test_id("model-name").fill("Blob segmenter")
    page.get_by_test_id("model-manifest").fill(json.dumps(manifest("semantic_logits", input_size=[48, 64]), indent=2))
    page.get_by_test_id("model-upload").click()
    file_error = page.locator("#" + page.get_by_test_id("model-file").get_attribute("id") + "-error")
    file_error.filter(has_text="torch.save checkpoint").wait_for()
    # Broken JSON is caught before anything is sent.
    page.get_by_test_id("model-manifest").fill('{"input_size": [48, 64],')
    page.get_by_test_id("model-upload").click()
    page.get_by_text("The manifest is not valid JSON").wait_for()
    shot(page, "models-upload-errors")

    page.get_by_test_id("model-file").set_input_files(str(model_file))
    page.get_by_test_id("model-manifest").fill(json.dumps(manifest("semantic_logits", input_size=[48, 64]), indent=2))
    page.get_by_test_id("model-upload").click()
    row = page.get_by_test_id("model-row")
    row.wait_for()
    assert "TorchScript" in row.inner_text() and "car, road" in row.inner_text()

    row.get_by_test_id("model-run").click()
    page.get_by_test_id("prelabel-start").click()
    page.locator("[data-testid=prelabel-job][data-status=succeeded]").wait_for(timeout=30_000)
    assert page.get_by_test_id("prelabel-progress").get_attribute("aria-valuenow") == "100"
    assert "1 of 1 image pre-labeled, 3 segments" in page.get_by_test_id("prelabel-job-status").inner_text()
    shot(page, "models-prelabel-done")

    prelabel = Annotation.objects.get(image=image, annotator__isnull=True)
    assert sorted((s.label_class.name, s.instance, s.source) for s in Segment.objects.filter(annotation=prelabel)) == [
        ("car", 1, "model"), ("car", 2, "model"), ("road", None, "model")]

    # The annotator sees the model, cannot manage it, and starts from its segments.
    other = new_page()
    login(other, base, "labeller")
    other.goto(f"{base}/app/projects/{project.pk}/models")
    other.get_by_test_id("model-row").wait_for()
    assert other.get_by_test_id("model-run").count() == 0 and other.get_by_test_id("model-upload").count() == 0
    shot(other, "models-annotator-readonly")
    other.goto(f"{base}/app/images/{image.pk}")
    other.wait_for_function("window.__editor && window.__editor.renderer.viewport.scale > 0")
    other.wait_for_function("window.__editor.session.table.all().length === 3")  # the pre-label, shown
    assert not Annotation.objects.filter(image=image, annotator=annotator).exists()  # opening claims nothing
    other.keyboard.press("b")
    for _ in range(6):
        other.keyboard.press("[")  # a small brush: a dot in the black gap between the cars and the road
    drag(other, [(29, 26), (31, 26)])
    wait_saved(other)
    own = Annotation.objects.get(image=image, annotator=annotator)  # the first edit started it, from the pre-label
    assert Segment.objects.filter(annotation=own, source="model").count() == 3
    shot(other, "models-annotator-editor")

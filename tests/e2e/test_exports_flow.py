"""Exporting from the browser: the Exports tab starts a job over the approved set, follows it and downloads a
zip whose COCO masks equal the approved label map."""

import io
import json
import re
import zipfile

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from pycocotools.coco import COCO

from labeling.models import Image
from labeling.selectors import annotation_label_map
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import login
from tests.e2e.test_review_flow import review_project

pytestmark = pytest.mark.django_db(transaction=True)


def approved_project(tmp_path):
    """The review project with ann's car (50, 60)-(200, 180) approved by rita: (project, image, annotation)."""
    from labeling.services.labelmaps import annotation_get_or_create
    from labeling.services.tasks import annotation_submit, image_approve
    from tests.api.test_workflow import paint

    project = review_project(tmp_path)
    image = Image.objects.get(project=project)
    ann = get_user_model().objects.get(username="ann")
    annotation, _ = annotation_get_or_create(image=image, user=ann)
    paint(annotation, ann, box=(50, 60, 200, 180))
    annotation_submit(annotation=annotation, user=ann)
    image_approve(image=image, user=get_user_model().objects.get(username="rita"))
    return project, image, annotation


def test_reviewer_exports_the_approved_set_as_coco(live_server, new_page, tmp_path):
    project, image, annotation = approved_project(tmp_path)

    page = new_page()
    login(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/app/projects/{project.pk}")
    page.get_by_test_id("tab-exports").click()
    page.get_by_test_id("export-format").select_option("coco_instances")
    page.get_by_test_id("export-start").click()
    link = page.locator("[data-testid=export-item][data-status=succeeded] [data-testid=export-download]")
    link.first.wait_for()
    shot(page, "export-01-done")
    with page.expect_download() as info:
        link.first.click()
    download = info.value
    assert re.match(r"Review loop-coco_instances-\d+\.zip", download.suggested_filename)
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    coco = COCO()
    coco.dataset = json.loads(archive.read("annotations/instances_default.json"))
    coco.createIndex()
    (ann_row,) = coco.loadAnns(coco.getAnnIds(imgIds=[image.pk]))
    assert np.array_equal(coco.annToMask(ann_row).astype(bool), annotation_label_map(annotation=annotation) == 1)


def test_manager_exports_a_stratified_split_freezes_it_and_evaluates_imported_labels(live_server, new_page,
                                                                                    tmp_path):
    from labeling.models import Annotation, Job, SegmentSource
    from labeling.services.labelmaps import SegmentInput, labelmap_replace
    from labeling.services.projects import label_class_create

    project, image, _ = approved_project(tmp_path)
    road = label_class_create(project=project, name="bus", kind="thing", color="#808080")
    # Imported pre-labels of the image, a little off: what the dashboard's evaluation compares.
    imported = Annotation.objects.create(image=image, annotator=None, trained_model=None, imported=True)
    guess = np.zeros((image.height, image.width), dtype=np.uint32)
    guess[60:180, 60:200] = 1
    labelmap_replace(annotation=imported, label_map=guess, segments=[SegmentInput(
        segment_id=1, class_id=project.classes.get(name="car").pk, source=SegmentSource.IMPORT)])

    page = new_page()
    login(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/app/projects/{project.pk}")
    page.get_by_test_id("tab-exports").click()
    page.get_by_test_id("export-format").select_option("coco_instances")
    page.get_by_test_id("export-polygons").check()
    page.get_by_test_id("export-split").select_option("stratified")
    assert page.get_by_test_id("export-split-options").is_visible()
    page.get_by_test_id("export-split-seed").fill("7")
    page.locator(f"[data-testid=export-class][data-class-id='{road.pk}']").uncheck()
    page.get_by_test_id("export-start").click()
    item = page.locator("[data-testid=export-item][data-status=succeeded]").first
    item.wait_for()
    params = Job.objects.get(kind="export").params
    assert params["class_ids"] == [project.classes.get(name="car").pk] and params["polygons"]
    assert params["split"] == {"mode": "stratified", "fractions": {"train": 0.8, "val": 0.1, "test": 0.1},
                               "seed": 7}
    item.get_by_test_id("freeze-open").click()
    page.get_by_test_id("freeze-name").fill("first cut")
    page.get_by_test_id("freeze-save").click()
    page.get_by_test_id("version-item").first.wait_for()
    assert "first cut" in page.get_by_test_id("version-list").inner_text()
    shot(page, "export-02-split-and-version")

    page.get_by_test_id("tab-dashboard").click()
    page.get_by_test_id("evaluation-set").select_option(label="Imported pre-labels (1 image)")
    page.get_by_test_id("evaluation-start").click()
    page.locator("[data-testid=evaluation-item][data-status=succeeded]").first.wait_for()
    miou = float(page.get_by_test_id("evaluation-miou").first.inner_text())
    assert miou == round(140 * 120 / (150 * 120), 3), miou  # the guess lies inside the truth: IoU 0.93
    page.get_by_test_id("evaluation").scroll_into_view_if_needed()
    shot(page, "dashboard-01-evaluation")

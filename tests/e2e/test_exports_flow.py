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


def test_reviewer_exports_the_approved_set_as_coco(live_server, new_page, tmp_path):
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
    coco.dataset = json.loads(archive.read("annotations/instances.json"))
    coco.createIndex()
    (ann_row,) = coco.loadAnns(coco.getAnnIds(imgIds=[image.pk]))
    assert np.array_equal(coco.annToMask(ann_row).astype(bool), annotation_label_map(annotation=annotation) == 1)

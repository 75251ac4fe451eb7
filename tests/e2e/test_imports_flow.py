"""Importing labels from the browser: the Upload tab's "Import labels" card checks a COCO instances JSON (a dry
run applies nothing), imports it as pre-labels, and lists the problems of a file that fails."""

import json

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from labeling.models import Image, Segment
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import login
from tests.e2e.test_review_flow import review_project

pytestmark = pytest.mark.django_db(transaction=True)


def coco_document(image: Image, *, category: str = "car") -> dict:
    mask = np.zeros((image.height, image.width), np.uint8, order="F")
    mask[40:120, 60:200] = 1
    rle = coco_mask.encode(mask)
    return {"images": [{"id": 1, "file_name": image.original_name, "width": image.width, "height": image.height}],
            "categories": [{"id": 1, "name": category}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                             "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}}]}


def test_manager_checks_then_imports_coco_as_pre_labels(live_server, new_page, tmp_path):
    project = review_project(tmp_path)
    image = Image.objects.get(project=project)
    good, bad = tmp_path / "instances.json", tmp_path / "bad.json"
    good.write_text(json.dumps(coco_document(image)))
    bad.write_text(json.dumps(coco_document(image, category="bicycle")))

    page = new_page()
    login(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/app/projects/{project.pk}/upload")
    card = page.get_by_test_id("import-card")
    card.wait_for()
    page.get_by_test_id("import-format").select_option("coco_instances")
    assert "Accepts" in card.locator(".field-hint").inner_text()

    page.get_by_test_id("import-file").set_input_files(str(good))
    page.get_by_test_id("import-dry-run").check()
    page.get_by_test_id("import-start").click()
    summary = page.locator("[data-testid=import-summary][data-status=succeeded]")
    summary.wait_for()
    assert summary.inner_text().startswith("Checked: nothing applied; 1 image, 1 segment")
    assert not Segment.objects.filter(annotation__image=image).exists()

    page.get_by_test_id("import-dry-run").uncheck()
    page.get_by_test_id("import-file").set_input_files(str(good))
    page.get_by_test_id("import-start").click()
    page.locator("[data-testid=import-summary][data-status=succeeded]", has_text="Imported").wait_for()
    assert page.get_by_test_id("import-summary").inner_text() == "Imported 1 image, 1 segment as pre-labels"
    (segment,) = Segment.objects.filter(annotation__image=image, annotation__annotator__isnull=True)
    assert segment.source == "import" and segment.area == 80 * 140

    page.get_by_test_id("import-file").set_input_files(str(bad))
    page.get_by_test_id("import-start").click()
    failed = page.locator("[data-testid=import-summary][data-status=failed]")
    failed.wait_for()
    assert failed.inner_text().startswith("Import failed: nothing was applied")
    problem = page.locator("[data-testid=import-problem][data-severity=error]").first
    assert "bicycle" in problem.inner_text()
    assert page.get_by_test_id("import-job").count() == 3
    card.scroll_into_view_if_needed()
    shot(page, "import-01-problems")

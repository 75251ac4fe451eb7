"""Importing labels from the browser: the Upload tab's "Import labels" card checks a COCO instances JSON (a dry
run applies nothing), imports it as pre-labels, and lists the problems of a file that fails; with "Skip invalid
items" it applies the valid part of such a file and lists the rest; the void value shows for the formats that
read mask PNGs (Pascal VOC among them)."""

import json

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from labeling.models import Image, Segment
from tests.e2e.conftest import ARTIFACTS, shot
from tests.e2e.test_editor_flow import login
from tests.e2e.test_review_flow import review_project

pytestmark = pytest.mark.django_db(transaction=True)


def shot_path(name: str):
    """Where a screenshot of one element goes, beside the page screenshots `shot` takes."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


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
    assert "Accepts" in card.locator(".field-hint").first.inner_text()

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


def test_skip_invalid_items_and_the_void_value_of_mask_formats(live_server, new_page, tmp_path):
    project = review_project(tmp_path)
    image = Image.objects.get(project=project)
    mixed = coco_document(image)
    mixed["annotations"].append({"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 2, 2]]})
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(mixed))

    page = new_page()
    login(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/app/projects/{project.pk}/upload")
    card = page.get_by_test_id("import-card")
    card.wait_for()
    void_value = page.get_by_test_id("import-void-value")
    page.get_by_test_id("import-format").select_option("pascal_voc")
    assert void_value.is_visible() and "SegmentationClass" in card.locator(".field-hint").first.inner_text()
    void_value.fill("0")
    assert "1 to 65535" in card.inner_text() and page.get_by_test_id("import-start").is_disabled()
    void_value.fill("255")
    page.get_by_test_id("import-format").select_option("coco_instances")
    assert not void_value.is_visible()  # COCO has no mask PNGs

    page.get_by_test_id("import-file").set_input_files(str(path))
    page.get_by_test_id("import-skip-invalid").check()
    page.get_by_test_id("import-start").click()
    summary = page.locator("[data-testid=import-summary][data-status=succeeded]")
    summary.wait_for()
    assert summary.inner_text() == ("Imported 1 image, 1 segment as pre-labels, skipping the invalid items "
                                    "(1 error)")
    problem = page.locator("[data-testid=import-problem][data-severity=error]")
    assert problem.count() == 1 and "2 points" in problem.inner_text()
    (segment,) = Segment.objects.filter(annotation__image=image, annotation__annotator__isnull=True)
    assert segment.area == 80 * 140
    assert "skip invalid" in page.get_by_test_id("import-job").first.inner_text()
    page.get_by_test_id("import-format").select_option("pascal_voc")
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(shot_path("import-02-options")))

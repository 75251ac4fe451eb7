"""The superpixel tool in the browser: a click fills exactly the image pixels the server's grid maps to the
clicked cell's superpixel; a drag is one undo step; an image without superpixels offers to compute them; the
project's Jobs tab shows the jobs with progress bars."""

import io

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from skimage import data as skdata

from labeling.models import Annotation, Job, Superpixels
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import PASSWORD, canvas_point, click_at, drag, open_editor, server_map, wait_saved
from workers.runners import superpixels as runner

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _superpixels_after_upload(settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SUPERPIXELS_AFTER_UPLOAD": True}


def _photo(seed: int, size=(640, 480)) -> bytes:
    img = PILImage.fromarray(np.roll(skdata.astronaut(), seed * 101, axis=1)).resize(size)
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _project(username: str, seeds: list[int]) -> tuple[object, list[int]]:
    from labeling.services.images import images_upload
    from labeling.services.projects import label_class_create, project_create

    user = get_user_model().objects.create_user(username, password=PASSWORD)
    project = project_create(user=user, name="Superpixel scenes", kind="instance")
    label_class_create(project=project, name="person", kind="thing", color="#ff0000")
    batch = images_upload(
        project=project, user=user,
        files=[SimpleUploadedFile(f"{seed}.jpg", _photo(seed)) for seed in seeds])
    return project, [r.image_id for r in batch.results]


def _full_resolution_ids(image_id: int, granularity: int) -> np.ndarray:
    row = Superpixels.objects.get(image_id=image_id, granularity=granularity)
    with default_storage.open(row.file, "rb") as fh:
        grid = runner.decode_grid(fh.read(), width=row.width, height=row.height)
    image = row.image
    return runner.upsample(grid, width=image.width, height=image.height)


def _tool_ready(page) -> None:
    page.wait_for_function("window.__editor.superpixel.state === 'ready'", timeout=20_000)


def test_click_fills_exactly_the_superpixel_and_a_drag_is_one_undo_step(live_server, new_page):
    project, (image_id,) = _project("sp-annotator", [1])
    assert Job.objects.get(kind="superpixels").status == "succeeded"
    page = new_page()
    open_editor(page, live_server.url, "sp-annotator", image_id)
    page.keyboard.press("x")
    _tool_ready(page)
    assert "Click fills the region" in page.get_by_test_id("tool-hint").text_content()
    granularity = page.evaluate("window.__editor.superpixel.grid.granularity")
    full = _full_resolution_ids(image_id, granularity)

    x, y = 300, 200
    clicked = int(full[y, x])
    click_at(page, x + 0.5, y + 0.5)
    wait_saved(page)
    annotation = Annotation.objects.get(image_id=image_id)
    labels = server_map(annotation)
    (segment_id,) = set(np.unique(labels).tolist()) - {0}
    # Pixel-exact: the saved segment is precisely the image pixels whose grid cell carries the clicked id.
    assert np.array_equal(labels == segment_id, full == clicked)
    assert annotation.segments.get(segment_id=segment_id).area == int((full == clicked).sum())

    # Hover outline on another superpixel, for the screenshot.
    page.mouse.move(*canvas_point(page, 120, 320))
    shot(page, "superpixel-tool")

    # A drag across several superpixels adds all of them to the same segment, as one undo step.
    drag(page, [(40.5, 60.5), (200.5, 60.5), (400.5, 60.5)])
    wait_saved(page)
    labels = server_map(Annotation.objects.get(pk=annotation.pk))
    dragged = {int(full[60, xx]) for xx in range(40, 401)}
    assert len(dragged) > 2
    expected = np.isin(full, sorted(dragged | {clicked}))
    assert np.array_equal(labels == segment_id, expected)
    assert page.evaluate("window.__editor.session.history.undoLabel") == "Superpixel"
    page.keyboard.press("Control+z")
    wait_saved(page)
    labels = server_map(Annotation.objects.get(pk=annotation.pk))
    assert np.array_equal(labels == segment_id, full == clicked), "one undo removes the whole drag"

    # The slider switches to a coarser grid: fewer, larger regions.
    fine_count = page.evaluate("window.__editor.superpixel.grid.count")
    page.keyboard.press("]")
    page.wait_for_function(f"window.__editor.superpixel.grid && window.__editor.superpixel.grid.count < {fine_count}")
    page.mouse.move(*canvas_point(page, 420, 330))
    page.wait_for_timeout(200)
    shot(page, "superpixel-tool-coarse")


def test_without_superpixels_the_tool_offers_to_compute_them_and_jobs_show_progress(live_server, new_page, settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SUPERPIXELS_AFTER_UPLOAD": False}
    project, (image_id,) = _project("sp-manager", [2])
    assert not Superpixels.objects.filter(image_id=image_id).exists()
    page = new_page()
    open_editor(page, live_server.url, "sp-manager", image_id)
    page.get_by_test_id("tool-superpixel").click()
    page.wait_for_function("window.__editor.superpixel.state === 'missing'")
    assert "not computed for this image yet" in page.get_by_test_id("tool-hint").text_content()
    shot(page, "superpixel-missing")
    page.get_by_test_id("superpixel-compute").click()
    _tool_ready(page)
    assert Superpixels.objects.filter(image_id=image_id).count() == 3
    click_at(page, 100.5, 100.5)
    wait_saved(page)

    page.goto(f"{live_server.url}/app/projects/{project.pk}/jobs")
    page.get_by_test_id("job-table").wait_for()
    rows = page.get_by_test_id("job-row")
    kinds = rows.evaluate_all("els => els.map(e => [e.dataset.kind, e.dataset.status])")
    assert ["superpixels", "succeeded"] in kinds and ["process_uploads", "succeeded"] in kinds
    bars = page.get_by_test_id("job-row-progress").evaluate_all("els => els.map(e => e.getAttribute('aria-valuenow'))")
    assert bars == ["100"] * len(kinds)
    shot(page, "jobs-view")


def test_jobs_view_polls_and_cancels_an_active_job(live_server, new_page):
    settings_user = "jobs-manager"
    project, (image_id,) = _project(settings_user, [3])
    # A job a worker is running (no broker message needed: the view reads rows).
    job = Job.objects.create(kind="superpixels", project=project, params={"image_ids": [image_id]},
                             status="running", progress=0.4, attempts=1)
    page = new_page()
    from tests.e2e.test_editor_flow import login

    login(page, live_server.url, settings_user)
    page.goto(f"{live_server.url}/app/projects/{project.pk}/jobs")
    row = page.locator(f"[data-testid=job-row][data-job-id='{job.pk}']")
    row.wait_for()
    assert row.get_by_test_id("job-row-progress").get_attribute("aria-valuenow") == "40"
    shot(page, "jobs-view-active")
    Job.objects.filter(pk=job.pk).update(progress=0.7)
    page.wait_for_function(
        f"document.querySelector(\"[data-job-id='{job.pk}'] [data-testid=job-row-progress]\")"
        ".getAttribute('aria-valuenow') === '70'", timeout=10_000)
    row.get_by_test_id("job-cancel").click()
    page.wait_for_function(f"document.querySelector(\"[data-job-id='{job.pk}']\").dataset.status === 'cancelled'")
    assert Job.objects.get(pk=job.pk).status == "cancelled"


def test_a_manager_reprocesses_failed_images_from_the_jobs_tab(live_server, new_page, settings):
    """After a fault the sweep gave up on (an image marked failed) and a job the broker never took, the Jobs tab
    says the job waits for the task queue, and "Reprocess missing" rebuilds the failed image."""
    from labeling.models import Image, PyramidStatus
    from tests.e2e.test_editor_flow import login

    settings.ANNOTATOR = {**settings.ANNOTATOR, "SUPERPIXELS_AFTER_UPLOAD": False}
    project, (image_id,) = _project("repair-manager", [4])
    Image.objects.filter(pk=image_id).update(pyramid_status=PyramidStatus.FAILED, rebuild_attempts=3)
    waiting = Job.objects.create(kind="delete_files", project=project, params={}, status="queued")
    page = new_page()
    login(page, live_server.url, "repair-manager")
    page.goto(f"{live_server.url}/app/projects/{project.pk}/jobs")
    note = page.locator(f"[data-job-id='{waiting.pk}'] [data-testid=job-note]")
    note.wait_for()
    assert "waiting for the task queue" in note.text_content()
    page.get_by_test_id("jobs-reprocess").click()
    page.locator("[data-testid=job-row][data-kind=process_uploads][data-status=succeeded]").nth(1).wait_for()
    assert Image.objects.get(pk=image_id).pyramid_status == PyramidStatus.READY
    shot(page, "jobs-reprocess")


def test_an_upload_with_nothing_accepted_shows_each_files_reason(live_server, new_page, tmp_path):
    """422 nothing_accepted: the page says so and still lists every file with its reason."""
    from tests.e2e.test_editor_flow import login

    project, _ = _project("refused-manager", [5])
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"<html>not a jpeg</html>")
    page = new_page()
    login(page, live_server.url, "refused-manager")
    page.goto(f"{live_server.url}/app/projects/{project.pk}/upload")
    page.get_by_test_id("upload-input").set_input_files([str(notes), str(fake)])
    page.get_by_test_id("upload-submit").click()
    page.get_by_test_id("upload-summary").wait_for()
    assert "0 accepted" in page.get_by_test_id("upload-count-accepted").text_content()
    assert "2 rejected" in page.get_by_test_id("upload-count-rejected").text_content()
    rows = page.get_by_test_id("upload-result")
    assert rows.count() == 2 and all(rows.nth(i).get_attribute("data-status") == "rejected" for i in range(2))
    assert "no file of this upload was stored" in page.get_by_test_id("upload-error").text_content()
    shot(page, "upload-nothing-accepted")

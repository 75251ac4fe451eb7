"""The Scribble tool in the browser: a stroke per class (and one of Background) on a picture of two textures
and a band of a third; the server's classifier proposes labels; Shift+click accepts one region, "Accept all"
the rest, each one undo step, and the saved label map gives each region its class."""

import io

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from playwright.sync_api import expect

from labeling.models import Annotation
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import PASSWORD, canvas_point, drag, open_editor, server_map, wait_saved

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH, HEIGHT = 480, 320
BAND = 240  # rows from here down are the band of the third texture (Background)


def textures(seed: int = 3) -> np.ndarray:
    """Left half red-ish, right half green-ish, a grey-blue band along the bottom; each a noisy texture."""
    rng = np.random.default_rng(seed)
    image = np.empty((HEIGHT, WIDTH, 3), dtype=np.float64)
    image[:, : WIDTH // 2] = (170, 60, 50)
    image[:, WIDTH // 2:] = (60, 160, 70)
    image[BAND:] = (110, 120, 150)
    image += rng.normal(0, 18, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def project_with_textures(username: str) -> tuple[int, dict[str, int]]:
    from labeling.services.images import images_upload
    from labeling.services.projects import label_class_create, project_create

    user = get_user_model().objects.create_user(username, password=PASSWORD)
    project = project_create(user=user, name="Textures", kind="panoptic")
    classes = {
        "soil": label_class_create(project=project, name="soil", kind="stuff", color="#ffb300").id,
        "leaf": label_class_create(project=project, name="leaf", kind="thing", color="#8e24aa").id,
    }
    buffer = io.BytesIO()
    PILImage.fromarray(textures()).save(buffer, "PNG")
    batch = images_upload(project=project, user=user, files=[SimpleUploadedFile("textures.png", buffer.getvalue())])
    return batch.results[0].image_id, classes


def scribble_and_accept(page, classes: dict[str, int]) -> None:
    """The browser side: pick the tool, one stroke per class and one of Background, wait for the full proposal,
    look at it in colours and as confidence, accept it all."""
    page.keyboard.press("k")
    assert page.get_by_test_id("tool-scribble").get_attribute("title") == "Scribble (K)"
    page.get_by_test_id("scribble-options").wait_for()
    expect(page.get_by_test_id("tool-hint")).to_contain_text("drag a few strokes on each class")

    page.locator(f"[data-testid=scribble-class][data-class-id='{classes['soil']}']").click()
    drag(page, [(40.5, 40.5), (120.5, 90.5), (60.5, 180.5)])
    # One label is not enough: the panel says so (without asking the server).
    page.wait_for_function("window.__editor.scribble.state === 'error'")
    expect(page.get_by_test_id("scribble-status")).to_contain_text("at least two classes")

    page.locator(f"[data-testid=scribble-class][data-class-id='{classes['leaf']}']").click()
    drag(page, [(300.5, 40.5), (420.5, 110.5), (360.5, 190.5)])
    page.get_by_test_id("scribble-class").filter(has_text="Background").click()
    drag(page, [(60.5, 285.5), (240.5, 270.5), (420.5, 290.5)])
    stroke_classes = page.evaluate("window.__editor.scribble.strokes.map(s => s.classId)")
    assert stroke_classes == [classes["soil"], classes["leaf"], None]
    page.mouse.move(*canvas_point(page, 200, 150))
    shot(page, "scribble-strokes")

    page.wait_for_function("window.__editor.scribble.state === 'ready' && window.__editor.scribble.proposal",
                           timeout=60_000)
    # Coarse first; a region this small is classified at its own pixels already, which the panel says.
    assert page.evaluate("window.__editor.scribble.proposalsShown") >= 1
    expect(page.get_by_test_id("scribble-status")).to_contain_text("full resolution")
    accept_buttons = page.get_by_test_id("scribble-accept-class")
    assert {int(b.get_attribute("data-class-id")) for b in accept_buttons.all()} == set(classes.values())
    expect(page.get_by_test_id("scribble-accept-all")).to_contain_text("Accept all")
    shot(page, "scribble-proposal")

    page.get_by_test_id("scribble-confidence").check()
    page.wait_for_timeout(100)
    shot(page, "scribble-confidence")
    page.get_by_test_id("scribble-confidence").uncheck()

    # Shift+click accepts the connected region under the cursor (outlined while Shift is held): the soil half.
    expect(page.get_by_test_id("tool-hint")).to_contain_text("Shift+click")
    page.keyboard.down("Shift")
    page.mouse.move(*canvas_point(page, 150, 120))
    page.mouse.move(*canvas_point(page, 160, 130))
    shot(page, "scribble-region-hover")
    page.mouse.click(*canvas_point(page, 160, 130))
    page.keyboard.up("Shift")
    page.wait_for_function("window.__editor.session.history.undoLabel === 'Scribble proposal'")
    soil = page.evaluate(f"window.__editor.session.table.all().filter(r => r.classId === {classes['soil']}).length")
    assert soil == 1
    assert page.evaluate(f"window.__editor.session.table.all().every(r => r.classId === {classes['soil']})")

    # Accept all takes the rest (leaf) as a second undo step.
    page.get_by_test_id("scribble-accept-all").click()
    page.wait_for_function(f"window.__editor.session.table.all().some(r => r.classId === {classes['leaf']})")
    expect(page.get_by_test_id("scribble-status")).to_contain_text("Accepted")


def test_strokes_train_a_proposal_that_is_accepted_into_the_label_map(live_server, new_page):
    image_id, classes = project_with_textures("scribbler")
    page = new_page()
    open_editor(page, live_server.url, "scribbler", image_id)
    scribble_and_accept(page, classes)
    wait_saved(page)
    page.get_by_test_id("scribble-clear").click()
    page.wait_for_timeout(100)
    shot(page, "scribble-accepted")

    annotation = Annotation.objects.get(image_id=image_id)
    labels = server_map(annotation)
    segments = {s.segment_id: s for s in annotation.segments.all()}
    class_of = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    for segment_id, segment in segments.items():
        class_of[segment_id] = segment.label_class_id
    pixel_class = class_of[labels]
    soil = pixel_class[:BAND, : WIDTH // 2]
    leaf = pixel_class[:BAND, WIDTH // 2:]
    band = pixel_class[BAND:]
    assert (soil == classes["soil"]).mean() >= 0.9
    assert (leaf == classes["leaf"]).mean() >= 0.9
    assert (band == 0).mean() >= 0.9, "Background strokes keep the band unlabelled"
    # Stuff: one segment for soil; leaf is a thing, its pieces are instances, every one made by the model.
    soil_segments = [s for s in segments.values() if s.label_class_id == classes["soil"]]
    assert len(soil_segments) == 1
    assert all(s.source == "model" for s in segments.values())
    # One undo takes the whole last accept back (every leaf instance), the region accepted before stays.
    page.keyboard.press("Control+z")
    page.wait_for_function(f"window.__editor.session.table.all().every(r => r.classId === {classes['soil']})")
    assert page.evaluate("window.__editor.session.table.size") == 1

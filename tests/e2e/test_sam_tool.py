"""SAM in the editor with a tiny random-weight SAM as the configured checkpoint: a click previews the mask,
Enter saves it as a segment with source "sam" whose area is the mask's; without a checkpoint the tool says
why and the rest of the editor works."""

import pytest
from django.contrib.auth import get_user_model

from labeling.models import Annotation, Image, Segment
from labeling.services import sam as sam_service
from labeling.services.projects import label_class_create, project_create
from tests.e2e.conftest import shot
from tests.e2e.sam_helpers import overlay_rgba, upload_image
from tests.e2e.test_editor_flow import PASSWORD, canvas_point, drag, open_editor, wait_saved
from tests.sam_support import tiny_checkpoint

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tiny_sam(settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SAM_CHECKPOINT": tiny_checkpoint(), "SAM_MODEL_TYPE": "tiny"}


def setup_project(username, width=320, height=240):
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    project = project_create(user=user, name=f"SAM {username}", kind="instance")
    label_class_create(project=project, name="cell", kind="thing", color="#00aaff")
    return user, project, upload_image(project, user, width, height, seed=3)


def mask_of(page):
    """The mask the tool previews, as a full-size boolean array (from the page)."""
    m = page.evaluate("""() => { const c = window.__editor.sam.tool.current;
        return c && {x0: c.mask.x0, y0: c.mask.y0, width: c.mask.width, height: c.mask.height,
                     data: Array.from(c.mask.data), score: c.score}; }""")
    return m


def test_click_with_sam_and_accept_saves_a_sam_segment(live_server, new_page, tiny_sam):
    user, project, image_id = setup_project("samuser")
    image = Image.objects.get(pk=image_id)
    page = new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    open_editor(page, live_server.url, "samuser", image_id)
    # The browser decodes with the float32 decoder in this test, so its mask must equal the server's exactly
    # (the default quantised decoder is faster in WASM but gives slightly different masks).
    page.goto(f"{live_server.url}/app/images/{image_id}?sam_decoder=fp32&sam_path=worker")
    page.wait_for_function("window.__editor && window.__editor.renderer.viewport.scale > 0")
    assert page.evaluate("crossOriginIsolated") is True
    page.keyboard.press("s")
    page.wait_for_function("window.__editor.sam.engine.state === 'ready'", timeout=60_000)
    status = page.get_by_test_id("sam-status").inner_text()
    assert status.startswith("SAM ready"), status
    assert page.evaluate("window.__editor.sam.engine.path") == "worker"
    assert page.get_by_test_id("brush-size").is_hidden()  # the brush's option, not SAM's

    # One positive click in the middle; the preview and the three candidates with scores appear.
    x, y = 160, 120
    page.mouse.click(*canvas_point(page, x, y))
    page.wait_for_function("window.__editor.sam.tool.candidates.length === 3")
    scores = [float(s) for s in page.eval_on_selector_all("[data-testid=sam-candidate]",
                                                          "els => els.map(e => e.dataset.score)")]
    assert scores == sorted(scores, reverse=True)
    page.keyboard.press("c")  # the next candidate, then back to the best
    assert page.evaluate("window.__editor.sam.tool.choice") == 1
    page.keyboard.press("c")
    page.keyboard.press("c")
    assert page.evaluate("window.__editor.sam.tool.choice") == 0
    shot(page, "sam-tool-preview")
    green = [0x00, 0xC8, 0x53, 255]  # the positive prompt's dot, drawn over the preview
    assert overlay_rgba(page, x, y) == green

    preview = mask_of(page)
    area = sum(preview["data"])
    assert area > 0
    # The browser's mask is the server's for the same prompt (its decode endpoint, the same stored embedding).
    server = sam_service.sam_decode(image=image, points=[[x + 0.5, y + 0.5]], labels=[1], box=None, multimask=True,
                                    user=user)
    assert server["masks"][0]["area"] == area

    page.keyboard.press("Enter")
    # The prompts are cleared and the overlay repainted without them (the dot used to stay drawn).
    assert page.evaluate("(t => [t.points.length, t.candidates.length])(window.__editor.sam.tool)") == [0, 0]
    assert overlay_rgba(page, x, y)[3] == 0
    wait_saved(page)
    shot(page, "sam-tool-accepted")
    annotation = Annotation.objects.get(image_id=image_id)
    (segment,) = Segment.objects.filter(annotation=annotation)
    assert segment.source == "sam"
    assert segment.area == area
    assert abs(segment.score - preview["score"]) < 1e-4
    assert page.evaluate("window.__editor.session.history.undoLabel") == "SAM"

    # A negative right click + Esc clears the prompts; undo removes the SAM segment in one step.
    page.mouse.click(*canvas_point(page, 40, 40), button="right")
    page.wait_for_function("window.__editor.sam.tool.labels.length === 1 && window.__editor.sam.tool.labels[0] === 0")
    page.keyboard.press("Escape")
    assert page.evaluate("window.__editor.sam.tool.points.length") == 0
    page.keyboard.press("Control+z")
    wait_saved(page)
    assert not Segment.objects.filter(annotation=annotation).exists()
    assert all(u.startswith(live_server.url) for u in requests)


def test_missing_decoders_are_exported_when_the_tool_starts(live_server, new_page, tiny_sam):
    """After an upgrade to a new decoder format the embeddings are there but the decoders are not: choosing the
    tool starts the job that exports them, follows it and then decodes in the browser."""
    from django.core.files.storage import default_storage

    user, project, image_id = setup_project("samupgrade")
    key = sam_service.sam_config().model_key
    image = Image.objects.get(pk=image_id)
    sam_service.embeddings_compute(image_ids=[image.pk], progress=lambda fraction: True)
    for quantized in (False, True):
        default_storage.delete(sam_service.decoder_path(model_key=key, quantized=quantized))
    page = new_page()
    open_editor(page, live_server.url, "samupgrade", image_id)
    page.goto(f"{live_server.url}/app/images/{image_id}?sam_path=worker")
    page.wait_for_function("window.__editor && window.__editor.renderer.viewport.scale > 0")
    page.keyboard.press("s")
    page.wait_for_function("window.__editor.sam.engine.state === 'ready'", timeout=60_000)
    assert page.evaluate("window.__editor.sam.engine.path") == "worker"
    assert all(default_storage.exists(sam_service.decoder_path(model_key=key, quantized=q)) for q in (False, True))
    page.mouse.click(*canvas_point(page, 160, 120))
    page.wait_for_function("window.__editor.sam.tool.candidates.length === 3")


def test_without_a_checkpoint_the_sam_tool_says_why_and_the_brush_works(live_server, new_page, settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SAM_CHECKPOINT": ""}
    _, _, image_id = setup_project("nosam")
    page = new_page()
    open_editor(page, live_server.url, "nosam", image_id)
    button = page.get_by_test_id("tool-sam")
    page.wait_for_function("document.querySelector('[data-testid=tool-sam]').disabled === true")
    assert "checkpoint" in (button.get_attribute("title") or "").lower()
    page.keyboard.press("s")  # ignored: the tool stays unavailable
    assert page.evaluate("window.__editor.sam.engine.state") == "unavailable"
    page.keyboard.press("x")
    assert page.get_by_test_id("brush-size").is_hidden()
    page.keyboard.press("b")
    assert page.get_by_test_id("brush-size").is_visible()
    drag(page, [(50, 50), (150, 120)])
    wait_saved(page)
    shot(page, "sam-tool-unavailable")
    (segment,) = Segment.objects.filter(annotation__image_id=image_id)
    assert segment.source == "manual" and segment.area > 0

"""A new user sets up a project in the browser, uploads images and labels one; edits survive reloads,
dropped networks and a second editor."""

import re

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from PIL import Image as PILImage

from labeling.masks.tiles import assemble_map, decode_tile, tile_shape
from labeling.models import Annotation, Image, LabelMapTile, Segment
from tests.e2e.conftest import shot

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "e2e-Password-123"


def photo(path, seed, size=(640, 480)):
    rng = np.random.default_rng(seed)
    base = np.linspace(40, 200, size[0], dtype=np.uint8)[None, :, None].repeat(size[1], 0).repeat(3, 2)
    noise = rng.integers(0, 30, size=(size[1], size[0], 3), dtype=np.uint8)
    PILImage.fromarray(base + noise).save(path, format="JPEG", quality=90)
    return str(path)


def server_map(annotation: Annotation) -> np.ndarray:
    image = annotation.image
    tiles = {}
    for t in LabelMapTile.objects.filter(annotation=annotation):
        shape = tile_shape(width=image.width, height=image.height, tx=t.tx, ty=t.ty, tile_size=annotation.tile_size)
        tiles[(t.tx, t.ty)] = decode_tile(bytes(t.data), shape=shape)
    return assemble_map(width=image.width, height=image.height, tiles=tiles, tile_size=annotation.tile_size)


def login(page, base, username):
    page.goto(f"{base}/app/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(re.compile(r".*/app/projects.*"))


def open_editor(page, base, username, image_id, timeout=15_000):
    """Log in and open the editor on an image, waiting until it has fitted the view."""
    login(page, base, username)
    page.goto(f"{base}/app/images/{image_id}")
    page.wait_for_function("window.__editor && window.__editor.renderer.viewport.scale > 0", timeout=timeout)


def wait_saved(page, timeout=20_000):
    page.wait_for_function(
        "document.querySelector('[data-testid=save-status]')?.dataset.state === 'saved'", timeout=timeout)


def canvas_point(page, x, y):
    """Screen position of image pixel (x, y) in the editor's current view."""
    return page.evaluate(
        """([x, y]) => { const r = document.querySelector('[data-testid=editor-overlay]').getBoundingClientRect();
             const v = window.__editor.renderer.viewport;
             return [r.left + x * v.scale + v.x, r.top + y * v.scale + v.y]; }""", [x, y])


def drag(page, points):
    page.mouse.move(*canvas_point(page, *points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*canvas_point(page, *p), steps=4)
    page.mouse.up()


def click_at(page, x, y):
    page.mouse.click(*canvas_point(page, x, y))


def segment_items(page):
    return page.eval_on_selector_all(
        "[data-testid=segment-item]",
        "els => els.map(e => ({id: +e.dataset.segmentId, cls: e.dataset.class, instance: e.dataset.instance, "
        "area: +e.dataset.area}))")


def project_with_image(username: str, tmp_path, seed: int) -> int:
    """A user with an instance project, one thing class and one uploaded photo; returns the image id."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeling.services.images import images_upload
    from labeling.services.projects import label_class_create, project_create

    user = get_user_model().objects.create_user(username, password=PASSWORD)
    project = project_create(user=user, name=f"Project of {username}", kind="instance")
    label_class_create(project=project, name="car", kind="thing", color="#ff0000")
    with open(photo(tmp_path / f"{username}.jpg", seed), "rb") as fh:
        batch = images_upload(project=project, files=[SimpleUploadedFile(f"{username}.jpg", fh.read())], user=user)
    return batch.results[0].image_id


def create_project_in_ui(page, base, tmp_path):
    page.get_by_test_id("new-project").click()
    page.get_by_test_id("project-name-input").fill("Street scenes")
    page.get_by_test_id("project-kind-panoptic").check()
    page.get_by_test_id("project-guidelines").fill("# Guidelines\n\nPaint every **car**.")
    page.get_by_test_id("add-class").click()
    rows = page.get_by_test_id("class-row")
    rows.nth(0).get_by_test_id("class-name").fill("car")
    rows.nth(0).get_by_test_id("class-kind").select_option("thing")
    page.get_by_test_id("add-class").click()
    rows.nth(1).get_by_test_id("class-name").fill("road")
    rows.nth(1).get_by_test_id("class-kind").select_option("stuff")
    shot(page, "01-project-form")
    page.get_by_test_id("save-project").click()
    page.wait_for_url(re.compile(r".*/app/projects/\d+(/.*)?$"))
    project_id = int(re.search(r"/app/projects/(\d+)", page.url).group(1))
    page.goto(f"{base}/app/projects/{project_id}/upload")
    page.get_by_test_id("upload-input").set_input_files([photo(tmp_path / "a.jpg", 1), photo(tmp_path / "b.jpg", 2)])
    page.get_by_test_id("upload-submit").click()
    page.get_by_test_id("upload-summary").wait_for()
    assert "2 accepted" in page.get_by_test_id("upload-count-accepted").text_content()
    shot(page, "02-upload-results")
    page.goto(f"{base}/app/projects/{project_id}")
    page.get_by_test_id("image-card").first.wait_for()
    assert page.get_by_test_id("image-card").count() == 2
    shot(page, "03-image-grid")
    return project_id


def test_new_user_labels_an_image_and_finds_it_after_reload(live_server, new_page, tmp_path):
    get_user_model().objects.create_user("newuser", password=PASSWORD)
    base = live_server.url
    page = new_page()
    login(page, base, "newuser")
    project_id = create_project_in_ui(page, base, tmp_path)
    image = Image.objects.filter(project_id=project_id).order_by("id").first()
    page.goto(f"{base}/app/images/{image.pk}")
    page.get_by_test_id("editor-canvas").wait_for()
    page.wait_for_function("window.__editor && window.__editor.renderer.viewport.scale > 0")

    # A car as a polygon with a hole: outer square 100..300, hole 160..240.
    page.get_by_test_id("class-choice").filter(has_text="car").click()
    page.keyboard.press("p")
    for x, y in [(100, 100), (300, 100), (300, 300), (100, 300)]:
        click_at(page, x, y)
    click_at(page, 100, 100)  # closes the outer ring
    page.keyboard.press("h")
    for x, y in [(160, 160), (240, 160), (240, 240), (160, 240)]:
        click_at(page, x, y)
    click_at(page, 160, 160)
    page.keyboard.press("Enter")
    shot(page, "04-polygon-with-hole")

    # Road (stuff) with the brush along the bottom, in two separate strokes: one segment (stuff).
    page.get_by_test_id("class-choice").filter(has_text="road").click()
    page.keyboard.press("b")
    page.get_by_test_id("brush-size").fill("10")
    drag(page, [(20, 420), (300, 420)])
    drag(page, [(400, 420), (600, 420)])

    # Two car blobs painted as one segment, then split into two, then one merged back.
    page.get_by_test_id("class-choice").filter(has_text="car").click()
    page.keyboard.press("n")
    drag(page, [(450, 100), (500, 100)])
    page.evaluate("window.__editor.session.select(window.__editor.session.activeSegment)")
    drag(page, [(450, 250), (500, 250)])
    wait_saved(page)
    # The tiles saved so far were compressed in the tile-encode worker, not on the main thread.
    assert page.evaluate("window.__editor.autosave.tilesEncodedInWorker") is True
    # ...and their IndexedDB copy was written by the pending-store worker.
    assert page.evaluate("window.__editor.store.inWorker") is True
    items = segment_items(page)
    assert sorted(i["cls"] for i in items) == ["car", "car", "road"]
    blob = next(i for i in items if i["cls"] == "car" and i["instance"] == "2")
    page.locator(f"[data-testid=segment-item][data-segment-id='{blob['id']}'] [data-testid=segment-select]").click()
    page.get_by_test_id("segment-split").click()
    wait_saved(page)
    items = segment_items(page)
    assert sorted(i["cls"] for i in items) == ["car", "car", "car", "road"]
    instances = sorted(int(i["instance"]) for i in items if i["cls"] == "car")
    assert instances == [1, 2, 3]
    shot(page, "05-split")

    # Merge the third car back into the second, then renumber the first car to 7.
    third = next(i for i in items if i["instance"] == "3")
    page.get_by_test_id("merge-source").select_option(str(third["id"]))
    # A save landing meanwhile re-renders the panel: the choice stays (the form is rebuilt only when it changes).
    page.evaluate("window.__editor.session.emit('saved')")
    assert page.get_by_test_id("merge-source").input_value() == str(third["id"])
    page.get_by_test_id("segment-merge").click()
    first = next(i for i in segment_items(page) if i["instance"] == "1")
    page.locator(f"[data-testid=segment-item][data-segment-id='{first['id']}'] [data-testid=segment-select]").click()
    page.get_by_test_id("segment-instance").fill("7")
    page.get_by_test_id("segment-instance").press("Enter")
    wait_saved(page)
    before = sorted((i["cls"], i["instance"], i["area"]) for i in segment_items(page))
    shot(page, "06-before-reload")

    page.reload()
    page.get_by_test_id("segment-item").first.wait_for()
    after = sorted((i["cls"], i["instance"], i["area"]) for i in segment_items(page))
    assert after == before
    shot(page, "07-after-reload")

    # The server holds exactly what the browser showed: the polygon's hole is unlabeled.
    annotation = Annotation.objects.get(image=image)
    label_map = server_map(annotation)
    rows = {s.segment_id: s for s in Segment.objects.filter(annotation=annotation)}
    car = next(s for s in rows.values() if s.instance == 7)
    assert label_map[200, 200] == 0  # inside the hole
    assert label_map[130, 130] == car.segment_id
    assert car.rings is not None and len(car.rings) == 2
    assert car.area == 200 * 200 - 80 * 80
    areas = sorted((s.label_class.name, s.instance, s.area) for s in rows.values())
    assert sorted((c, None if i == "" else int(i), a) for c, i, a in after) == areas
    for sid, row in rows.items():
        assert int((label_map == sid).sum()) == row.area


def test_offline_edit_survives_a_reload(live_server, new_page, tmp_path):
    image_id = project_with_image("offline", tmp_path, seed=3)
    base = live_server.url
    page = new_page()
    open_editor(page, base, "offline", image_id)

    page.context.set_offline(True)
    page.keyboard.press("b")
    drag(page, [(100, 100), (200, 150)])
    page.wait_for_function(
        "document.querySelector('[data-testid=save-status]').dataset.state === 'offline'", timeout=15_000)
    shot(page, "08-offline")
    painted = page.evaluate("window.__editor.session.map.toArray().filter(v => v !== 0).length")
    assert painted > 0
    # Back online, but saves still fail (a flaky network) while the page reloads: the edit lives in IndexedDB.
    page.route("**/save/", lambda route: route.abort())
    page.context.set_offline(False)
    page.reload()
    page.wait_for_function("window.__editor && window.__editor.session.map.toArray().some(v => v !== 0)",
                           timeout=15_000)
    assert page.evaluate("window.__editor.session.map.toArray().filter(v => v !== 0).length") == painted
    assert not Segment.objects.filter(annotation__image_id=image_id).exists()
    page.unroute("**/save/")
    wait_saved(page, timeout=45_000)
    shot(page, "09-restored-and-saved")
    annotation = Annotation.objects.get(image_id=image_id)
    assert int((server_map(annotation) != 0).sum()) == painted


def test_two_editors_conflict_is_merged_without_losing_a_stroke(live_server, new_page, tmp_path):
    image_id = project_with_image("twotabs", tmp_path, seed=4)
    base = live_server.url
    first, second = new_page(), new_page()
    for page in (first, second):
        open_editor(page, base, "twotabs", image_id)
        page.keyboard.press("b")

    drag(first, [(60, 60), (160, 60)])
    wait_saved(first)
    drag(second, [(60, 300), (160, 300)])  # based on version 0: the server answers 409, the editor merges
    wait_saved(second, timeout=30_000)
    shot(second, "10-after-merge")

    annotation = Annotation.objects.get(image_id=image_id)
    label_map = server_map(annotation)
    assert label_map[60, 100] != 0 and label_map[300, 100] != 0
    assert label_map[60, 100] != label_map[300, 100]
    rows = list(Segment.objects.filter(annotation=annotation).order_by("segment_id"))
    assert len(rows) == 2 and sorted(r.instance for r in rows) == [1, 2]
    first.reload()
    first.get_by_test_id("segment-item").nth(1).wait_for()
    assert len(segment_items(first)) == 2


def test_an_expired_session_loses_nothing_and_is_replayed_after_login(live_server, new_page, tmp_path):
    image_id = project_with_image("expiring", tmp_path, seed=5)
    base = live_server.url
    page = new_page()
    open_editor(page, base, "expiring", image_id)

    page.context.clear_cookies()  # the session ends (logged out elsewhere, or expired)
    page.keyboard.press("b")
    drag(page, [(300, 200), (400, 260)])
    page.wait_for_function(
        "document.querySelector('[data-testid=save-status]').dataset.state === 'expired'", timeout=15_000)
    painted = page.evaluate("window.__editor.session.map.toArray().filter(v => v !== 0).length")
    assert painted > 0 and not Segment.objects.filter(annotation__image_id=image_id).exists()
    shot(page, "11-session-expired")
    page.get_by_test_id("relogin").click()
    page.get_by_test_id("login-username").fill("expiring")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(re.compile(rf".*/app/images/{image_id}$"))
    page.wait_for_function("window.__editor && window.__editor.session.map.toArray().some(v => v !== 0)",
                           timeout=15_000)
    wait_saved(page, timeout=30_000)
    annotation = Annotation.objects.get(image_id=image_id)
    assert int((server_map(annotation) != 0).sum()) == painted
    assert Segment.objects.filter(annotation=annotation).count() == 1


def test_polygon_vertices_can_be_dragged_inserted_and_deleted(live_server, new_page, tmp_path):
    image_id = project_with_image("vertices", tmp_path, seed=6)
    base = live_server.url
    page = new_page()
    open_editor(page, base, "vertices", image_id)
    page.keyboard.press("p")
    for x, y in [(100, 100), (300, 100), (300, 300), (100, 300)]:
        click_at(page, x, y)
    click_at(page, 100, 100)
    page.keyboard.press("Enter")
    wait_saved(page)
    (square,) = segment_items(page)
    assert square["area"] == 200 * 200

    # Re-open the polygon (E with it selected), drag the (300, 300) corner to (400, 300): a trapezoid.
    page.keyboard.press("e")
    page.mouse.move(*canvas_point(page, 300, 300))
    page.mouse.down()
    page.mouse.move(*canvas_point(page, 400, 300), steps=5)
    page.mouse.up()
    # Alt+click the middle of the top edge inserts a vertex; drag it up to (200, 50): a peak on top.
    page.keyboard.down("Alt")
    click_at(page, 200, 100)
    page.keyboard.up("Alt")
    page.mouse.move(*canvas_point(page, 200, 100))
    page.mouse.down()
    page.mouse.move(*canvas_point(page, 200, 50), steps=5)
    page.mouse.up()
    shot(page, "13-vertex-edit")
    page.keyboard.press("Enter")
    wait_saved(page)
    rings = page.evaluate("window.__editor.session.table.all()[0].rings")
    assert len(rings) == 1 and len(rings[0]) == 5
    (shape,) = segment_items(page)
    # Pixel-centre area of the pentagon (100,100) (200,50) (300,100) (400,300) (100,300), same rule as the
    # server; the continuous (shoelace) area is 50000 + 5000 = 55000, which the pixel count must be close to.
    assert abs(shape["area"] - 55_000) < 600
    annotation = Annotation.objects.get(image_id=image_id)
    row = Segment.objects.get(annotation=annotation)
    assert row.area == shape["area"] and len(row.rings[0]) == 5

    # Right-click the inserted vertex deletes it again: back to the trapezoid.
    page.keyboard.press("e")
    page.mouse.click(*canvas_point(page, 200, 50), button="right")
    page.keyboard.press("Enter")
    wait_saved(page)
    (trapezoid,) = segment_items(page)
    assert trapezoid["area"] == (200 + 300) // 2 * 200

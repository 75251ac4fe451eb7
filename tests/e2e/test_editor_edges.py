"""Editor edge cases from issue 16 (items 14-16), as a user meets them in Chromium: the eraser under "Protect
existing", a polygon edited after the eraser took part of it, double-click on a polygon, and segments that
would have no pixel."""

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from labeling.masks.polygons import rasterize_rings
from labeling.models import Annotation, Segment
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import (
    canvas_point,
    click_at,
    drag,
    open_editor,
    project_with_image,
    segment_items,
    server_map,
    wait_saved,
)

# The hint follows the tool's state on the next frame: the assertions wait for it (Playwright's expect retries).
HINT_EDITING = re.compile(r"^Enter: commit")

pytestmark = pytest.mark.django_db(transaction=True)

SQUARE = [(100, 100), (300, 100), (300, 300), (100, 300)]


def draw_polygon(page, points):
    page.get_by_test_id("tool-polygon").click()
    for x, y in points:
        click_at(page, x, y)
    click_at(page, *points[0])  # closes the ring
    page.keyboard.press("Enter")


def undo_depth(page) -> int:
    return page.evaluate("window.__editor.session.history.undoDepth")


def areas(page) -> dict[int, int]:
    """Pixels per segment id in the browser's label map."""
    counts = page.evaluate("""() => { const c = {}; for (const v of window.__editor.session.map.toArray())
                                        if (v) c[v] = (c[v] || 0) + 1; return c; }""")
    return {int(k): v for k, v in counts.items()}


def toast(page, text):
    page.get_by_test_id("toast").filter(has_text=text).first.wait_for()


def saved_rows(image_id) -> dict[int, Segment]:
    return {s.segment_id: s for s in Segment.objects.filter(annotation__image_id=image_id)}


def test_eraser_with_protect_existing_erases_only_the_selected_segment(live_server, new_page, tmp_path):
    image_id = project_with_image("protecteraser", tmp_path, seed=21)
    page = new_page()
    open_editor(page, live_server.url, "protecteraser", image_id)
    # Two cars side by side: a polygon (100..300 square) and a brush blob touching its right side.
    draw_polygon(page, SQUARE)
    page.keyboard.press("n")
    page.get_by_test_id("tool-brush").click()
    page.get_by_test_id("brush-size").fill("20")
    drag(page, [(320, 150), (320, 250)])
    wait_saved(page)
    polygon_id, blob_id = sorted(areas(page))
    before = areas(page)
    assert before[polygon_id] == 200 * 200

    page.get_by_test_id("tool-eraser").click()
    page.get_by_test_id("protect-existing").check()
    expect(page.get_by_test_id("tool-hint")).to_contain_text("selected segment only")
    title = page.get_by_test_id("protect-existing-option").get_attribute("title")
    assert "Eraser: erase only the selected segment" in title

    # Nothing selected: the stroke erases nothing, adds no undo step, and says why.
    page.get_by_test_id("editor-overlay").focus()  # keys typed in the checkbox do not reach the editor
    page.keyboard.press("Escape")
    assert page.evaluate("window.__editor.session.activeSegment") is None
    depth = undo_depth(page)
    drag(page, [(250, 200), (330, 200)])
    toast(page, "none is selected")
    shot(page, "edges-01-eraser-protect-nothing-selected")
    assert areas(page) == before
    assert undo_depth(page) == depth

    # The polygon selected: the same stroke erases only its pixels; the blob keeps every one.
    page.locator(f"[data-testid=segment-item][data-segment-id='{polygon_id}'] [data-testid=segment-select]").click()
    page.get_by_test_id("tool-eraser").click()
    drag(page, [(250, 200), (330, 200)])
    after = areas(page)
    assert after[blob_id] == before[blob_id]
    assert after[polygon_id] < before[polygon_id]
    assert undo_depth(page) == depth + 1
    wait_saved(page)
    shot(page, "edges-02-eraser-protect-selected-only")
    rows = saved_rows(image_id)
    assert {sid: row.area for sid, row in rows.items()} == after
    assert rows[polygon_id].rings is None  # its old outline no longer describes it

    # A stroke over empty ground (protect off) changes nothing either: no undo step, and a message.
    page.get_by_test_id("protect-existing").uncheck()
    drag(page, [(500, 420), (560, 440)])
    toast(page, "no label under the stroke")
    assert undo_depth(page) == depth + 1


def test_erasing_part_of_a_polygon_survives_a_vertex_edit(live_server, new_page, tmp_path):
    image_id = project_with_image("erasepoly", tmp_path, seed=22)
    page = new_page()
    open_editor(page, live_server.url, "erasepoly", image_id)
    draw_polygon(page, SQUARE)
    wait_saved(page)
    (polygon,) = segment_items(page)
    assert polygon["area"] == 40_000

    # Erase the top-left corner of the polygon.
    page.get_by_test_id("tool-eraser").click()
    page.get_by_test_id("brush-size").fill("30")
    drag(page, [(100, 100), (150, 140)])
    wait_saved(page)
    sid = polygon["id"]
    annotation = Annotation.objects.get(image_id=image_id)
    erased_map = server_map(annotation)
    erased = int((erased_map == sid).sum())
    assert 30_000 < erased < 40_000
    assert erased_map[105, 105] == 0

    # Double-click it with the polygon tool: its vertices open from the current pixels, not the old square.
    page.get_by_test_id("tool-polygon").click()
    page.mouse.dblclick(*canvas_point(page, 250, 250))
    expect(page.get_by_test_id("tool-hint")).to_have_text(HINT_EDITING)
    shot(page, "edges-03-erased-polygon-opened")
    depth = undo_depth(page)
    page.keyboard.press("Enter")  # nothing moved: nothing changes
    assert undo_depth(page) == depth
    assert areas(page) == {sid: erased}

    # Open again and drag the bottom-right corner from (300, 300) to (400, 300).
    page.mouse.dblclick(*canvas_point(page, 250, 250))
    page.mouse.move(*canvas_point(page, 300, 300))
    page.mouse.down()
    page.mouse.move(*canvas_point(page, 400, 300), steps=5)
    page.mouse.up()
    shot(page, "edges-04-erased-polygon-vertex-moved")
    page.keyboard.press("Enter")
    wait_saved(page)
    edited = server_map(annotation)
    row = Segment.objects.get(annotation=annotation, segment_id=sid)
    # Only the triangle the vertex swept came in; the erased corner stayed erased (before the fix the old
    # square came back: every erased pixel returned).
    corner = next(p for p in row.rings[0] if p[0] > 350)
    triangle = rasterize_rings([[(300, 100), tuple(corner), (300, 300)]], height=480, width=640)
    assert np.array_equal(edited == sid, (erased_map == sid) | triangle)
    assert row.area == erased + int(triangle.sum()) == int((edited == sid).sum())
    assert edited[105, 105] == 0
    assert np.array_equal(rasterize_rings(row.rings, height=480, width=640), edited == sid)


def test_double_click_edits_a_polygon_and_no_segment_is_ever_empty(live_server, new_page, tmp_path):
    image_id = project_with_image("dblclick", tmp_path, seed=23)
    page = new_page()
    open_editor(page, live_server.url, "dblclick", image_id)
    draw_polygon(page, SQUARE)
    wait_saved(page)
    (polygon,) = segment_items(page)

    # Double-click the polygon: vertex editing, as the hint says, not a new polygon.
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("tool-hint")).to_contain_text("double-click a polygon segment")
    page.mouse.dblclick(*canvas_point(page, 200, 200))
    expect(page.get_by_test_id("tool-hint")).to_have_text(HINT_EDITING)
    assert page.evaluate("window.__editor.session.activeSegment") == polygon["id"]
    shot(page, "edges-05-double-click-opens-vertices")
    page.keyboard.press("Escape")

    # A polygon covering no pixel centre is refused with a message and never saved.
    for x, y in [(450.1, 50.1), (450.45, 50.1), (450.2, 50.45)]:
        click_at(page, x, y)
    page.keyboard.press("Enter")
    toast(page, "covers no pixel centre")
    shot(page, "edges-06-empty-polygon-refused")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    assert len(segment_items(page)) == 1

    # A small blob, then the polygon painted over it entirely: the blob leaves the list and the saved table.
    page.keyboard.press("n")
    page.get_by_test_id("tool-brush").click()
    page.get_by_test_id("brush-size").fill("8")
    drag(page, [(200, 200), (210, 200)])
    wait_saved(page)
    blob = next(i for i in segment_items(page) if i["id"] != polygon["id"])
    assert set(saved_rows(image_id)) == {polygon["id"], blob["id"]}
    page.locator(f"[data-testid=segment-item][data-segment-id='{polygon['id']}'] [data-testid=segment-select]").click()
    page.get_by_test_id("tool-brush").click()
    page.get_by_test_id("brush-size").fill("30")
    drag(page, [(190, 200), (220, 200)])
    wait_saved(page)
    assert [i["id"] for i in segment_items(page)] == [polygon["id"]]
    shot(page, "edges-07-painted-over-segment-gone")
    rows = saved_rows(image_id)
    assert list(rows) == [polygon["id"]] and rows[polygon["id"]].area == 40_000
    annotation = Annotation.objects.get(image_id=image_id)
    assert not (server_map(annotation) == blob["id"]).any()
    assert all(row.area > 0 for row in Segment.objects.all())

    # Undo brings the blob back, in the list and on the server, with exactly its pixels.
    page.get_by_test_id("undo").click()
    wait_saved(page)
    assert sorted(i["id"] for i in segment_items(page)) == sorted([polygon["id"], blob["id"]])
    label_map = server_map(annotation)
    for sid, row in saved_rows(image_id).items():
        assert row.area == int((label_map == sid).sum()) > 0

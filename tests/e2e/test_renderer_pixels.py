"""The editor's WebGL renderer draws exactly the colours its style says, read back from the canvas in Chromium.

A uniform grey image with two rectangular segments (red and blue classes): every style the segment panel and
toolbar can set (opacity, fill/outline, hover, selection, hidden segment) is checked at known pixels against
the blend of the image colour and the styled segment colour, at a zoom where outlines are partial texels and at
one where they are whole texels, and in an interactive (reduced-resolution) frame; with label tiles packed
in the worker and, with its script blocked, on the main thread.
"""

import io

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from labeling.masks.tiles import encode_tile, split_map
from labeling.services.images import images_upload
from labeling.services.labelmaps import SegmentInput, TileUpdate, annotation_get_or_create, labelmap_save
from labeling.services.projects import label_class_create, project_create
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import PASSWORD, open_editor

pytestmark = pytest.mark.django_db(transaction=True)

GREY = 100
RED = (255, 0, 0)
BLUE = (0, 0, 255)
GOLD = (255, 214, 0)
# Image pixels of the two segments: [x0, x1) x [y0, y1).
SEG1 = (40, 120, 40, 100)
SEG2 = (140, 200, 60, 160)
TOLERANCE = 3  # JPEG of a flat grey and 8-bit blending

# Renders the view once every tile is in, then reads canvas pixels at CSS points, in the same task (the
# drawing buffer is only valid until the browser presents it).
READ_JS = """async ({ view, style, palette, points, interactive }) => {
  const r = window.__editor.renderer;
  if (palette) r.setPalette(new Map(palette));
  r.setStyle(style);
  r.setViewport(view);
  for (let i = 0; i < 400; i++) {
    await new Promise((res) => requestAnimationFrame(res));
    const s = r.renderNow();
    if (s.imageTiles > 0 && s.labelTiles > 0 && s.imageLoads === 0 && s.pendingUploads === 0) break;
  }
  if (interactive) r.interacting();
  r.renderNow();
  const gl = r.gl, dpr = r.size.dpr, out = new Uint8Array(4);
  return points.map(([x, y]) => {
    gl.readPixels(Math.floor(x * dpr), r.canvas.height - 1 - Math.floor(y * dpr), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
    return Array.from(out.slice(0, 3));
  });
}"""


def over(color, alpha, dst=GREY):
    """Premultiplied `color` at `alpha` (0-1, quantised to 8 bits like the palette texture) over a grey pixel."""
    a = round(alpha * 255)
    return tuple(round(round(c * a / 255) + dst * (1 - a / 255)) for c in color)


def lighter(color):
    """The hovered segment's colour: 35% of the way to white."""
    return tuple(c + (255 - c) * 0.35 for c in color)


def labelled_grey_image(username, size, label_map, classes):
    """A user with an instance project, a uniform grey `size`² image and its saved `label_map`; `classes` maps
    class names to colours, segment i + 1 taking the i-th class. Returns the image id."""
    from labeling.models import Image

    user = get_user_model().objects.create_user(username, password=PASSWORD)
    project = project_create(user=user, name=username.title(), kind="instance")
    class_ids = [label_class_create(project=project, name=name, kind="thing", color=color).pk
                 for name, color in classes.items()]
    buf = io.BytesIO()
    PILImage.new("RGB", (size, size), (GREY, GREY, GREY)).save(buf, format="PNG")
    batch = images_upload(project=project, files=[SimpleUploadedFile(f"{username}.png", buf.getvalue())], user=user)
    image_id = batch.results[0].image_id
    annotation, _ = annotation_get_or_create(image=Image.objects.get(pk=image_id), user=user)
    labelmap_save(annotation=annotation, user=user, base_version=annotation.version,
                  tiles=[TileUpdate(tx=tx, ty=ty, data=encode_tile(arr))
                         for (tx, ty), arr in split_map(label_map, tile_size=annotation.tile_size).items()],
                  segments=[SegmentInput(segment_id=i + 1, class_id=c) for i, c in enumerate(class_ids)],
                  deleted_segment_ids=[])
    return image_id


@pytest.fixture(params=["packed in a worker", "worker blocked"])
def editor(live_server, new_page, request):
    """The editor on the grey image; label tiles are packed in the label-pack worker, or, with its script
    blocked, on the main thread after the worker fails (the same pixels either way)."""
    label_map = np.zeros((256, 256), dtype=np.uint32)
    for seg_id, (x0, x1, y0, y1) in ((1, SEG1), (2, SEG2)):
        label_map[y0:y1, x0:x1] = seg_id
    image_id = labelled_grey_image("pixels", 256, label_map, {"red": "#ff0000", "blue": "#0000ff"})
    page = new_page()
    blocked = request.param == "worker blocked"
    if blocked:
        page.route("**/labelPack.worker-*.js", lambda route: route.abort())
    open_editor(page, live_server.url, "pixels", image_id)
    page.wait_for_function("window.__editor.session.table.all().length === 2")

    def read(view, points, style=None, palette=None, interactive=False):
        full = {"opacity": 0.5, "mode": "fill", "highlight": None, "selected": None, **(style or {})}
        got = page.evaluate(READ_JS, {"view": view, "style": full, "palette": palette, "points": points,
                                      "interactive": interactive})
        return [tuple(p) for p in got]

    yield page, read
    assert page.evaluate("window.__editor.renderer.labelsPackedInWorker") is not blocked


def assert_close(got, want, what):
    assert all(abs(g - w) <= TOLERANCE for g, w in zip(got, want, strict=True)), f"{what}: got {got}, want {want}"


def test_fill_outline_hover_selection_and_hidden_at_two_zooms(editor):
    page, read = editor
    zoom2 = {"scale": 2, "x": 0, "y": 0}  # one image pixel = 2x2 CSS px: outlines cover part of a texel
    # CSS points: grey background; inside each segment; seg 1's left edge (first CSS px of the texel) and the
    # second CSS px of that texel (no longer within the 1-px outline).
    pts = {"grey": (20, 20), "in1": (160, 140), "in2": (340, 220), "edge1": (80.5, 140), "edge1_inner": (81.5, 140),
           "edge2": (280.5, 220)}
    names = list(pts)

    def check(view, style, want, palette=None, interactive=False):
        got = dict(zip(names, read(view, [pts[n] for n in names], style, palette, interactive), strict=True))
        for name, color in want.items():
            assert_close(got[name], color, f"{style} {name}")

    plain = {"grey": (GREY,) * 3, "in1": over(RED, 0.5), "in2": over(BLUE, 0.5), "edge1": over(RED, 0.5),
             "edge1_inner": over(RED, 0.5)}
    check(zoom2, {}, plain)
    shot(page, "renderer-fill")
    check(zoom2, {"opacity": 0.2}, {"in1": over(RED, 0.2), "in2": over(BLUE, 0.2)})
    # Outline mode: interiors untouched, edges at twice the opacity.
    check(zoom2, {"mode": "outline", "opacity": 0.3},
          {"in1": (GREY,) * 3, "edge1": over(RED, 0.6), "edge1_inner": (GREY,) * 3, "edge2": over(BLUE, 0.6)})
    shot(page, "renderer-outline")
    # Selection: a gold outline, interior as before; hover: lighter, at least opacity + 0.25, white outline.
    check(zoom2, {"selected": 1, "highlight": 2},
          {"edge1": GOLD, "edge1_inner": over(RED, 0.5), "in1": over(RED, 0.5), "edge2": (255, 255, 255),
           "in2": over(lighter(BLUE), 0.75)})
    # Moving hover and selection rewrites only their palette entries: the old ones must be plain again.
    check(zoom2, {"selected": 2, "highlight": 1},
          {"edge1": (255, 255, 255), "in1": over(lighter(RED), 0.75), "edge2": GOLD, "in2": over(BLUE, 0.5)})
    check(zoom2, {"mode": "outline", "selected": 1},
          {"edge1": GOLD, "in1": over(RED, 0.5 * 0.35), "in2": (GREY,) * 3})
    # A hidden segment (palette alpha 0) draws nothing, not even its selection outline.
    check(zoom2, {"selected": 1}, {"in1": (GREY,) * 3, "edge1": (GREY,) * 3, "in2": over(BLUE, 0.5)},
          palette=[[1, [255, 0, 0, 0]], [2, [0, 0, 255, 255]]])
    # Restore the editor's colours (class colours) before the next checks.
    check(zoom2, {}, plain, palette=[[1, [255, 0, 0, 255]], [2, [0, 0, 255, 255]]])

    # Zoom 1: a texel is one CSS px, so every texel with a differing neighbour is outline.
    zoom1 = {"scale": 1, "x": 0, "y": 0}
    got = read(zoom1, [(40.5, 70), (41.5, 70), (80, 70)], {"mode": "outline", "selected": 1})
    assert_close(got[0], GOLD, "zoom 1 edge")
    assert_close(got[1], over(RED, 0.5 * 0.35), "zoom 1 next to the edge")
    assert_close(got[2], over(RED, 0.5 * 0.35), "zoom 1 interior")

    # An interactive frame (reduced resolution on software WebGL, nearest image sampling) keeps the colours.
    got = read(zoom2, [pts["grey"], pts["in1"], pts["in2"]], {}, interactive=True)
    for g, w in zip(got, [(GREY,) * 3, over(RED, 0.5), over(BLUE, 0.5)], strict=True):
        assert_close(g, w, "interactive frame")


QUADRANTS = {(0, 0): (200, 40, 40), (1, 0): (40, 200, 40), (0, 1): (40, 40, 200), (1, 1): (220, 200, 40)}


def test_a_missing_image_tile_shows_its_part_of_the_coarser_tile(live_server, new_page):
    """512² image of four flat quadrants = the four level-0 tiles; the bottom-right one never loads. Its area must
    show the matching quarter of the level-1 tile (the same colour), not another part of it, and the loaded
    tiles their own colours."""
    user = get_user_model().objects.create_user("quadrants", password=PASSWORD)
    project = project_create(user=user, name="Quadrants", kind="semantic")
    pixels = np.zeros((512, 512, 3), dtype=np.uint8)
    for (qx, qy), color in QUADRANTS.items():
        pixels[qy * 256:(qy + 1) * 256, qx * 256:(qx + 1) * 256] = color
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, format="PNG")
    batch = images_upload(project=project, files=[SimpleUploadedFile("quadrants.png", buf.getvalue())], user=user)
    image_id = batch.results[0].image_id
    page = new_page()
    page.route(f"**/api/images/{image_id}/tiles/0/1/1/", lambda route: route.abort())
    open_editor(page, live_server.url, "quadrants", image_id)
    got = page.evaluate("""async () => {
      const r = window.__editor.renderer;
      r.setViewport({ scale: 1, x: 0, y: 0 });  // level 0 at DPR 1
      for (let i = 0; i < 300; i++) {
        await new Promise((res) => requestAnimationFrame(res));
        const s = r.renderNow();
        if (s.imageTiles >= 4 && s.imageLoads === 0) break;
      }
      const stats = r.renderNow();
      const gl = r.gl, out = new Uint8Array(4);
      // Well inside each quadrant (JPEG tiles blur the borders between them).
      const px = (x, y) => { gl.readPixels(x, r.canvas.height - 1 - y, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
                             return Array.from(out.slice(0, 3)); };
      const colors = [[0, 0, px(128, 128)], [1, 0, px(384, 128)], [0, 1, px(128, 384)], [1, 1, px(384, 384)]];
      return { stats, colors };
    }""")
    assert got["stats"]["imageTiles"] == 4  # three level-0 tiles + the level-1 tile standing in for the fourth
    for qx, qy, color in got["colors"]:
        assert all(abs(c - w) <= 12 for c, w in zip(color, QUADRANTS[(qx, qy)], strict=True)), (qx, qy, color)
    shot(page, "renderer-image-fallback")


# A stroke painted on a zoomed-out view (a coarse label level on screen), one frame per step; then the whole
# label layer is rebuilt from the map and drawn again. `uploads` are the texel regions written meanwhile.
COARSE_STROKE_JS = """async ({ view, points }) => {
  const { session, renderer: r } = window.__editor;
  r.setViewport(view);
  const settle = async () => {
    for (let i = 0; i < 400; i++) {
      await new Promise((res) => requestAnimationFrame(res));
      const s = r.renderNow();
      if (s.imageTiles > 0 && s.imageLoads === 0 && s.pendingUploads === 0) return s;
    }
    return null;
  };
  const read = () => {
    r.renderNow();
    const gl = r.gl, out = new Uint8Array(r.canvas.width * r.canvas.height * 4);
    gl.readPixels(0, 0, r.canvas.width, r.canvas.height, gl.RGBA, gl.UNSIGNED_BYTE, out);
    return out;
  };
  await settle();
  const layer = r.labels, write = layer.writeTexels, uploads = [];
  layer.writeTexels = function (l, region, texels) {
    uploads.push(region.width * region.height);
    return write.call(this, l, region, texels);
  };
  session.beginStroke(points[0][0], points[0][1], 12, false);
  for (const [x, y] of points.slice(1)) { session.extendStroke(x, y); r.renderNow(); }
  session.endStroke();
  layer.writeTexels = write;
  await settle();
  const painted = read();
  const colors = layer.colors;
  r.setLabels(layer.labelSource);
  r.setPalette(colors);
  await settle();
  const rebuilt = read();
  let differing = 0;
  for (let i = 0; i < painted.length; i += 4) {
    const same = painted[i] === rebuilt[i] && painted[i + 1] === rebuilt[i + 1] && painted[i + 2] === rebuilt[i + 2];
    if (!same) differing++;
  }
  return { differing, uploads, pixels: painted.length / 4,
           segment: session.activeSegment, area: session.map.segmentStats().get(session.activeSegment)?.area ?? 0 };
}"""


def test_painting_on_a_zoomed_out_view_updates_only_what_changed_and_draws_the_same(live_server, new_page):
    """At a zoomed-out view the screen shows a coarse label level sampled from the map; a brush stroke there
    must re-derive only the texels it touched (not whole coarse tiles every frame) and end with the same
    pixels as a label layer rebuilt from scratch."""
    # One segment already there, so the coarse tile is on the GPU before the stroke (as in any labelled image).
    label_map = np.zeros((2048, 2048), dtype=np.uint32)
    label_map[100:300, 100:700] = 1
    image_id = labelled_grey_image("coarse", 2048, label_map, {"red": "#ff0000"})
    page = new_page()
    open_editor(page, live_server.url, "coarse", image_id)
    page.wait_for_function("window.__editor.session.table.all().length === 1")
    # Scale 1/8: the 2048² map (4x4 tiles of 512) shows as one 512² tile of level 2; the stroke crosses the
    # borders of the level-0 tiles it is sampled from.
    points = [[300 + 40 * i, 400 + 25 * i] for i in range(15)]
    got = page.evaluate(COARSE_STROKE_JS, {"view": {"scale": 0.125, "x": 10, "y": 10}, "points": points})
    assert got["area"] > 0
    assert got["differing"] == 0, got["differing"]
    assert got["uploads"], "the stroke was never drawn"
    # Each frame wrote a small patch around the new dab (before: the whole 512² coarse tile, every frame).
    assert max(got["uploads"]) < 512 * 512 // 64, sorted(got["uploads"])[-5:]
    shot(page, "renderer-coarse-stroke")

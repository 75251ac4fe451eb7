"""Write the golden files shared by the Python and TypeScript mask code (STYLE §12) into tests/golden/.

    python tests/golden_gen.py          # rewrite tests/golden/ after changing labeling/masks
    python tests/golden_gen.py OUTDIR   # write elsewhere (tests/unit/test_golden_files.py compares the two)

The frontend tests (frontend/tests/core/) read these files and must reproduce them exactly:

- ``labelmap.json`` + ``tiles/*.zlib``: a 992x640 label map cut into 512-px tiles (so every tile shape occurs:
  512x512, 512x480, 128x512 and 128x480 as rows x cols), plus a few extra tiles (uint32 extremes, noise,
  all zeros). Each tile's pixels are stored as runs over a palette of ids; its ``.zlib`` file is
  ``labeling.masks.tiles.encode_tile`` of those pixels; ``stats`` is ``segment_stats`` of the whole map.
- ``polygons.json``: polygon cases with ``rasterize_rings`` output as run lengths of the row-major mask,
  alternating unfilled / filled, starting with unfilled.
- ``sam/`` (written only by ``python tests/golden_gen.py --sam``, since it needs torch): the browser/server SAM
  decoder parity fixture and the mask upscaling fixture, see ``write_sam``. tests/unit/test_sam_golden.py
  recomputes ``prompts.json`` and ``upscale.json`` from the committed files; test_golden_files.py leaves the
  folder to it.

Everything is derived from fixed seeds, so the output is deterministic.
"""

import json
import sys
from pathlib import Path

import numpy as np

# Run as a script from anywhere: make the repository importable.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labeling.masks import encode_tile, rasterize_rings, segment_stats, split_map  # noqa: E402

GOLDEN_DIR = ROOT / "tests" / "golden"
MAX_ID = 2**32 - 1
TILE_SIZE = 512
# Ids that break float32 (2**24 + 1), int32 (2**31 and up) and signed-shift code paths.
EXTREME_IDS = [1, 255, 256, 65535, 65536, 2**24 + 1, 2**31 - 1, 2**31, 0xDEADBEEF, MAX_ID - 1, MAX_ID]


def tile_runs(tile: np.ndarray, palette: dict[int, int]) -> list[int]:
    """Row-major runs of a tile as flat [palette index, length, ...]."""
    flat = tile.reshape(-1)
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    lengths = np.diff(np.r_[starts, flat.size])
    out = []
    for value, length in zip(flat[starts].tolist(), lengths.tolist()):
        out += [palette.setdefault(value, len(palette)), length]
    return out


def mask_runs(mask: np.ndarray) -> list[int]:
    """Row-major run lengths of a bool mask, alternating unfilled / filled, starting with unfilled."""
    flat = mask.reshape(-1)
    if flat.size == 0:
        return []
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    lengths = np.diff(np.r_[0, changes, flat.size]).tolist()
    return [0] + lengths if flat[0] else lengths


def sample_map() -> np.ndarray:
    """992x640 map: Voronoi cells with extreme and random ids, some unlabeled cells, a disk and a hairline."""
    rng = np.random.default_rng(20240601)
    height, width = 640, 992
    seeds = rng.uniform(0, [width, height], size=(36, 2))
    ids = np.array(EXTREME_IDS + rng.integers(2, MAX_ID, size=36 - len(EXTREME_IDS) - 5).tolist() + [0] * 5,
                   dtype=np.uint64)
    ys, xs = np.mgrid[0:height, 0:width]
    nearest = np.zeros((height, width), dtype=np.int64)
    best = np.full((height, width), np.inf)
    for i, (sx, sy) in enumerate(seeds):
        d = (xs - sx) ** 2 + (ys - sy) ** 2
        closer = d < best
        best[closer] = d[closer]
        nearest[closer] = i
    label_map = ids[nearest].astype(np.uint32)
    label_map[(xs - 500) ** 2 + (ys - 505) ** 2 < 60**2] = 7  # a segment across all four tiles
    label_map[300, 100:900] = 8  # a one-pixel-high segment crossing a tile border
    return label_map


def extra_tiles() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    extremes = np.array(EXTREME_IDS + [0], dtype=np.uint32)
    return {
        "extremes_3x4": extremes.reshape(3, 4),
        "noise_16x16": rng.integers(0, MAX_ID, size=(16, 16), endpoint=True, dtype=np.uint64).astype(np.uint32),
        "zeros_512x512": np.zeros((512, 512), dtype=np.uint32),
        "single_1x1": np.array([[MAX_ID]], dtype=np.uint32),
        "column_37x1": np.arange(37, dtype=np.uint32).reshape(37, 1) * 97 + 2**31,
    }


def polygon_cases() -> list[dict]:
    rng = np.random.default_rng(1234)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 200))
    radii = rng.uniform(12, 46, 200)
    star = np.c_[48 + radii * np.cos(angles), 48 + radii * np.sin(angles)].tolist()
    scribble = rng.uniform(-6, 70, size=(60, 2)).tolist()
    thirds = [[1 / 3, 1 / 7], [19 + 2 / 3, 3 / 11], [17 + 1 / 9, 15 + 5 / 13], [2 / 7, 13 + 1 / 3]]
    return [
        {"name": "square_on_corners", "width": 8, "height": 8, "rings": [[[1, 1], [5, 1], [5, 5], [1, 5]]]},
        {"name": "triangle", "width": 16, "height": 16, "rings": [[[2.3, 1.7], [13.9, 6.2], [4.1, 12.8]]]},
        {"name": "ring_with_hole", "width": 20, "height": 20,
         "rings": [[[1, 1], [18, 1], [18, 18], [1, 18]], [[5.5, 5.25], [5.5, 12.5], [13.75, 12.5], [13.75, 5.25]]]},
        {"name": "self_touching_bowtie", "width": 16, "height": 16,
         "rings": [[[2, 2], [8, 8], [14, 2], [14, 14], [8, 8], [2, 14]]]},
        {"name": "hole_touching_outer_corner", "width": 12, "height": 12,
         "rings": [[[1, 1], [11, 1], [11, 11], [1, 11]], [[1, 1], [6, 3], [3, 6]]]},
        {"name": "vertices_on_centres", "width": 12, "height": 12,
         "rings": [[[5.5, 1.5], [9.5, 5.5], [5.5, 9.5], [1.5, 5.5]]]},
        {"name": "edges_through_centres", "width": 10, "height": 10,
         "rings": [[[2.5, 1.5], [7.5, 1.5], [7.5, 6.5], [2.5, 6.5]]]},
        {"name": "vertex_on_scanline", "width": 12, "height": 12,
         "rings": [[[6, 2.5], [10, 6.5], [8, 10.5], [6, 6.5], [4, 10.5], [2, 6.5]]]},
        {"name": "partly_outside", "width": 16, "height": 16,
         "rings": [[[-5, -3], [20, 4], [10, 25], [-8, 12]]]},
        {"name": "crossings_left_of_image", "width": 10, "height": 10,
         "rings": [[[-30, 2], [5.2, 2], [5.2, 8], [-30, 8]], [[-20, 0], [-10, 0], [-10, 10], [-20, 10]]]},
        {"name": "outside_entirely", "width": 8, "height": 8, "rings": [[[9, 1], [15, 1], [12, 6]]]},
        {"name": "tiny_without_centre", "width": 6, "height": 6, "rings": [[[2.1, 2.1], [2.4, 2.1], [2.2, 2.4]]]},
        {"name": "tiny_with_centre", "width": 6, "height": 6, "rings": [[[2.4, 2.4], [2.6, 2.45], [2.5, 2.6]]]},
        {"name": "sliver", "width": 40, "height": 30, "rings": [[[0.2, 0.1], [39.7, 29.6], [39.7, 28.9]]]},
        {"name": "overlapping_rings_cancel", "width": 14, "height": 14,
         "rings": [[[1, 1], [9, 1], [9, 9], [1, 9]], [[5, 5], [13, 5], [13, 13], [5, 13]]]},
        {"name": "awkward_fractions", "width": 20, "height": 17, "rings": [thirds]},
        {"name": "huge_coordinates", "width": 16, "height": 16,
         "rings": [[[-1e12, 3.25], [1e12, 5.75], [7.3, 14.9]]]},
        {"name": "random_star_200", "width": 96, "height": 96, "rings": [star]},
        {"name": "random_scribble_60", "width": 64, "height": 64, "rings": [scribble]},
        {"name": "no_rings", "width": 5, "height": 4, "rings": []},
    ]


def dumps(value) -> str:
    # One top-level entry per line keeps diffs reviewable; floats use repr, which JSON.parse reads back exactly.
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def write_all(out_dir: Path) -> list[Path]:
    """Write every golden file under out_dir; returns their paths."""
    out_dir = Path(out_dir)
    (out_dir / "tiles").mkdir(parents=True, exist_ok=True)
    written = []

    label_map = sample_map()
    height, width = label_map.shape
    palette: dict[int, int] = {}
    tiles = []
    for (tx, ty), tile in sorted(split_map(label_map, tile_size=TILE_SIZE).items(), key=lambda kv: kv[0][::-1]):
        name = f"map_{tx}_{ty}"
        tiles.append({"name": name, "tx": tx, "ty": ty, "rows": tile.shape[0], "cols": tile.shape[1],
                      "runs": tile_runs(tile, palette)})
    extras = []
    for name, tile in extra_tiles().items():
        extras.append({"name": name, "rows": tile.shape[0], "cols": tile.shape[1], "runs": tile_runs(tile, palette)})
    for entry in tiles + extras:
        rows, cols = entry["rows"], entry["cols"]
        ids = np.array(list(palette), dtype=np.uint32)
        pixels = np.repeat(ids[entry["runs"][0::2]], entry["runs"][1::2]).reshape(rows, cols)
        path = out_dir / "tiles" / f"{entry['name']}.zlib"
        path.write_bytes(encode_tile(pixels))
        written.append(path)
    stats = {str(k): list(v) for k, v in sorted(segment_stats(label_map).items())}
    doc = {
        "width": width, "height": height, "tile_size": TILE_SIZE, "palette": list(palette),
        "tiles": tiles, "extra_tiles": extras,
        "stats": stats,  # id -> [area, xmin, ymin, xmax, ymax], inclusive
    }
    path = out_dir / "labelmap.json"
    path.write_text(_lines(doc))
    written.append(path)

    cases = []
    for case in polygon_cases():
        mask = rasterize_rings(case["rings"], height=case["height"], width=case["width"])
        cases.append({**case, "area": int(mask.sum()), "runs": mask_runs(mask)})
    path = out_dir / "polygons.json"
    path.write_text(_lines({"cases": cases}))
    written.append(path)

    path = out_dir / "superpixels.json"
    path.write_text(json.dumps(superpixels_golden(), separators=(",", ":")) + "\n")
    written.append(path)
    return written


# Superpixel grid -> image pixel mapping, shared with frontend/tests/core/superpixelFill.test.ts. Odd sizes, so
# cells cover 2 or 3 image pixels and every rounding case of the mapping occurs.
SUPERPIXEL_IMAGE_SIZE = (97, 61)
SUPERPIXEL_GRID_SIZE = (40, 25)


def superpixels_golden() -> dict:
    import base64

    from PIL import Image
    from skimage import data as skdata

    from workers.runners import superpixels as sp

    (image_width, image_height), (grid_width, grid_height) = SUPERPIXEL_IMAGE_SIZE, SUPERPIXEL_GRID_SIZE
    with Image.fromarray(skdata.astronaut()) as img:
        rgb = np.asarray(img.resize((grid_width, grid_height), Image.Resampling.BOX))
    result = sp.compute_grid(rgb, granularity=24)
    full = sp.upsample(result.grid, width=image_width, height=image_height)
    areas = np.bincount(full.ravel(), minlength=result.count + 1)[1:]
    return {
        "image_width": image_width, "image_height": image_height,
        "grid_width": grid_width, "grid_height": grid_height,
        "granularity": result.granularity, "count": result.count,
        "grid_zlib_base64": base64.b64encode(sp.encode_grid(result.grid)).decode(),
        "image_ids": full.ravel().tolist(),
        "areas": areas.tolist(),
    }


def _lines(doc: dict) -> str:
    """JSON with one line per top-level key and per list item of list values."""
    parts = []
    for key in sorted(doc):
        value = doc[key]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            body = "[\n" + ",\n".join("    " + dumps(item) for item in value) + "\n  ]"
        else:
            body = dumps(value)
        parts.append(f"  {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


# ---- SAM decoder parity fixture (tests/golden/sam/) ----

SAM_DIR_NAME = "sam"
SAM_IMAGE_SIZE = (150, 240)  # (h, w): non-square, so the two axes scale differently in the 1024 frame
# Prompts in image coordinates (a click on pixel (i, j) is (i + 0.5, j + 0.5)), as POSTed to
# /api/images/{id}/sam/decode/.
SAM_PROMPTS = [
    {"name": "single_point_multimask", "points": [[120.5, 75.5]], "labels": [1], "box": None, "multimask": True},
    {"name": "single_point_single", "points": [[120.5, 75.5]], "labels": [1], "box": None, "multimask": False},
    {"name": "pos_neg_points", "points": [[60.5, 40.5], [180.5, 110.5]], "labels": [1, 0], "box": None,
     "multimask": False},
    {"name": "three_points_multimask", "points": [[30.5, 20.5], [200.5, 30.5], [100.5, 140.5]],
     "labels": [1, 1, 0], "box": None, "multimask": True},
    {"name": "box_only", "points": [], "labels": [], "box": [30.0, 20.0, 200.0, 130.0], "multimask": False},
    {"name": "box_and_point", "points": [[100.5, 70.5]], "labels": [1], "box": [10.5, 5.0, 239.0, 149.5],
     "multimask": True},
]
# Pixels whose logit is this close to the threshold may legitimately flip between onnxruntime builds
# (native vs web); the fixture counts them per mask so parity tests can allow exactly that many.
SAM_NEAR_THRESHOLD = 1e-3


def sam_image() -> np.ndarray:
    """A deterministic HxWx3 uint8 picture with shapes (a gradient, a disk, a bar) for the tiny encoder."""
    height, width = SAM_IMAGE_SIZE
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([xs * 255 // width, ys * 255 // height, np.full_like(xs, 90)], axis=-1)
    image[(xs - 80) ** 2 + (ys - 70) ** 2 < 35**2] = [230, 40, 40]
    image[100:130, 140:225] = [30, 200, 60]
    return image.astype(np.uint8)


def sam_expected(sam_dir: Path) -> dict:
    """prompts.json's content: decoder inputs and server masks for SAM_PROMPTS, from the committed files."""
    from workers.runners import sam as sam_runner

    meta = json.loads((sam_dir / "meta.json").read_text())
    embedding = sam_runner.embedding_from_bytes((sam_dir / "embedding.f16").read_bytes(), meta["shape"])
    session = sam_runner.decoder_session((sam_dir / "decoder.onnx").read_bytes())
    cases = []
    for prompt in SAM_PROMPTS:
        inputs = sam_runner.decoder_inputs(prompt["points"], prompt["labels"], prompt["box"], meta["original_size"])
        low_res, scores = sam_runner.decode(session, embedding, inputs)
        picked = sam_runner.pick_masks(scores, multimask=prompt["multimask"],
                                       num_points=inputs["point_coords"].shape[1])
        logits = sam_runner.upscale_masks(low_res[picked], meta["original_size"])
        masks = []
        for k, index in enumerate(picked):
            prediction = sam_runner.mask_prediction(logits[k] > 0.0, float(scores[index]))
            masks.append({**prediction.as_dict(), "output": index,
                          "near_threshold": int((np.abs(logits[k]) < SAM_NEAR_THRESHOLD).sum())})
        cases.append({
            **prompt,
            "decoder_inputs": {
                "point_coords": inputs["point_coords"].tolist(),
                "point_labels": inputs["point_labels"].tolist(),
                "has_mask_input": inputs["has_mask_input"].tolist(),
            },
            "iou_predictions": [float(v) for v in scores],
            "masks": masks,
        })
    return {
        "about": "Prompts in image coordinates; decoder_inputs as built by workers.runners.sam.decoder_inputs "
                 "(mask_input is zeros [1,1,256,256]); masks as returned by POST /api/images/{id}/sam/decode/: "
                 "outputs chosen by pick_masks, upscaled by upscale_masks, logits > 0, COCO RLE. near_threshold "
                 "counts pixels with "
                 f"|logit| < {SAM_NEAR_THRESHOLD}, which may flip between onnxruntime builds.",
        "cases": cases,
    }


# Low-res logit patterns for the upscaling fixture, built by the same integer formulas in TypeScript
# (frontend/tests/sam/samUpscale.test.ts), so the values are exact in float32 on both sides:
#   blob:    (radius^2 - (r - cy)^2 - (c - cx)^2) / 64
#   stripes: ((r * a + c * b) % period - period // 2) / 4   (exact zeros included)
SAM_UPSCALE_CASES = [
    {"name": "blob_fixture_size", "size": [150, 240],
     "pattern": {"kind": "blob", "cy": 70, "cx": 100, "radius": 50}},
    {"name": "blob_landscape_1024", "size": [768, 1024],
     "pattern": {"kind": "blob", "cy": 120, "cx": 60, "radius": 41}},
    {"name": "blob_portrait_upsampled", "size": [1500, 1000],
     "pattern": {"kind": "blob", "cy": 200, "cx": 150, "radius": 33}},
    {"name": "blob_at_the_padding_edge", "size": [300, 500],
     "pattern": {"kind": "blob", "cy": 150, "cx": 250, "radius": 60}},
    {"name": "stripes_fixture_size", "size": [150, 240], "pattern": {"kind": "stripes", "a": 7, "b": 3, "period": 23}},
    {"name": "stripes_thin_wide", "size": [37, 1500], "pattern": {"kind": "stripes", "a": 5, "b": 2, "period": 17}},
    {"name": "stripes_square_small", "size": [90, 90], "pattern": {"kind": "stripes", "a": 1, "b": 1, "period": 9}},
]
SAM_UPSCALE_NEAR_THRESHOLD = 1e-4


def sam_upscale_pattern(pattern: dict) -> np.ndarray:
    """The [256, 256] float32 low-res logits of a SAM_UPSCALE_CASES pattern."""
    r, c = np.mgrid[0:256, 0:256].astype(np.int64)
    if pattern["kind"] == "blob":
        values = (pattern["radius"] ** 2 - (r - pattern["cy"]) ** 2 - (c - pattern["cx"]) ** 2) / 64
    else:
        values = ((r * pattern["a"] + c * pattern["b"]) % pattern["period"] - pattern["period"] // 2) / 4
    return values.astype(np.float32)


def sam_upscale_expected() -> dict:
    """upscale.json's content: workers.runners.sam.upscale_masks of each pattern at its image size."""
    from workers.runners import sam as sam_runner

    cases = []
    for case in SAM_UPSCALE_CASES:
        logits = sam_runner.upscale_masks(sam_upscale_pattern(case["pattern"])[None], case["size"])[0]
        prediction = sam_runner.mask_prediction(logits > 0.0, 0.0)
        cases.append({**case, "rle": prediction.rle, "area": prediction.area, "bbox": prediction.bbox,
                      "near_threshold": int((np.abs(logits) < SAM_UPSCALE_NEAR_THRESHOLD).sum())})
    return {
        "about": "SAM mask upscaling (workers.runners.sam.upscale_masks: bilinear to 1024x1024, crop to the "
                 "longest-side resize, bilinear to size) of low-res logit patterns (tests/golden_gen.py "
                 "sam_upscale_pattern); masks are logits > 0 as COCO RLE. near_threshold counts pixels with "
                 f"|logit| < {SAM_UPSCALE_NEAR_THRESHOLD}, which may flip with float rounding.",
        "cases": cases,
    }


def write_sam(out_dir: Path) -> list[Path]:
    """A new tiny random-weight SAM (fixed seed): ``decoder.onnx`` (fp32), ``embedding.f16`` (little-endian
    float16 [C, 64, 64]) of ``sam_image()``, ``meta.json`` and ``prompts.json`` (see ``sam_expected``), and
    ``upscale.json`` (see ``sam_upscale_expected``)."""
    import tempfile

    import torch

    from tests.sam_support import make_tiny_sam
    from workers.runners import sam as sam_runner

    sam_dir = Path(out_dir) / SAM_DIR_NAME
    sam_dir.mkdir(parents=True, exist_ok=True)
    sam = make_tiny_sam(seed=20240602)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "tiny.pt"
        torch.save(sam.state_dict(), checkpoint)
        key = sam_runner.model_key("tiny", checkpoint)
    sam_runner.export_decoder_onnx(sam, sam_dir / "decoder.onnx")
    embedding = sam_runner.embed_images(sam, [sam_image()])[0]
    (sam_dir / "embedding.f16").write_bytes(sam_runner.embedding_to_bytes(embedding.data))
    meta = {"shape": list(embedding.data.shape), "dtype": "float16 little-endian, C order",
            "input_size": list(embedding.input_size), "original_size": list(embedding.original_size),
            "model_key": key}
    (sam_dir / "meta.json").write_text(_lines(meta))
    (sam_dir / "prompts.json").write_text(_lines(sam_expected(sam_dir)))
    (sam_dir / "upscale.json").write_text(_lines(sam_upscale_expected()))
    return [sam_dir / name for name in ("decoder.onnx", "embedding.f16", "meta.json", "prompts.json", "upscale.json")]


if __name__ == "__main__":
    args = sys.argv[1:]
    sam = "--sam" in args
    args = [a for a in args if a != "--sam"]
    target = Path(args[0]) if args else GOLDEN_DIR
    for written_path in write_sam(target) if sam else write_all(target):
        print(f"wrote {written_path} ({written_path.stat().st_size} bytes)")

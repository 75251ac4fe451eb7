"""The SAM decoder parity fixture (tests/golden/sam/, written by `python tests/golden_gen.py --sam`) matches
what the server computes today from its committed decoder and embedding, so it cannot drift silently.

The frontend's parity test feeds the same prompts through its TypeScript `decoder_inputs` port and
onnxruntime-web and compares with these files.
"""

import json
from pathlib import Path

import numpy as np

from labeling.masks.rle import rle_to_mask
from tests import golden_gen
from workers.runners import sam as sam_runner

SAM_DIR = Path(golden_gen.GOLDEN_DIR) / golden_gen.SAM_DIR_NAME


def test_fixture_files_are_consistent_and_small():
    meta = json.loads((SAM_DIR / "meta.json").read_text())
    channels = meta["shape"][0]
    assert meta["shape"] == [channels, 64, 64]
    assert (SAM_DIR / "embedding.f16").stat().st_size == channels * 64 * 64 * 2
    assert meta["original_size"] == list(golden_gen.SAM_IMAGE_SIZE)
    assert meta["original_size"][0] != meta["original_size"][1]  # non-square on purpose
    assert meta["input_size"] == list(sam_runner.preprocess_shape(*meta["original_size"]))
    assert meta["model_key"].startswith("tiny-")
    assert sum(p.stat().st_size for p in SAM_DIR.iterdir()) < 600_000


def test_prompts_match_what_the_server_computes_from_the_committed_files():
    committed = json.loads((SAM_DIR / "prompts.json").read_text())
    fresh = golden_gen.sam_expected(SAM_DIR)
    assert [c["name"] for c in committed["cases"]] == [p["name"] for p in golden_gen.SAM_PROMPTS]
    assert len(committed["cases"]) == len(fresh["cases"])
    for old, new in zip(committed["cases"], fresh["cases"]):
        name = old["name"]
        # decoder_inputs is pure float arithmetic: exact.
        assert old["decoder_inputs"] == new["decoder_inputs"], name
        np.testing.assert_allclose(old["iou_predictions"], new["iou_predictions"], atol=1e-4, err_msg=name)
        assert [m["output"] for m in old["masks"]] == [m["output"] for m in new["masks"]], name
        assert len(old["masks"]) == (3 if old["multimask"] else 1)
        for old_mask, new_mask in zip(old["masks"], new["masks"]):
            a = rle_to_mask(old_mask["rle"])
            b = rle_to_mask(new_mask["rle"])
            assert a.shape == tuple(golden_gen.SAM_IMAGE_SIZE)
            # Only pixels within the near-threshold band may differ between onnxruntime builds.
            assert int((a != b).sum()) <= old_mask["near_threshold"], name
            assert 0 < old_mask["area"] < a.size, f"{name}: a trivial mask makes a weak parity check"
            assert old_mask["area"] == int(a.sum())


def test_upscale_fixture_matches_what_the_server_computes():
    committed = json.loads((SAM_DIR / "upscale.json").read_text())
    fresh = golden_gen.sam_upscale_expected()
    assert [c["name"] for c in committed["cases"]] == [c["name"] for c in golden_gen.SAM_UPSCALE_CASES]
    for old, new in zip(committed["cases"], fresh["cases"]):
        a, b = rle_to_mask(old["rle"]), rle_to_mask(new["rle"])
        assert list(a.shape) == old["size"], old["name"]
        assert int((a != b).sum()) <= old["near_threshold"], old["name"]
        assert 0 < old["area"] < a.size, f"{old['name']}: a trivial mask makes a weak check"
    kinds = {c["pattern"]["kind"] for c in committed["cases"]}
    assert kinds == {"blob", "stripes"}
    # Both stage-2 directions occur: images smaller and larger than the 1024 frame.
    longest = [max(c["size"]) for c in committed["cases"]]
    assert min(longest) < 1024 < max(longest)


def test_upscale_masks_is_sams_postprocess_masks():
    """upscale_masks is Sam.postprocess_masks (the torch code SamPredictor runs) on the same low-res logits."""
    import torch

    from tests.sam_support import make_tiny_sam

    sam = make_tiny_sam(seed=1)
    rng = np.random.default_rng(0)
    low = rng.standard_normal((3, 256, 256)).astype(np.float32)
    for size in [(150, 240), (1500, 1000), (37, 1500)]:
        resized = sam_runner.preprocess_shape(*size)
        expected = sam.postprocess_masks(torch.from_numpy(low)[None], resized, size)[0].numpy()
        np.testing.assert_array_equal(sam_runner.upscale_masks(low, size), expected)


def test_decoder_inputs_contract():
    """The documented steps of decoder_inputs on the fixture's non-square size (150 x 240 → 640 x 1024)."""
    inputs = sam_runner.decoder_inputs([[120.5, 75.5], [3.0, 149.0]], [1, 0], None, (150, 240))
    scale_x, scale_y = 1024 / 240, 640 / 150
    np.testing.assert_array_equal(
        inputs["point_coords"],
        np.array([[[120.5 * scale_x, 75.5 * scale_y], [3.0 * scale_x, 149.0 * scale_y], [0, 0]]], np.float32))
    np.testing.assert_array_equal(inputs["point_labels"], np.array([[1, 0, -1]], np.float32))
    assert inputs["mask_input"].shape == (1, 1, 256, 256) and not inputs["mask_input"].any()
    np.testing.assert_array_equal(inputs["has_mask_input"], [0])
    assert set(inputs) == {"point_coords", "point_labels", "mask_input", "has_mask_input"}
    assert all(v.dtype == np.float32 for v in inputs.values())

    boxed = sam_runner.decoder_inputs([], [], [10, 20, 30, 40], (150, 240))
    np.testing.assert_array_equal(boxed["point_labels"], [[2, 3]])
    np.testing.assert_allclose(boxed["point_coords"], [[[10 * scale_x, 20 * scale_y], [30 * scale_x, 40 * scale_y]]],
                               rtol=1e-7)

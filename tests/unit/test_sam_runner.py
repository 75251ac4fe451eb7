"""workers/runners/sam.py without Django: loading, embeddings, the exported decoder, proposals."""

import os
from collections import OrderedDict

import numpy as np
import onnx
import pytest
import torch
from segment_anything import SamPredictor

from tests.sam_support import make_tiny_sam, save_tiny_checkpoint
from workers.runners import sam as runner


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = save_tiny_checkpoint(tmp_path_factory.mktemp("sam") / "tiny.pt", seed=1)
    return path, runner.load_sam("tiny", path)


@pytest.fixture(scope="module")
def decoder(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "decoder.onnx"
    runner.export_decoder_onnx(tiny[1], path)
    return path


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_loader_refuses_pickled_objects_and_wrong_architectures(tmp_path, tiny):
    pickled = tmp_path / "evil.pt"
    torch.save({"weights": Payload()}, pickled)
    with pytest.raises(runner.SamCheckpointError, match="cannot load"):
        runner.load_sam("tiny", pickled)
    module = tmp_path / "module.pt"
    torch.save(make_tiny_sam(), module)  # a whole pickled model, not a state dict
    with pytest.raises(runner.SamCheckpointError):
        runner.load_sam("tiny", module)
    nested = tmp_path / "nested.pt"
    torch.save({"model": OrderedDict(a=torch.zeros(1))}, nested)
    with pytest.raises(runner.SamCheckpointError, match="not a state dict"):
        runner.load_sam("tiny", nested)
    partial = tmp_path / "partial.pt"
    state = make_tiny_sam().state_dict()
    state.pop(next(iter(state)))
    torch.save(state, partial)
    with pytest.raises(runner.SamCheckpointError, match="does not fit"):
        runner.load_sam("tiny", partial)
    with pytest.raises(runner.SamCheckpointError, match="does not fit"):
        runner.load_sam("vit_b", tiny[0])
    with pytest.raises(runner.SamCheckpointError, match="unknown SAM model type"):
        runner.load_sam("vit_x", tiny[0])
    with pytest.raises(runner.SamCheckpointError, match="does not exist"):
        runner.load_sam("tiny", tmp_path / "missing.pt")


def test_model_key_names_type_and_content(tmp_path):
    a = save_tiny_checkpoint(tmp_path / "a.pt", seed=1)
    b = save_tiny_checkpoint(tmp_path / "b.pt", seed=2)
    key = runner.model_key("tiny", a)
    assert key.startswith("tiny-") and len(key) == len("tiny-") + 12
    assert key == runner.model_key("tiny", tmp_path / "a.pt")
    assert key != runner.model_key("tiny", b)
    assert runner.model_key("vit_b", a) == "vit_b-" + key.split("-")[1]


def test_embeddings_equal_sam_predictor_and_batching_changes_nothing(tiny):
    sam = tiny[1]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (120, 200, 3), dtype=np.uint8), rng.integers(0, 256, (300, 170, 3), np.uint8)]
    batched = runner.embed_images(sam, images)
    predictor = SamPredictor(sam)
    for image, embedding in zip(images, batched):
        alone = runner.embed_images(sam, [image])[0]
        predictor.set_image(image)
        assert embedding.data.dtype == np.float16 and embedding.data.shape == (16, 64, 64)
        assert embedding.original_size == image.shape[:2]
        assert embedding.input_size == predictor.input_size == runner.preprocess_shape(*image.shape[:2])
        np.testing.assert_allclose(embedding.data.astype(np.float32), predictor.features[0].numpy(), atol=5e-3,
                                   rtol=2e-3)
        np.testing.assert_allclose(embedding.data.astype(np.float32), alone.data.astype(np.float32), atol=5e-3)
    assert runner.embedding_from_bytes(runner.embedding_to_bytes(batched[0].data), (16, 64, 64)).tolist() == \
        batched[0].data.tolist()


@pytest.mark.parametrize("size", [(120, 200), (300, 170), (1024, 1024)])
def test_onnx_decoder_equals_torch_for_any_image_size(tiny, decoder, size):
    """One decoder file serves every image size: its low-res masks, upscaled for the image, are SAM's masks."""
    sam = tiny[1]
    height, width = size
    image = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    embedding = runner.embed_images(sam, [image])[0]
    session = runner.decoder_session(decoder.read_bytes())
    predictor = SamPredictor(sam)
    predictor.features = torch.as_tensor(embedding.data.astype(np.float32))[None]
    predictor.original_size, predictor.input_size, predictor.is_image_set = size, embedding.input_size, True
    points = np.array([[width * 0.3, height * 0.6], [width * 0.7, height * 0.2]])
    for box in (None, np.array([width * 0.1, height * 0.1, width * 0.8, height * 0.9])):
        inputs = runner.decoder_inputs(points.tolist(), [1, 0], None if box is None else box.tolist(), size)
        low_res, scores = runner.decode(session, embedding.data, inputs)
        assert low_res.shape == (4, 256, 256)
        masks = runner.upscale_masks(low_res, size)
        assert masks.shape == (4, height, width)
        logits, torch_scores, _ = predictor.predict(points, np.array([1, 0]), box=box, multimask_output=True,
                                                    return_logits=True)
        np.testing.assert_allclose(scores[1:], torch_scores, atol=1e-4)
        np.testing.assert_allclose(masks[1:], logits, atol=1e-3)
        assert ((masks[1:] > 0) != (logits > 0)).sum() <= 0.001 * masks[1:].size


def test_export_uses_channels_last_norms_and_leaves_the_model_as_it_was(tiny, decoder):
    """LayerNorm2d is exported as LayerNormalization (onnxruntime runs ReduceMean chains unfused), only while
    exporting: the torch model keeps SAM's own module, which proposals use in the same process."""
    from segment_anything.modeling.common import LayerNorm2d

    sam = tiny[1]
    ops = [node.op_type for node in onnx.load(decoder).graph.node]
    assert "ReduceMean" not in ops and "LayerNormalization" in ops
    assert isinstance(sam.mask_decoder.output_upscaling[1], LayerNorm2d)
    assert sum(isinstance(m, LayerNorm2d) for m in sam.prompt_encoder.mask_downscaling) == 2


def test_quantized_decoder_is_uint8_and_agrees_roughly(tiny, decoder, tmp_path):
    quantized = tmp_path / "decoder.quant.onnx"
    runner.export_decoder_onnx(tiny[1], quantized, quantize=True)
    ops = {node.op_type for node in onnx.load(quantized).graph.node}
    assert "DynamicQuantizeLinear" in ops or "MatMulInteger" in ops
    embedding = np.random.default_rng(5).standard_normal((16, 64, 64)).astype(np.float16)
    inputs = runner.decoder_inputs([[50.5, 40.5]], [1], None, (100, 160))
    fp32_masks, _ = runner.decode(runner.decoder_session(decoder.read_bytes()), embedding, inputs)
    q_masks, _ = runner.decode(runner.decoder_session(quantized.read_bytes()), embedding, inputs)
    assert q_masks.shape == fp32_masks.shape == (4, 256, 256)
    agreement = ((q_masks > 0) == (fp32_masks > 0)).mean()
    assert agreement > 0.9, agreement


def test_pick_masks_follows_sam():
    scores = [0.1, 0.5, 0.9, 0.7]
    assert runner.pick_masks(scores, multimask=True, num_points=2) == [2, 3, 1]
    assert runner.pick_masks(scores, multimask=False, num_points=2) == [2]  # one click + padding: best of 1-3
    assert runner.pick_masks(scores, multimask=False, num_points=3) == [0]  # several prompts: single-mask token


def test_proposals_from_a_stored_embedding(tiny):
    sam = tiny[1]
    image = np.zeros((90, 140, 3), dtype=np.uint8)
    image[20:70, 30:100] = [200, 50, 50]
    embedding = runner.embed_images(sam, [image])[0]
    loose = runner.ProposalSettings(points_per_side=4, points_per_batch=8, pred_iou_thresh=0.0,
                                    stability_score_thresh=0.0)
    seen = []
    masks = runner.propose_masks(sam, embedding, settings=loose, progress=lambda f: seen.append(f) or True)
    assert seen == [0.5, 1.0]
    assert masks and [m.score for m in masks] == sorted((m.score for m in masks), reverse=True)
    for mask in masks:
        assert mask.rle["size"] == [90, 140] and 0 < mask.area
    with pytest.raises(runner.ProposalsCancelled):
        runner.propose_masks(sam, embedding, settings=loose, progress=lambda f: False)

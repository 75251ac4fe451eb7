"""Segment Anything on the server: loading, image embeddings, the ONNX prompt decoder, proposals. No Django.

The pieces and their contracts
------------------------------
* ``load_sam(model_type, checkpoint_path, device)`` builds one of ``MODEL_TYPES`` with the real
  ``segment_anything`` classes and loads a *state dict* with ``torch.load(weights_only=True)`` (strict), so a
  pickled object is refused and no code from the checkpoint ever runs.
* ``model_key(model_type, checkpoint_path)`` = ``"<type>-<first 12 hex of the checkpoint's sha256>"``; it names
  embeddings and decoders in storage, so a new checkpoint never reuses old embeddings.
* ``embed_images(sam, images, device)`` runs the image encoder (batched) exactly as ``SamPredictor.set_image``
  does and returns float16 embeddings ``[C, 64, 64]`` with ``input_size`` (the longest-side resize to 1024,
  before padding) and ``original_size``, both ``(h, w)``.
* ``decoder_inputs(...)`` builds the ONNX decoder's inputs from prompts in image coordinates. The browser's
  TypeScript port must stay line-for-line equal (tests/golden/sam/ is the shared fixture).
* ``export_decoder_onnx(sam, path, quantize=...)`` writes the prompt decoder as ONNX (SAM's mask decoder
  with ``SamOnnxModel``'s prompt embedding, format ``DECODER_FORMAT``). Inputs::

      image_embeddings  float32 [1, C, 64, 64]
      point_coords      float32 [1, N, 2]   (x, y) in the 1024 frame (see decoder_inputs)
      point_labels      float32 [1, N]      1 positive, 0 negative, 2/3 box corners, -1 padding point
      mask_input        float32 [1, 1, 256, 256]
      has_mask_input    float32 [1]

  Outputs: ``low_res_masks`` float32 [1, 4, 256, 256] (logits in the padded 1024x1024 frame) and
  ``iou_predictions`` float32 [1, 4]. Output 0 is SAM's single-mask token, outputs 1-3 its three multimask
  answers; ``pick_masks`` says which to show. The graph stops before SAM's mask post-processing (format 1
  upscaled all four outputs to the image size inside the graph: a fifth of a ViT-B decode natively, for
  masks of which one is shown); ``upscale_masks`` does it for the chosen outputs only, and the browser's
  TypeScript port (frontend/src/core/samUpscale.ts) does the same arithmetic.
* ``decode(session, embedding, inputs)`` runs the decoder with onnxruntime (server decode endpoint).
* ``upscale_masks(low_res, original_size)`` is ``Sam.postprocess_masks``: bilinear to 1024x1024, crop to the
  resized image, bilinear to the image size (align_corners=False); a pixel is in the mask when its logit > 0.
* ``propose_masks(sam, embedding, ...)`` is "segment everything" from a stored embedding: SAM's automatic mask
  generator's point grid, filters and NMS, with only the prompt decoder running (the encoder never reruns).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from labeling.masks.rle import mask_to_rle

EMBEDDING_SIDE = 64  # the encoder's output grid: [C, 64, 64] for every model type
TARGET_LENGTH = 1024  # the encoder's input side; images are resized so their longest side is this
LOW_RES_SIDE = 256  # mask_input / low_res_masks side
# The decoder file's inputs and outputs (module docstring). Part of its storage name and URL, so a decoder of
# another format, stored or in a browser's cache, is never used with this code.
DECODER_FORMAT = 2
MAX_PROMPT_POINTS = 64


class SamCheckpointError(ValueError):
    """The checkpoint file cannot be used (not a state dict, wrong architecture, unreadable)."""


# ---- architectures ----


def _build_tiny() -> nn.Module:
    """A test-size SAM from the real classes (CI runs every code path with it; never useful for labeling).

    Encoder: one windowed-attention ViT block of width 32 (14² windows: fast on a CPU); decoder width
    ``TINY_CHANNELS`` (16), one two-way transformer layer. Embeddings are [16, 64, 64] (128 KiB as float16);
    the decoder ONNX file is ~200 KB, mostly graph.
    """
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    channels = TINY_CHANNELS
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=1, embed_dim=32, img_size=TARGET_LENGTH, mlp_ratio=4, norm_layer=partial(nn.LayerNorm, eps=1e-6),
            num_heads=2, patch_size=16, qkv_bias=True, use_rel_pos=True, global_attn_indexes=(), window_size=14,
            out_chans=channels,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=channels, image_embedding_size=(EMBEDDING_SIDE, EMBEDDING_SIDE),
            input_image_size=(TARGET_LENGTH, TARGET_LENGTH), mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=1, embedding_dim=channels, mlp_dim=64, num_heads=2),
            transformer_dim=channels, iou_head_depth=1, iou_head_hidden_dim=16,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )


TINY_CHANNELS = 16


def _registry_builder(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from segment_anything import sam_model_registry

        return sam_model_registry[name](checkpoint=None)  # architecture only; weights come from load_sam

    return build


MODEL_TYPES: dict[str, Callable[[], nn.Module]] = {
    "vit_h": _registry_builder("vit_h"),
    "vit_l": _registry_builder("vit_l"),
    "vit_b": _registry_builder("vit_b"),
    "tiny": _build_tiny,
}


def build_sam(model_type: str) -> nn.Module:
    """The architecture with random weights (tests and benchmarks save its state dict as a checkpoint)."""
    if model_type not in MODEL_TYPES:
        raise SamCheckpointError(f"unknown SAM model type {model_type!r}; use one of {', '.join(MODEL_TYPES)}")
    return MODEL_TYPES[model_type]()


def load_sam(model_type: str, checkpoint_path: str | os.PathLike[str], device: str = "cpu") -> nn.Module:
    """Build `model_type` and load its weights from a state-dict checkpoint (strict), in eval mode on `device`."""
    sam = build_sam(model_type)
    path = Path(checkpoint_path)
    if not path.is_file():
        raise SamCheckpointError(f"SAM checkpoint {str(path)!r} does not exist")
    try:
        # weights_only: tensors and plain containers only; a pickled object (code) is refused.
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable or unsafe file is one error to the admin
        raise SamCheckpointError(f"cannot load SAM checkpoint {str(path)!r}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SamCheckpointError(f"SAM checkpoint {str(path)!r} is not a state dict of tensors")
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise SamCheckpointError(f"SAM checkpoint {str(path)!r} does not fit model type {model_type!r}: "
                                 f"{str(exc)[:500]}") from exc
    return sam.to(device).eval()


_KEY_CACHE: dict[tuple[str, int, int], str] = {}


def checkpoint_sha256(checkpoint_path: str | os.PathLike[str]) -> str:
    """sha256 of the checkpoint file, cached by (path, size, mtime) so it is read once per process."""
    path = Path(checkpoint_path).resolve()
    stat = path.stat()
    cache_key = (str(path), stat.st_size, stat.st_mtime_ns)
    if cache_key not in _KEY_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1024 * 1024), b""):
                digest.update(chunk)
        _KEY_CACHE[cache_key] = digest.hexdigest()
    return _KEY_CACHE[cache_key]


def model_key(model_type: str, checkpoint_path: str | os.PathLike[str]) -> str:
    """``"<model type>-<12 hex of the checkpoint sha256>"``: safe in storage paths, URLs and headers."""
    return f"{model_type}-{checkpoint_sha256(checkpoint_path)[:12]}"


# ---- image embeddings ----


def preprocess_shape(height: int, width: int, target_length: int = TARGET_LENGTH) -> tuple[int, int]:
    """(h, w) after resizing so the longest side is `target_length` (SAM's ResizeLongestSide rounding)."""
    scale = target_length * 1.0 / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


@dataclass(frozen=True)
class Embedding:
    data: np.ndarray  # float16 [C, 64, 64]
    input_size: tuple[int, int]  # (h, w) after the longest-side resize, before padding
    original_size: tuple[int, int]  # (h, w) of the image


def resize_for_encoder(image: np.ndarray, original_size: tuple[int, int] | None = None) -> np.ndarray:
    """HxWx3 uint8 → the encoder's input size, exactly as SamPredictor.set_image (ResizeLongestSide.apply_image:
    torchvision's PIL resize, bilinear).

    `original_size` lets callers pass an already reduced copy of a huge image: the target size is computed
    from the original, so the embedding's input_size is the same as for the full image.
    """
    from torchvision.transforms.functional import resize, to_pil_image

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"images must be HxWx3 uint8, got {image.dtype} {image.shape}")
    height, width = original_size or image.shape[:2]
    target = preprocess_shape(height, width)
    return np.array(resize(to_pil_image(image), list(target)))


@torch.no_grad()
def embed_images(
    sam: nn.Module,
    images: Sequence[np.ndarray],
    device: str = "cpu",
    *,
    original_sizes: Sequence[tuple[int, int] | None] | None = None,
) -> list[Embedding]:
    """Image-encoder outputs for HxWx3 uint8 images, as one batch (callers choose the batch size)."""
    if not images:
        return []
    sizes = list(original_sizes) if original_sizes is not None else [None] * len(images)
    batch, metas = [], []
    for image, size in zip(images, sizes):
        resized = resize_for_encoder(image, size)
        tensor = torch.as_tensor(resized, device=device).permute(2, 0, 1).contiguous()
        batch.append(sam.preprocess(tensor[None].float())[0])  # normalise and pad to 1024², as set_torch_image
        metas.append((tuple(resized.shape[:2]), tuple(size or image.shape[:2])))
    features = sam.image_encoder(torch.stack(batch))
    out = features.float().cpu().numpy().astype(np.float16)
    return [
        Embedding(data=np.ascontiguousarray(out[i]), input_size=(int(m[0][0]), int(m[0][1])),
                  original_size=(int(m[1][0]), int(m[1][1])))
        for i, m in enumerate(metas)
    ]


def embedding_to_bytes(data: np.ndarray) -> bytes:
    """Little-endian float16, C order: the stored format and the API's response body."""
    return np.ascontiguousarray(data, dtype="<f2").tobytes()


def embedding_from_bytes(data: bytes, shape: Sequence[int]) -> np.ndarray:
    return np.frombuffer(data, dtype="<f2").reshape(tuple(shape))


# ---- decoder inputs (the contract shared with the browser) ----


def decoder_inputs(
    points: Sequence[Sequence[float]],
    labels: Sequence[int],
    box: Sequence[float] | None,
    original_size: Sequence[int],
    target_length: int = TARGET_LENGTH,
) -> dict[str, np.ndarray]:
    """The ONNX decoder's inputs for prompts in image coordinates (the SAM demo's ``modelData``).

    Line for line (the TypeScript port does exactly this, in float64 until the final float32 arrays):

    1. ``[h, w] = original_size``; ``scale = target_length / max(h, w)``;
       ``new_h = floor(h * scale + 0.5)``, ``new_w = floor(w * scale + 0.5)`` (ResizeLongestSide).
    2. Coordinates are continuous image coordinates (a click on pixel column i, row j is ``(i + 0.5, j + 0.5)``).
       Each point ``(x, y)`` becomes ``(x * new_w / w, y * new_h / h)``; SAM's own prompt encoder adds its
       half-pixel shift in the 1024 frame, inside the decoder.
    3. Points keep their labels (1 positive, 0 negative), in the order given.
    4. A box ``[x0, y0, x1, y1]`` appends its two corners ``(x0, y0)`` label 2 and ``(x1, y1)`` label 3,
       transformed as in 2. Without a box a padding point ``(0, 0)`` with label -1 is appended.
    5. ``point_coords`` float32 [1, N, 2], ``point_labels`` float32 [1, N], ``mask_input`` float32 zeros
       [1, 1, 256, 256], ``has_mask_input`` float32 [0].
    """
    height, width = int(original_size[0]), int(original_size[1])
    new_h, new_w = preprocess_shape(height, width, target_length)
    coords = [[float(x), float(y)] for x, y in points]
    point_labels = [float(v) for v in labels]
    if box is not None:
        x0, y0, x1, y1 = (float(v) for v in box)
        coords += [[x0, y0], [x1, y1]]
        point_labels += [2.0, 3.0]
    else:
        coords.append([0.0, 0.0])
        point_labels.append(-1.0)
    scaled = np.array(coords, dtype=np.float64).reshape(-1, 2) * np.array([new_w / width, new_h / height])
    return {
        "point_coords": scaled.astype(np.float32)[None],
        "point_labels": np.array(point_labels, dtype=np.float32)[None],
        "mask_input": np.zeros((1, 1, LOW_RES_SIDE, LOW_RES_SIDE), dtype=np.float32),
        "has_mask_input": np.zeros(1, dtype=np.float32),
    }


def pick_masks(scores: Sequence[float], *, multimask: bool, num_points: int) -> list[int]:
    """Which of the decoder's 4 outputs to show, by SAM's own rules (the TS port does the same).

    ``multimask``: outputs 1, 2, 3 (SAM's ``multimask_output=True``), best score first (ties: lower index).
    Otherwise one output, SamOnnxModel's ``select_masks`` rule as in the SAM web demo: with more than 2 points
    in ``point_coords`` (counting box corners and the padding point) output 0, the single-mask token, else the
    best-scoring of outputs 1-3 (a lone click is ambiguous, so SAM's multimask answers are better there).
    """
    scores = [float(s) for s in scores]
    multi = sorted(range(1, len(scores)), key=lambda i: (-scores[i], i))
    if multimask:
        return multi
    return [0] if num_points > 2 else multi[:1]


# ---- ONNX decoder ----


class _LowResOnnxModel(nn.Module):
    """SamOnnxModel's prompt embedding and SAM's mask decoder, without the mask post-processing: the low-res
    logits of all four outputs and their predicted IoU (format 2, see the module docstring)."""

    def __init__(self, sam: nn.Module):
        super().__init__()
        from segment_anything.utils.onnx import SamOnnxModel

        self.inner = SamOnnxModel(sam, return_single_mask=False)

    def forward(self, image_embeddings, point_coords, point_labels, mask_input, has_mask_input):
        inner = self.inner
        masks, scores = inner.model.mask_decoder.predict_masks(
            image_embeddings=image_embeddings,
            image_pe=inner.model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=inner._embed_points(point_coords, point_labels),
            dense_prompt_embeddings=inner._embed_masks(mask_input, has_mask_input),
        )
        return masks, scores


class _ChannelsLastLayerNorm(nn.Module):
    """SAM's LayerNorm2d (over the channels of NCHW) as one ONNX LayerNormalization on channels-last data.

    LayerNorm2d exports as ReduceMean/Sub/Pow/ReduceMean/Sqrt/Div over the strided channel axis, which
    onnxruntime runs unfused (7 ms of a 75 ms ViT-B decode on one core here); transposing around a
    LayerNormalization gives the same values (to 1e-7) in less time (75 -> 67 ms).
    """

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.weight, self.bias, self.eps = norm.weight, norm.bias, norm.eps
        self.channels = int(norm.weight.shape[0])  # a constant for the tracer

    def forward(self, x):
        y = F.layer_norm(x.permute(0, 2, 3, 1), (self.channels,), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


@contextmanager
def _channels_last_norms(sam: nn.Module):
    """While exporting, the decoder's LayerNorm2d modules are _ChannelsLastLayerNorm (restored afterwards: the
    same model keeps serving proposals in this process)."""
    from segment_anything.modeling.common import LayerNorm2d

    swapped = []
    for sequence in (sam.mask_decoder.output_upscaling, sam.prompt_encoder.mask_downscaling):
        for i, module in enumerate(sequence):
            if isinstance(module, LayerNorm2d):
                sequence[i] = _ChannelsLastLayerNorm(module)
                swapped.append((sequence, i, module))
    try:
        yield
    finally:
        for sequence, i, module in swapped:
            sequence[i] = module


def export_decoder_onnx(sam: nn.Module, path: str | os.PathLike[str], *, quantize: bool = False) -> None:
    """Write the prompt decoder (see the module docstring for inputs/outputs); `quantize` writes the uint8
    dynamically quantised variant (onnxruntime.quantization.quantize_dynamic) instead of float32."""
    import warnings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = _LowResOnnxModel(sam.to("cpu")).eval()
    channels = sam.prompt_encoder.embed_dim
    dummy = {
        "image_embeddings": torch.randn(1, channels, EMBEDDING_SIDE, EMBEDDING_SIDE),
        "point_coords": torch.randint(0, TARGET_LENGTH, (1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(0, 4, (1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, LOW_RES_SIDE, LOW_RES_SIDE),
        "has_mask_input": torch.tensor([1], dtype=torch.float),
    }
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "decoder.onnx"
        with warnings.catch_warnings(), _channels_last_norms(sam):
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=UserWarning)
            torch.onnx.export(
                model, tuple(dummy.values()), str(fp32), export_params=True, verbose=False, opset_version=17,
                do_constant_folding=True, input_names=list(dummy), output_names=["low_res_masks", "iou_predictions"],
                dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
                dynamo=False,
            )
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            out = Path(tmp) / "decoder.quant.onnx"
            quantize_dynamic(model_input=str(fp32), model_output=str(out), per_channel=False, reduce_range=False,
                             weight_type=QuantType.QUInt8)
        else:
            out = fp32
        tmp_target = path.with_name(path.name + ".part")
        tmp_target.write_bytes(out.read_bytes())
        os.replace(tmp_target, path)


def decoder_session(model_bytes: bytes, *, threads: int = 1):
    """An onnxruntime CPU session for the decoder (the web process caches one per model)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(int(threads), 1)
    options.inter_op_num_threads = 1
    # No busy-waiting between ops: in a web process on few cores a spinning thread takes the core another
    # request (or the browser on the same machine) needs; with a busy core 2 spinning threads took 137 ms
    # per ViT-B decode against 89 ms without spinning and 82 ms with 1 thread.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])


def decode(session, embedding: np.ndarray, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Run the decoder: returns (low-res mask logits [4, 256, 256] float32, iou predictions [4] float32)."""
    feeds = dict(inputs)
    feeds["image_embeddings"] = np.ascontiguousarray(embedding, dtype=np.float32)[None]
    low_res, scores = session.run(["low_res_masks", "iou_predictions"], feeds)
    return low_res[0], scores[0]


@torch.no_grad()
def upscale_masks(low_res: np.ndarray, original_size: Sequence[int]) -> np.ndarray:
    """Logits [K, h, w] float32 at the image size from low-res logits [K, 256, 256]: ``Sam.postprocess_masks``
    (bilinear to the padded 1024 frame, crop to the resized image, bilinear to `original_size`)."""
    height, width = int(original_size[0]), int(original_size[1])
    resized_h, resized_w = preprocess_shape(height, width)
    masks = torch.as_tensor(np.ascontiguousarray(low_res, dtype=np.float32))[None]
    masks = F.interpolate(masks, (TARGET_LENGTH, TARGET_LENGTH), mode="bilinear", align_corners=False)
    masks = masks[..., :resized_h, :resized_w]
    return F.interpolate(masks, (height, width), mode="bilinear", align_corners=False)[0].numpy()


@dataclass(frozen=True)
class MaskPrediction:
    rle: dict[str, Any]  # COCO RLE {size: [h, w], counts: str}
    bbox: list[int]  # [x, y, w, h]
    area: int
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"rle": self.rle, "bbox": self.bbox, "area": self.area, "score": self.score}


def mask_prediction(mask: np.ndarray, score: float) -> MaskPrediction:
    """A boolean (h, w) mask as RLE + area + bbox (xywh; zeros when empty)."""
    area = int(mask.sum())
    if area:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        bbox = [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]
    else:
        bbox = [0, 0, 0, 0]
    return MaskPrediction(rle=mask_to_rle(mask), bbox=bbox, area=area, score=float(score))


def predict_masks(session, embedding: np.ndarray, inputs: dict[str, np.ndarray], original_size: Sequence[int], *,
                  multimask: bool) -> list[MaskPrediction]:
    """Server decode: the chosen outputs (``pick_masks``) upscaled to the image and thresholded at logit > 0."""
    low_res, scores = decode(session, embedding, inputs)
    chosen = pick_masks(scores, multimask=multimask, num_points=inputs["point_coords"].shape[1])
    logits = upscale_masks(low_res[chosen], original_size)
    return [mask_prediction(logits[k] > 0.0, float(scores[i])) for k, i in enumerate(chosen)]


# ---- segment everything ----


@dataclass(frozen=True)
class ProposalSettings:
    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    box_nms_thresh: float = 0.7
    max_proposals: int = 500


@torch.no_grad()
def propose_masks(
    sam: nn.Module,
    embedding: Embedding,
    *,
    settings: ProposalSettings = ProposalSettings(),
    device: str = "cpu",
    progress: Callable[[float], bool | None] | None = None,
) -> list[MaskPrediction]:
    """"Segment everything" from a stored embedding: SamAutomaticMaskGenerator's single-crop pipeline (point
    grid → 3 masks per point → predicted-IoU and stability filters → box NMS), decoder only.

    `progress(fraction)` returning False stops early (raises ``ProposalsCancelled``).
    """
    from segment_anything import SamAutomaticMaskGenerator
    from segment_anything.utils.amg import MaskData, batch_iterator, rle_to_mask
    from torchvision.ops.boxes import batched_nms

    generator = SamAutomaticMaskGenerator(
        sam, points_per_side=settings.points_per_side, points_per_batch=settings.points_per_batch,
        pred_iou_thresh=settings.pred_iou_thresh, stability_score_thresh=settings.stability_score_thresh,
        box_nms_thresh=settings.box_nms_thresh, crop_n_layers=0, output_mode="uncompressed_rle",
    )
    predictor = generator.predictor
    # What SamPredictor.set_image would leave behind, from the stored embedding instead of the encoder.
    predictor.reset_image()
    predictor.features = torch.as_tensor(embedding.data.astype(np.float32), device=device)[None]
    predictor.original_size = tuple(embedding.original_size)
    predictor.input_size = tuple(embedding.input_size)
    predictor.is_image_set = True

    height, width = embedding.original_size
    crop_box = [0, 0, width, height]
    points_for_image = generator.point_grids[0] * np.array([[width, height]])
    batches = list(batch_iterator(settings.points_per_batch, points_for_image))
    data = MaskData()
    for index, (points,) in enumerate(batches):
        # A SAM internal, pinned with segment-anything==1.0: the per-batch decode and filters of the generator.
        data.cat(generator._process_batch(points, (height, width), crop_box, (height, width)))
        if progress is not None and progress((index + 1) / len(batches)) is False:
            raise ProposalsCancelled()
    predictor.reset_image()
    if len(data["iou_preds"]) == 0:
        return []
    keep = batched_nms(data["boxes"].float(), data["iou_preds"], torch.zeros_like(data["boxes"][:, 0]),
                       iou_threshold=settings.box_nms_thresh)
    data.filter(keep)
    data.to_numpy()
    order = np.argsort(-data["iou_preds"], kind="stable")[: settings.max_proposals]
    return [mask_prediction(rle_to_mask(data["rles"][i]).astype(bool), float(data["iou_preds"][i])) for i in order]


class ProposalsCancelled(Exception):
    """The progress callback asked to stop."""

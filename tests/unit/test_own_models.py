"""Own models, pure core: manifest validation, file checks (no pickles), pre/postprocessing and real tiny
TorchScript and ONNX models of every output kind."""

import io
import zipfile

import numpy as np
import pytest
import torch

from tests.own_model_fixtures import (
    FailingNet,
    HogNet,
    InstanceNet,
    PanopticNet,
    SemanticNet,
    blob_image,
    manifest,
    onnx_semantic_bytes,
    pickle_bytes,
    torchscript_bytes,
)
from workers.runners.model_manifest import ManifestError, parse_manifest
from workers.runners.own_models import (
    ModelFileError,
    ModelOutputError,
    ModelRunError,
    OwnModelRunner,
    Placement,
    inspect_model_file,
    instances_to_prediction,
    preprocess,
    semantic_to_prediction,
    upsample_rows,
)

CLASSES = {"car": "thing", "road": "stuff", "sky": "stuff"}


# ---------------------------------------------------------------- manifest


def test_manifest_defaults_and_normalised_json():
    parsed = parse_manifest({"input_size": [32, 48], "output": "semantic_logits", "class_map": ["bg", "car"]},
                            classes={"bg": "stuff", "car": "thing"})
    assert parsed.input_size == (32, 48)
    assert parsed.resize == "stretch" and parsed.channels == "RGB" and parsed.activation == "softmax"
    assert parsed.normalize.scale == 255.0 and parsed.normalize.std == (1.0, 1.0, 1.0)
    assert parsed.class_map == {0: "bg", 1: "car"}
    stored = parsed.to_json()
    assert stored["class_map"] == {"0": "bg", "1": "car"}
    assert parse_manifest(stored, classes={"bg": "stuff", "car": "thing"}) == parsed


def test_class_map_list_with_nulls_skips_unmapped_indices():
    parsed = parse_manifest({"input_size": [8, 8], "output": "panoptic", "class_map": [None, "car", None, "road"]},
                            classes=CLASSES)
    assert parsed.class_map == {1: "car", 3: "road"}
    assert parsed.class_names == ["car", "road"]


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"input_size": [0, 16]}, "input_size", "1..8192"),
        ({"input_size": [16]}, "input_size", "[height, width]"),
        ({"input_size": [16.5, 16]}, "input_size", "whole pixels"),
        ({"output": "boxes"}, "output", "must be one of"),
        ({"class_map": {}}, "class_map", "must map"),
        ({"class_map": {"1": "truck"}}, "class_map", "does not have: truck"),
        ({"class_map": {"one": "car"}}, "class_map", "class indices"),
        ({"class_map": {"1": None}}, "class_map", "maps no model class"),
        ({"class_map": {"1": 5}}, "class_map", "project class name"),
        ({"normalize": {"std": [0, 1, 1]}}, "normalize", "greater than 0"),
        ({"normalize": {"mean": [0, 1]}}, "normalize", "3 numbers"),
        ({"normalize": {"scale": 0}}, "normalize", "scale"),
        ({"normalize": {"sdt": [1, 1, 1]}}, "normalize", "unknown keys"),
        ({"resize": "crop"}, "resize", "must be one of"),
        ({"channels": "RGBA"}, "channels", "must be one of"),
        ({"score_threshold": 1.5}, "score_threshold", "0..1"),
        ({"score_threshold": "high"}, "score_threshold", "finite number"),
        ({"output_names": {"boxes": "b"}}, "output_names", "no role 'boxes'"),
        ({"inputsize": [1, 1]}, "inputsize", "unknown manifest keys"),
    ],
)
def test_manifest_violations_name_the_field(change, field, fragment):
    raw = manifest("semantic_logits") | change
    with pytest.raises(ManifestError) as caught:
        parse_manifest(raw, classes=CLASSES)
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_manifest_must_be_an_object_with_required_keys():
    with pytest.raises(ManifestError, match="JSON object"):
        parse_manifest([1, 2], classes=CLASSES)
    for key in ("input_size", "output", "class_map"):
        raw = manifest("semantic_logits")
        del raw[key]
        with pytest.raises(ManifestError, match=key):
            parse_manifest(raw, classes=CLASSES)


# ---------------------------------------------------------------- files: never a pickle


def test_torch_save_checkpoints_and_pickles_are_refused_before_torch_sees_them(monkeypatch):
    def no_load(*args, **kwargs):
        raise AssertionError("torch.jit.load must not be called on a refused file")

    monkeypatch.setattr(torch.jit, "load", no_load)
    for data in (pickle_bytes(SemanticNet()), pickle_bytes(SemanticNet().state_dict())):
        assert inspect_model_file(data) == "torchscript"  # a zip: looks like TorchScript until checked
        with pytest.raises(ModelFileError, match="torch.save checkpoint"):
            OwnModelRunner.load(data=data, format="torchscript")
    legacy = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(ModelFileError, match="Python pickle"):
        inspect_model_file(legacy.getvalue())


def test_garbage_and_foreign_zips_are_refused():
    with pytest.raises(ModelFileError, match="does not parse"):
        OwnModelRunner.load(data=b"\x00garbage" * 100, format=inspect_model_file(b"\x00garbage" * 100))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("a/readme.txt", "hello")
        archive.writestr("b/readme.txt", "hello")
    with pytest.raises(ModelFileError, match="one top-level folder"):
        OwnModelRunner.load(data=buf.getvalue(), format="torchscript")


def test_formats_are_detected_from_content():
    assert inspect_model_file(torchscript_bytes(SemanticNet())) == "torchscript"
    assert inspect_model_file(onnx_semantic_bytes()) == "onnx"


# ---------------------------------------------------------------- preprocessing and resampling


def test_preprocess_normalises_and_letterboxes():
    rgb = np.full((10, 40, 3), 255, dtype=np.uint8)
    parsed = parse_manifest(manifest("semantic_logits", input_size=[16, 16], resize="letterbox",
                                     normalize={"scale": 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}),
                            classes=CLASSES)
    batch, placement = preprocess(rgb, parsed)
    assert batch.shape == (1, 3, 16, 16) and batch.dtype == np.float32
    assert placement.content == (4, 16)  # 10x40 fits 16 wide -> 4 rows
    assert np.allclose(batch[0, :, :4, :], 1.0)  # (1 - 0.5) / 0.5
    assert np.allclose(batch[0, :, 4:, :], 0.0)  # padding is the mean


def test_bgr_swaps_channels():
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    parsed = parse_manifest(manifest("semantic_logits", input_size=[4, 4], channels="BGR"), classes=CLASSES)
    batch, _ = preprocess(rgb, parsed)
    assert np.allclose(batch[0, 2], 1.0) and np.allclose(batch[0, 0], 0.0)


def test_upsample_matches_torch_bilinear():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(3, 5, 7)).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.from_numpy(scores)[None], size=(23, 31), mode="bilinear",
                                               align_corners=False)[0].numpy()
    rows = upsample_rows(scores, (23, 31))
    assert np.allclose(np.concatenate([rows(0, 10), rows(10, 23)], axis=1), expected, atol=1e-5)


# ---------------------------------------------------------------- postprocessing rules


def test_semantic_into_thing_class_is_one_instance_per_component_and_stuff_one_segment():
    parsed = parse_manifest(manifest("semantic_logits", input_size=[48, 64]), classes=CLASSES)
    runner = OwnModelRunner.load(data=torchscript_bytes(SemanticNet()), format="torchscript")
    rgb = blob_image()
    prediction = runner.predict(rgb, manifest=parsed, class_kinds=CLASSES)
    by_class = {}
    for segment in prediction.segments:
        by_class.setdefault(segment.class_name, []).append(segment)
    assert sorted(s.instance for s in by_class["car"]) == [1, 2]
    assert [s.instance for s in by_class["road"]] == [None]
    label_map = prediction.label_map
    assert label_map.dtype == np.uint32 and label_map.shape == (48, 64)
    cars = {s.segment_id for s in by_class["car"]}
    assert label_map[10, 10] in cars and label_map[10, 48] in cars and label_map[10, 10] != label_map[10, 48]
    assert label_map[40, 30] == by_class["road"][0].segment_id
    assert label_map[25, 30] == 0  # black: class 0 is unmapped background
    # Input size equals the image: the map is exact.
    assert (label_map == by_class["road"][0].segment_id).sum() == 16 * 64
    assert all(0.99 < s.score <= 1.0 for s in prediction.segments)


def test_semantic_upsampled_from_a_smaller_input_keeps_the_layout():
    parsed = parse_manifest(manifest("semantic_logits", input_size=[24, 32]), classes=CLASSES)
    runner = OwnModelRunner.load(data=torchscript_bytes(SemanticNet()), format="torchscript")
    prediction = runner.predict(blob_image(), manifest=parsed, class_kinds=CLASSES)
    assert len([s for s in prediction.segments if s.class_name == "car"]) == 2
    assert prediction.label_map.shape == (48, 64)
    assert prediction.label_map[12, 12] != 0 and prediction.label_map[44, 5] != 0


def test_instances_higher_score_wins_low_scores_dropped_and_instances_renumbered():
    size = (4, 6)
    masks = np.zeros((3, 4, 6), dtype=np.float32)
    masks[0, :, :4] = 1.0  # car, score 0.6
    masks[1, :, 2:] = 1.0  # car, score 0.9: wins the overlap (columns 2-3)
    masks[2, :, :] = 1.0  # road, score 0.3: below the threshold
    parsed = parse_manifest(manifest("instance_masks"), classes=CLASSES)
    prediction = instances_to_prediction(
        masks, np.array([0.6, 0.9, 0.3]), np.array([1, 1, 2]), placement=Placement((4, 6), (4, 6)), size=size,
        manifest=parsed, class_kinds=CLASSES,
    )
    assert [(s.class_name, s.instance, round(s.score, 2)) for s in prediction.segments] == [
        ("car", 1, 0.9), ("car", 2, 0.6)
    ]
    best = prediction.segments[0].segment_id
    assert (prediction.label_map[:, 2:] == best).all()
    assert (prediction.label_map[:, :2] == prediction.segments[1].segment_id).all()


def test_instance_fully_covered_by_a_better_one_disappears():
    masks = np.ones((2, 3, 3), dtype=np.float32)
    parsed = parse_manifest(manifest("instance_masks"), classes=CLASSES)
    prediction = instances_to_prediction(
        masks, np.array([0.7, 0.8]), np.array([1, 1]), placement=Placement((3, 3), (3, 3)), size=(3, 3),
        manifest=parsed, class_kinds=CLASSES,
    )
    assert [(s.segment_id, s.instance) for s in prediction.segments] == [(1, 1)]
    assert (prediction.label_map == 1).all()


def test_stuff_instances_merge_into_one_segment():
    masks = np.zeros((2, 2, 4), dtype=np.float32)
    masks[0, :, :2] = 1
    masks[1, :, 2:] = 1
    parsed = parse_manifest(manifest("instance_masks"), classes=CLASSES)
    prediction = instances_to_prediction(
        masks, np.array([0.7, 0.8]), np.array([2, 2]), placement=Placement((2, 4), (2, 4)), size=(2, 4),
        manifest=parsed, class_kinds=CLASSES,
    )
    assert [(s.class_name, s.instance, s.score) for s in prediction.segments] == [("road", None, 0.8)]
    assert (prediction.label_map == 1).all()


def test_semantic_letterbox_padding_is_cropped_before_upsampling():
    logits = np.zeros((3, 8, 8), dtype=np.float32)
    logits[1, :4, :] = 5  # the image occupies the top half; the padding says "road"
    logits[2, 4:, :] = 5
    parsed = parse_manifest(manifest("semantic_logits", input_size=[8, 8], resize="letterbox"), classes=CLASSES)
    prediction = semantic_to_prediction(logits, placement=Placement((8, 8), (4, 8)), size=(10, 20),
                                        manifest=parsed, class_kinds=CLASSES)
    assert [s.class_name for s in prediction.segments] == ["car"]
    assert (prediction.label_map == 1).all()


# ---------------------------------------------------------------- real tiny models


def test_torchscript_instance_model_like_mask_rcnn():
    parsed = parse_manifest(manifest("instance_masks", input_size=[48, 64]), classes=CLASSES)
    runner = OwnModelRunner.load(data=torchscript_bytes(InstanceNet()), format="torchscript")
    rgb = blob_image()
    rgb[4:20, 4:20, 1] = 255  # the first square is yellow: red (0.9) and green (0.7) masks overlap there
    prediction = runner.predict(rgb, manifest=parsed, class_kinds=CLASSES)
    assert [(s.class_name, s.instance) for s in prediction.segments] == [("car", 1), ("car", 2)]
    red, green = prediction.segments
    assert red.score == pytest.approx(0.9) and green.score == pytest.approx(0.7)
    assert prediction.label_map[10, 10] == red.segment_id  # overlap: the higher score wins
    assert prediction.label_map[40, 10] == green.segment_id
    assert prediction.label_map[25, 30] == 0  # blue mask (0.2) was dropped; nothing else there
    assert runner.trial_run(parsed) == {"masks": [3, 1, 48, 64], "scores": [3], "labels": [3]}


def test_torchscript_panoptic_model():
    parsed = parse_manifest(manifest("panoptic", input_size=[48, 64]), classes=CLASSES)
    runner = OwnModelRunner.load(data=torchscript_bytes(PanopticNet()), format="torchscript")
    prediction = runner.predict(blob_image(), manifest=parsed, class_kinds=CLASSES)
    # Panoptic segments are instances as the model says: both red squares are one segment (id 1 in its map).
    assert [(s.class_name, s.instance, round(s.score, 2)) for s in prediction.segments] == [
        ("car", 1, 0.95), ("road", None, 0.8)
    ]
    assert prediction.label_map[10, 10] == prediction.label_map[10, 48] == 1
    assert prediction.label_map[40, 0] == 2 and prediction.label_map[25, 0] == 0


def test_onnx_semantic_model_matches_torchscript():
    parsed = parse_manifest(manifest("semantic_logits"), classes=CLASSES)
    onnx_runner = OwnModelRunner.load(data=onnx_semantic_bytes(), format="onnx")
    script_runner = OwnModelRunner.load(data=torchscript_bytes(SemanticNet()), format="torchscript")
    assert onnx_runner.onnx_signature() == ([1, 3, 16, 16], "tensor(float)", ["logits"])
    a = onnx_runner.predict(blob_image(), manifest=parsed, class_kinds=CLASSES)
    b = script_runner.predict(blob_image(), manifest=parsed, class_kinds=CLASSES)
    assert np.array_equal(a.label_map, b.label_map)
    assert [(s.class_name, s.instance) for s in a.segments] == [(s.class_name, s.instance) for s in b.segments]


def test_outputs_that_do_not_fit_the_manifest_are_explained():
    runner = OwnModelRunner.load(data=torchscript_bytes(SemanticNet()), format="torchscript")
    too_many = parse_manifest(manifest("semantic_logits", class_map={"5": "car"}), classes=CLASSES)
    with pytest.raises(ModelOutputError, match="outputs 3 classes but class_map uses index 5"):
        runner.trial_run(too_many)
    wrong_kind = parse_manifest(manifest("instance_masks"), classes=CLASSES)
    with pytest.raises(ModelOutputError, match="needs masks, scores, labels"):
        runner.trial_run(wrong_kind)
    instance = OwnModelRunner.load(data=torchscript_bytes(InstanceNet()), format="torchscript")
    renamed = parse_manifest(manifest("instance_masks", output_names={"masks": "segm"}), classes=CLASSES)
    with pytest.raises(ModelOutputError, match="looked for 'segm'"):
        instance.trial_run(renamed)


def test_a_failing_model_and_an_out_of_memory_model_raise_readable_errors():
    parsed = parse_manifest(manifest("semantic_logits"), classes=CLASSES)
    failing = OwnModelRunner.load(data=torchscript_bytes(FailingNet()), format="torchscript")
    with pytest.raises(ModelRunError, match="the model failed: .*deliberate failure inside the model"):
        failing.predict(blob_image(), manifest=parsed, class_kinds=CLASSES)
    hog = OwnModelRunner.load(data=torchscript_bytes(HogNet()), format="torchscript")
    with pytest.raises(ModelRunError, match="ran out of memory"):
        hog.predict(blob_image(), manifest=parsed, class_kinds=CLASSES)


def test_panoptic_nearest_upsampling_samples_pixel_centres():
    from workers.runners.own_models import panoptic_to_prediction

    segment_map = np.array([[1, 2], [0, 1]])
    parsed = parse_manifest(manifest("panoptic", input_size=[2, 2]), classes=CLASSES)
    prediction = panoptic_to_prediction(segment_map, np.array([1, 2]), None, placement=Placement((2, 2), (2, 2)),
                                        size=(4, 6), manifest=parsed, class_kinds=CLASSES)
    car, road = prediction.segments
    expected = np.array([[1, 1, 1, 2, 2, 2]] * 2 + [[0, 0, 0, 1, 1, 1]] * 2)
    assert np.array_equal(prediction.label_map, np.where(expected == 1, car.segment_id,
                                                         np.where(expected == 2, road.segment_id, 0)))
    assert (car.class_name, car.instance, car.score) == ("car", 1, 1.0) and road.instance is None


def _onnx_with_external_constant(location: str) -> bytes:
    """A model whose Constant node's tensor lives in an "external data" file: onnxruntime would read that file,
    relative to the server's working directory, into the model's output."""
    from onnx import TensorProto, helper

    tensor = TensorProto(name="c", data_type=TensorProto.UINT8, dims=[2], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("length", "2")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("Constant", [], ["y"], value=tensor)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.mark.parametrize("location", ["etc/hostname", "../../etc/hostname", "/etc/hostname"])
def test_onnx_tensors_in_external_files_are_refused_wherever_they_are(location, monkeypatch):
    monkeypatch.chdir("/")
    with pytest.raises(ModelFileError, match="external data"):
        OwnModelRunner.load(data=_onnx_with_external_constant(location), format="onnx")


def test_an_onnx_model_without_exactly_one_input_is_refused():
    from onnx import TensorProto, helper

    constant = helper.make_tensor("c", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph([helper.make_node("Constant", [], ["y"], value=constant)], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with pytest.raises(ModelFileError, match="exactly one input"):
        OwnModelRunner.load(data=model.SerializeToString(), format="onnx")

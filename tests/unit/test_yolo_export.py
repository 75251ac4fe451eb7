"""YOLO segmentation read back the way Ultralytics reads it, on objects of many shapes.

Ultralytics' loader parses a label line as float32 (`verify_image_label`), multiplies it by the image size
(`Instances.denormalize`), truncates it to int32 and fills it with `cv2.fillPoly` (`polygon2mask`); its own
mask-to-polygon conversion is `cv2.findContours(mask, RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)`. Here each line must
give back exactly those contours' vertices, and its fill exactly its part of the segment: the whole segment for
an object in one piece without holes. What YOLO cannot hold is checked as documented in
`labeling/exports/yolo_seg.py`: a hole comes back filled, an object in several parts as one line per part.
"""

import io
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from labeling.exports import ExportOptions, run_exporter
from labeling.exports.view import Category, DatasetView, ExportImage, ExportSegment
from labeling.exports.yolo_seg import BIAS, decimals, normalised
from labeling.exports.zipsink import ZipSink
from labeling.masks.labelmap import segment_stats
from labeling.masks.polygons import mask_to_contours

CATEGORIES = (Category(1, 11, "blob", "thing", "#ff0000"), Category(2, 12, "thin", "thing", "#00ff00"),
              Category(3, 13, "odd: \"name\"", "stuff", "#0000ff"))
EIGHT = np.ones((3, 3), dtype=bool)


def shapes_map() -> np.ndarray:
    """A 97 x 61 label map (sizes that no decimal fraction divides evenly) with one object per hard case."""
    m = np.zeros((61, 97), dtype=np.uint32)
    m[30, 40] = 1  # a single pixel
    m[5, 10:30] = 2  # a horizontal line one pixel wide
    m[10:40, 5] = 3  # a vertical line
    for i in range(10):
        m[5 + i, 50 + i] = 4  # a diagonal line: 8-connected, one part
        m[5 + i, 75 - i] = 5  # the other diagonal
    m[20:35, 20:23] = 6  # an L
    m[32:35, 20:40] = 6
    m[45, 10] = m[46, 11] = 7  # two pixels touching at a corner
    m[52:61, 0:8] = 8  # the left and bottom borders
    m[0:4, 90:97] = 9  # the top-right corner
    m[40:50, 60:70] = 10  # a square with a hole ...
    m[43:47, 63:67] = 0
    m[44:46, 64:66] = 10  # ... and an island of its own inside the hole
    m[15:18, 80:84] = 11  # two separate parts
    m[22:25, 88:92] = 11
    checker = np.add.outer(np.arange(5), np.arange(5)) % 2 == 0
    m[50:55, 30:35][checker] = 12  # a checkerboard: one 8-connected part, its inner gaps holes
    m[8, 40:42] = 13  # two pixels
    m[12:15, 44] = m[13, 43:46] = 14  # a plus
    for i in range(6):
        m[20 + i, 45 + i:48 + i] = 15  # a staircase band
    m[0, 0:88:3] = 16  # thirty dots along the top border
    m[55:61, 90:97] = 17  # the bottom-right corner
    m[26:29, 60:63] = 18  # a 3 x 3 square
    return m


def blob_map(rng: np.random.Generator, height: int, width: int, count: int) -> np.ndarray:
    """Random smooth blobs, the later ones painted over the earlier ones."""
    m = np.zeros((height, width), dtype=np.uint32)
    for sid in range(1, count + 1):
        field = ndimage.gaussian_filter(rng.random((height, width)), sigma=rng.uniform(1.5, 5))
        m[field > np.quantile(field, 1 - rng.uniform(0.03, 0.3))] = sid
    return m


def dataset(maps: list[np.ndarray]) -> DatasetView:
    images = []
    for image_id, label_map in enumerate(maps, start=1):
        stats = segment_stats(label_map)
        segments = tuple(
            ExportSegment(segment_id=sid, category_id=1 + sid % 3, instance=sid, area=stats[sid][0],
                          bbox=(stats[sid][1], stats[sid][2], stats[sid][3] - stats[sid][1] + 1,
                                stats[sid][4] - stats[sid][2] + 1))
            for sid in sorted(stats) if sid)
        height, width = label_map.shape
        images.append(ExportImage(id=image_id, file_name=f"{image_id}.jpg", width=width, height=height, split="",
                                  segments=segments, load_map=lambda m=label_map: m))
    return DatasetView(name="Shapes", kind="instance", categories=CATEGORIES, images=images, count=len(images))


def export(maps: list[np.ndarray]) -> tuple[bytes, dict]:
    buf = io.BytesIO()
    sink = ZipSink(buf)
    summary = run_exporter("yolo_seg", dataset(maps), sink, ExportOptions(), lambda f: None)
    sink.close()
    return buf.getvalue(), summary


def read(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name).decode()


def loaded_vertices(line: str, *, width: int, height: int) -> tuple[int, np.ndarray]:
    """A label line's class and vertices as Ultralytics' loader turns them into pixels."""
    tokens = line.split()
    segment = np.array(tokens[1:], dtype=np.float32).reshape(-1, 2)  # verify_image_label
    segment[..., 0] *= width  # Instances.denormalize, in float32
    segment[..., 1] *= height
    return int(tokens[0]), np.asarray(segment, dtype=np.int32)  # polygon2mask


def ultralytics_fill(vertices: np.ndarray, *, width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(mask, vertices.reshape(1, -1, 2), color=1)  # polygon2mask
    return mask.astype(bool)


def opencv_contours(mask: np.ndarray) -> list[np.ndarray]:
    """Ultralytics' conversion (`cv2.findContours`, RETR_EXTERNAL, CHAIN_APPROX_SIMPLE), in top-left order, the
    short ones repeated up to three vertices as the exporter documents."""
    found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contours = sorted((c.reshape(-1, 2) for c in found), key=lambda c: (c[0, 1], c[0, 0]))
    return [np.resize(c, (max(3, len(c)), 2)) for c in contours]


def holes_in(mask: np.ndarray) -> int:
    """Background regions (4-connected) that do not reach the border: what a contour's fill closes."""
    background, count = ndimage.label(~mask)
    return count - len(np.setdiff1d(np.unique(np.r_[background[[0, -1], :].ravel(), background[:, [0, -1]].ravel()]),
                                    [0]))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def check_export(maps: list[np.ndarray]) -> list[tuple[int, int, float]]:
    """Every label line against OpenCV's contours and its part's pixels; (image, segment, IoU) per line."""
    data, summary = export(maps)
    ious, lines_total, holes_total = [], 0, 0
    for image_id, label_map in enumerate(maps, start=1):
        height, width = label_map.shape
        lines = read(data, f"labels/{image_id}.txt").splitlines()
        lines_total += len(lines)
        for sid in sorted(set(np.unique(label_map).tolist()) - {0}):
            segment = label_map == sid
            holes_total += holes_in(segment)
            expected = opencv_contours(segment)
            own, lines = lines[:len(expected)], lines[len(expected):]
            parts, _ = ndimage.label(segment, structure=EIGHT)
            boxes = ndimage.find_objects(parts)
            union = np.zeros_like(segment)
            for line, contour in zip(own, expected, strict=True):
                index, vertices = loaded_vertices(line, width=width, height=height)
                assert index == sid % 3 and np.array_equal(vertices, contour), (image_id, sid, line)
                filled = ultralytics_fill(vertices, width=width, height=height)
                number = parts[vertices[0, 1], vertices[0, 0]]
                part = parts[boxes[number - 1]] == number
                # Exactly its part, holes filled (parts inside the holes are covered, and not written).
                assert np.array_equal(filled[boxes[number - 1]], ndimage.binary_fill_holes(part)), (image_id, sid)
                assert filled.sum() == filled[boxes[number - 1]].sum(), (image_id, sid)
                union |= filled
                ious.append((image_id, sid, iou(filled[boxes[number - 1]], part)))
            assert np.array_equal(union, ndimage.binary_fill_holes(segment)), (image_id, sid)
            if parts.max() == 1 and not holes_in(segment):
                assert np.array_equal(union, segment) and len(own) == 1  # the ordinary object: exact
        assert lines == []
    assert summary["polygons"] == lines_total and summary["holes_dropped"] == holes_total
    return ious


def test_each_label_line_fills_back_to_its_part_of_the_hand_made_shapes():
    inexact = {sid for _, sid, value in check_export([shapes_map()]) if value < 1}
    assert inexact == {10, 12}  # exact but where YOLO cannot be: the square's hole, the checkerboard's gaps
    data, summary = export([shapes_map()])
    assert summary["holes_dropped"] == 1 + 4  # the square's hole, the checkerboard's four inner gaps
    lines = read(data, "labels/1.txt").splitlines()
    assert len(lines) == 17 + 1 + 30  # one per object, the second part of 11, one per dot on the top border
    single = next(line for line in lines if len(line.split()) == 7 and line.split()[1:3] == line.split()[3:5])
    assert loaded_vertices(single, width=97, height=61)[1].tolist() == [[40, 30]] * 3  # repeated up to three


def test_random_blobs_of_many_sizes_fill_back_exactly():
    rng = np.random.default_rng(16)
    maps = [blob_map(rng, int(rng.integers(10, 160)), int(rng.integers(10, 160)), int(rng.integers(1, 6)))
            for _ in range(25)]
    maps += [np.full((7, 3), 1, dtype=np.uint32), np.full((1, 1), 2, dtype=np.uint32)]  # the whole image
    ious = check_export(maps)
    assert len(ious) > 100


@settings(max_examples=150, deadline=None)
@given(arrays(np.uint32, st.tuples(st.integers(1, 18), st.integers(1, 18)), elements=st.integers(0, 3)))
def test_any_small_label_map_fills_back(label_map):
    check_export([label_map])


@settings(max_examples=300, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 30), st.integers(1, 30))))
def test_mask_to_contours_is_opencvs_find_contours(mask):
    contours, holes = mask_to_contours(mask)
    found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    expected = sorted((c.reshape(-1, 2) for c in found), key=lambda c: (c[0, 1], c[0, 0]))
    assert [c.tolist() for c in contours] == [c.tolist() for c in expected]  # same vertices, order and start
    assert holes == holes_in(mask)


@pytest.mark.parametrize("size", [*range(1, 400), 640, 1023, 1080, 1920, 4095, 4096, 9999, 15625, 15626, 65535,
                                  100003, 131071])
def test_every_written_coordinate_comes_back_to_its_pixel(size):
    """Float32 (the loader) and float64 readers, truncating (the loader) or rounding: always the pixel itself."""
    pixels = np.arange(size)
    text = normalised(pixels, size, decimals(size))
    assert all(len(t.split(".")[1]) == decimals(size) for t in text[:3])
    single = np.array(text, dtype=np.float32)
    assert (single <= 1).all()
    back = single * np.float32(size)
    assert back.dtype == np.float32 and np.array_equal(back.astype(np.int32), pixels)
    assert np.array_equal(np.round(back).astype(np.int64), pixels)
    double = np.array(text, dtype=np.float64) * size
    assert np.array_equal(double.astype(np.int64), pixels)
    assert (double - pixels > 1 / BIAS - 1e-9).all() and (double - pixels < 2 / BIAS).all()  # the bias, as documented


def ultralytics_dataset_root(data: dict, yaml_file: str, datasets_dir: Path) -> Path:
    """The one rule `check_det_dataset` (ultralytics/data/utils.py, 8.3) uses to find a dataset's root:
        path = Path(extract_dir or data.get("path") or Path(data.get("yaml_file", "")).parent)
        if not path.exists() and not path.is_absolute():
            path = (DATASETS_DIR / path).resolve()
    and then `train`/`val` become `(path / data[k]).resolve()`. Not a zip here, so `extract_dir` is ""."""
    path = Path(data.get("path") or Path(yaml_file).parent)
    if not path.exists() and not path.is_absolute():
        path = (datasets_dir / path).resolve()
    return path


@pytest.mark.parametrize("split", [False, True])
def test_data_yaml_finds_the_images_wherever_training_starts(tmp_path, monkeypatch, split):
    view = dataset([shapes_map(), blob_map(np.random.default_rng(1), 20, 30, 2)])
    if split:
        view = DatasetView(name=view.name, kind=view.kind, categories=view.categories, count=2, split=True,
                           images=[ExportImage(**{**vars(i), "split": s}) for i, s in zip(view.images,
                                                                                          ["train", "val"])])
    buf = io.BytesIO()
    sink = ZipSink(buf)
    run_exporter("yolo_seg", view, sink, ExportOptions(), lambda f: None)
    sink.close()
    root = tmp_path / "unzipped" / "shapes"
    with zipfile.ZipFile(buf) as z:
        z.extractall(root)
    for image in view.images:  # where `include_images` puts them
        folder = root / "images" / image.split
        folder.mkdir(parents=True, exist_ok=True)
        (folder / image.file_name).write_bytes(b"")
    data = yaml.safe_load((root / "data.yaml").read_text())
    assert "path" not in data
    assert data["names"] == {0: "blob", 1: "thin", 2: 'odd: "name"'}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for yaml_file in (str(root / "data.yaml"), "../unzipped/shapes/data.yaml"):  # as given to `data=`
        dataset_root = ultralytics_dataset_root(data, yaml_file, datasets_dir=tmp_path / "datasets")
        for key in ("train", "val"):
            images = (dataset_root / data[key]).resolve()
            assert images.is_dir() and any(images.iterdir()), (yaml_file, key)
            for image in images.iterdir():  # img2label_paths: /images/ -> /labels/, extension -> .txt
                label = Path("/labels/".join(str(image).rsplit("/images/", 1))).with_suffix(".txt")
                assert label.is_file()
    # What `path: .` (version 1) meant: the working directory, where there are no images.
    old = ultralytics_dataset_root({"path": "."}, str(root / "data.yaml"), tmp_path / "datasets")
    assert old.resolve() == elsewhere and not (old / data["train"]).exists()

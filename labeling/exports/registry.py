"""Exporters register themselves here with a name and a format version; `run_exporter` runs one.

An exporter is a function `(view, sink, options, progress) -> summary dict` that writes its files into `sink`
(a deterministic zip, see `zipsink.py`) and never touches the database. What every format does the same way,
copying the image files into `images/`, is done here, not in each format.

A format whose per-image work is expensive registers it as `per_image(image, context) -> bytes` (pure and
deterministic) and reads it through `artifacts.image_artifact`, so stored per-image artifacts can stand in for
it; `variant(options)` names the options that change those bytes ("" for none). See `artifacts.py`.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from labeling.exports.view import DatasetView


@dataclass(frozen=True)
class ExportOptions:
    include_images: bool = False
    polygons: bool = False  # COCO instances: polygons instead of RLE where that loses nothing


def images_folder(image) -> str:
    """Where an image's own file goes in most formats: `images/<file_name>`, `images/<split>/<file_name>` when split."""
    return f"images/{image.split}/{image.file_name}" if image.split else f"images/{image.file_name}"


def no_variant(options: ExportOptions) -> str:
    return ""


@dataclass(frozen=True)
class Exporter:
    name: str
    version: int
    title: str
    write: Callable[..., dict[str, Any]]
    image_path: Callable[[Any], str] = images_folder
    per_image: Callable[[Any, Any], bytes] | None = None  # (image, ArtifactContext) -> bytes
    variant: Callable[[ExportOptions], str] = no_variant
    polygons: bool = False  # whether it takes the `polygons` option


EXPORTERS: dict[str, Exporter] = {}


def exporter(*, name: str, version: int, title: str, image_path: Callable[[Any], str] = images_folder,
             per_image: Callable[[Any, Any], bytes] | None = None,
             variant: Callable[[ExportOptions], str] = no_variant, polygons: bool = False):
    def register(write: Callable[[DatasetView, Any, ExportOptions, Callable[[float], None]], dict[str, Any]]):
        if name in EXPORTERS:
            raise ValueError(f"exporter {name!r} is registered twice")
        EXPORTERS[name] = Exporter(name=name, version=version, title=title, write=write, image_path=image_path,
                                   per_image=per_image, variant=variant, polygons=polygons)
        return write

    return register


def run_exporter(name: str, view: DatasetView, sink, options: ExportOptions,
                 progress: Callable[[float], None]) -> dict[str, Any]:
    """Write `view` in format `name`; with `include_images`, each image's file follows where the format wants it
    (after the format's files: a zip member being streamed must be closed before the next one starts).

    The summary's `annotations` is counted here, the same for every format: the exported segments (objects),
    what COCO instances writes one annotation each for. `images` is each format's own count of images."""
    chosen = EXPORTERS[name]
    files: list[tuple[str, Callable[[], bytes]]] = []
    annotations = 0

    def images():
        nonlocal annotations
        for image in view.images:
            if options.include_images and image.read_file is not None:
                files.append((chosen.image_path(image), image.read_file))
            annotations += len(image.segments)
            yield image

    summary = chosen.write(replace(view, images=images()), sink, options, progress)
    for path, read_file in files:
        sink.write(path, read_file(), compress=False)  # JPEG / PNG: already compressed
    return {**summary, "annotations": annotations}

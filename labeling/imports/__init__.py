"""Label imports: read an upload (COCO instances, COCO panoptic, mask PNGs, Pascal VOC) into label maps for the
project's images, with every problem reported. Pure: plain data in (`base.TargetClass`, `base.TargetImage`,
`base.Files`), `ImportedImage`s and a `Report` out; the service (`labeling.services.imports`) writes them."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from labeling.imports.base import (
    ClassResolver,
    Files,
    ImageResolver,
    ImportedImage,
    ImportOptions,
    Report,
    TargetClass,
    TargetImage,
    unique_images,
)
from labeling.imports.coco_instances import import_coco_instances
from labeling.imports.coco_panoptic import import_coco_panoptic
from labeling.imports.mask_pngs import import_mask_pngs
from labeling.imports.pascal_voc import import_pascal_voc


@dataclass(frozen=True)
class Importer:
    name: str
    title: str
    accepts: str  # what to upload, shown in the UI
    read: Callable[[Files, ClassResolver, ImageResolver, Report, ImportOptions], Iterator[ImportedImage]]
    bare_json: bool = False  # one JSON file may be uploaded without a ZIP around it
    takes_void_value: bool = False  # reads mask PNGs, where `ImportOptions.void_value` means "no label"


IMPORTERS: dict[str, Importer] = {i.name: i for i in (
    Importer("coco_instances", "COCO instances (RLE or polygons, iscrowd)",
             "a COCO instances .json, or a .zip holding one or more", import_coco_instances, bare_json=True),
    Importer("coco_panoptic", "COCO panoptic (PNG + segments_info)",
             "a .zip with panoptic*.json and its PNG folder", import_coco_panoptic),
    Importer("mask_pngs", "Mask PNGs (instance/ + instances.json, or semantic/ + classes.json)",
             "a .zip of instance/ or semantic/ PNGs with their table", import_mask_pngs, takes_void_value=True),
    Importer("pascal_voc", "Pascal VOC segmentation (SegmentationClass/ and SegmentationObject/ PNGs)",
             "a .zip with SegmentationClass/ PNGs (SegmentationObject/ and labelmap.txt when there are)",
             import_pascal_voc, takes_void_value=True),
)}


def read_labels(name: str, files: Files, *, classes: Iterable[TargetClass], images: Iterable[TargetImage],
                report: Report, options: ImportOptions = ImportOptions()) -> Iterator[ImportedImage]:
    """The upload's label maps, one per project image it names, read lazily; problems go to `report`. Each error
    names an item (an annotation, a PNG, a class, a file) that is left out of what is yielded, so a caller may
    apply the rest (`skip_invalid`) or nothing."""
    reader = IMPORTERS[name].read
    return unique_images(reader(files, ClassResolver(classes), ImageResolver(images), report, options), report)


__all__ = ["IMPORTERS", "Files", "ImportOptions", "ImportedImage", "Report", "TargetClass", "TargetImage",
           "read_labels"]

"""Dataset exports: a registry of small format modules over a plain in-memory view (no ORM in format code)."""

from labeling.exports import (  # noqa: F401 - importing registers them
    class_png,
    coco_instances,
    coco_panoptic,
    pascal_voc,
    yolo_seg,
)
from labeling.exports.registry import EXPORTERS, ExportOptions, exporter, run_exporter

__all__ = ["EXPORTERS", "ExportOptions", "exporter", "run_exporter"]

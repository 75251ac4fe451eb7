"""Dataset exports: a registry of small format modules over a plain in-memory view (no ORM in format code)."""

from labeling.exports import class_png, coco_instances  # noqa: F401 - importing registers the formats
from labeling.exports.registry import EXPORTERS, ExportOptions, exporter

__all__ = ["EXPORTERS", "ExportOptions", "exporter"]

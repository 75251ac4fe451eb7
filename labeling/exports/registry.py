"""Exporters register themselves here with a name and a format version; the export job looks them up by name.

An exporter is a function `(view, sink, options, progress) -> summary dict` that writes its files into `sink`
(a deterministic zip, see `zipsink.py`) and never touches the database.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labeling.exports.view import DatasetView


@dataclass(frozen=True)
class ExportOptions:
    include_images: bool = False


@dataclass(frozen=True)
class Exporter:
    name: str
    version: int
    title: str
    write: Callable[..., dict[str, Any]]


EXPORTERS: dict[str, Exporter] = {}


def exporter(*, name: str, version: int, title: str):
    def register(write: Callable[[DatasetView, Any, ExportOptions, Callable[[float], None]], dict[str, Any]]):
        if name in EXPORTERS:
            raise ValueError(f"exporter {name!r} is registered twice")
        EXPORTERS[name] = Exporter(name=name, version=version, title=title, write=write)
        return write

    return register

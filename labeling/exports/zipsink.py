"""A zip writer whose bytes depend only on what is written: fixed timestamps and permissions, entries in the
order written (exporters write in a stable order), deflate at a fixed level. Two exports of the same data are
byte-identical."""

import zipfile
from typing import BinaryIO

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold


class ZipSink:
    def __init__(self, fileobj: BinaryIO) -> None:
        self._zip = zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        self._names: set[str] = set()

    def write(self, name: str, data: bytes, *, compress: bool = True) -> None:
        if name in self._names:
            raise ValueError(f"{name} is written twice")
        self._names.add(name)
        info = zipfile.ZipInfo(name, date_time=_EPOCH)
        info.external_attr = 0o644 << 16
        info.create_system = 3  # Unix, whatever the platform writing it
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        self._zip.writestr(info, data, compresslevel=6 if compress else None)

    def close(self) -> None:
        self._zip.close()

"""A zip writer whose bytes depend only on what is written: fixed timestamps and permissions, entries in the
order written (exporters write in a stable order), deflate at zlib's default level. Two exports of the same data are
byte-identical."""

import zipfile
from typing import BinaryIO

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold


class ZipSink:
    def __init__(self, fileobj: BinaryIO) -> None:
        self._zip = zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED)
        self._names: set[str] = set()

    def _info(self, name: str, compress: bool, mode: int = 0o100644) -> zipfile.ZipInfo:
        if name in self._names:
            raise ValueError(f"{name} is written twice")
        self._names.add(name)
        info = zipfile.ZipInfo(name, date_time=_EPOCH)
        info.external_attr = mode << 16
        info.create_system = 3  # Unix, whatever the platform writing it
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED  # zlib's default level
        return info

    def write(self, name: str, data: bytes, *, compress: bool = True) -> None:
        self._zip.writestr(self._info(name, compress), data)

    def folder(self, name: str) -> None:
        """An empty folder entry, for readers that demand a folder even when nothing goes in it."""
        info = self._info(name.rstrip("/") + "/", False, mode=0o040755)
        info.external_attr |= 0x10  # MS-DOS directory flag, which zipfile and unzip read
        self._zip.writestr(info, b"")

    def open(self, name: str) -> BinaryIO:
        """A member to write in pieces (a large JSON document streamed as it is built); close it when done."""
        return self._zip.open(self._info(name, True), "w", force_zip64=True)

    def close(self) -> None:
        self._zip.close()

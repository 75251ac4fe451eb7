"""A multipart/form-data body that streams one file from disk: requests' `files=` reads the whole file into
memory first, and uploads may be archives of many gigabytes."""

import os
import uuid
from pathlib import Path

_BLOCK = 1 << 20


def _quote(value: str) -> str:
    # RFC 7578: names are quoted strings; escape the characters that would end the quoted string or the header.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartFile:
    """A file-like body (read, len, iter) that requests sends with a Content-Length, block by block."""

    def __init__(self, *, field: str, path: Path, filename: str | None = None, fields: dict[str, str] | None = None,
                 content_type: str = "application/octet-stream"):
        self.boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        head = b""
        for name, value in (fields or {}).items():
            head += (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"{_quote(name)}\"\r\n\r\n"
                     f"{value}\r\n").encode()
        head += (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"{_quote(field)}\"; "
                 f"filename=\"{_quote(filename or path.name)}\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
        self._parts: list[bytes | Path] = [head, path, f"\r\n--{self.boundary}--\r\n".encode()]
        self._length = len(head) + os.path.getsize(path) + len(self._parts[2])
        self._index = 0
        self._buffer = b""
        self._file = None

    def __len__(self) -> int:
        return self._length

    def __iter__(self):
        while block := self.read(_BLOCK):
            yield block

    def read(self, size: int = -1) -> bytes:
        out = b""
        while self._index < len(self._parts) and (size < 0 or len(out) < size):
            want = -1 if size < 0 else size - len(out)
            part = self._parts[self._index]
            if isinstance(part, bytes):
                if not self._buffer:
                    self._buffer = part
                chunk, self._buffer = (self._buffer, b"") if want < 0 else (self._buffer[:want], self._buffer[want:])
                out += chunk
                if not self._buffer:
                    self._index += 1
            else:
                if self._file is None:
                    self._file = open(part, "rb")  # closed once its part is read
                chunk = self._file.read(want if want >= 0 else -1)
                out += chunk
                if not chunk or want < 0:
                    self._file.close()
                    self._file = None
                    self._index += 1
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

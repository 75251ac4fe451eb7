"""Unpack uploaded ZIP archives one member at a time, refusing anything hostile.

Nothing in an archive is trusted: member names are never used as filesystem paths (each member goes to a fresh
temp file), declared sizes are only a cheap early refusal while the real bytes are counted as they are written,
and the central directory is sized up before Python's zipfile parses it into memory. One bad member is refused
on its own (`MemberRejected`) while the rest goes on; problems with the archive as a whole raise `IngestRejected`.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from labeling.ingest.errors import IngestRejected

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the end record of an empty archive
_COPY_CHUNK = 1024 * 1024
# Below this many extracted bytes the compression ratio is not checked: small members of zeros or flat colour
# legitimately compress a lot, and cost nothing.
_RATIO_GRACE_BYTES = 1024 * 1024
# A central directory entry is 46 bytes plus name/extra/comment; real ones stay far below this on average.
_MAX_CENTRAL_DIR_BYTES_PER_MEMBER = 4096
_DISPLAY_NAME_MAX = 300

_ARCHIVE_EXTENSIONS = (
    ".zip", ".zipx", ".tar", ".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".7z", ".rar", ".jar",
)
_ARCHIVE_MAGICS = (
    b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07", b"\x28\xb5\x2f\xfd",
)
_TAR_MAGIC_OFFSET = 257  # "ustar" lives here in a tar header
_JUNK_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True, kw_only=True)
class ArchiveLimits:
    """Bounds on one uploaded archive.

    Suggested production values: `max_member_bytes` 2 GiB (a 20k x 20k 16-bit RGB TIFF is 2.4 GB uncompressed,
    an 8-bit one 1.2 GB), `max_total_bytes` 20 GiB. `max_ratio` refuses members that inflate more than this many
    times their compressed size, the signature of a zip bomb (images are already compressed; flat-colour BMP/TIFF
    are the legitimate exceptions, hence a generous default).
    """

    max_members: int = 10_000
    max_member_bytes: int
    max_total_bytes: int
    max_ratio: int = 200


@dataclass(frozen=True)
class ArchiveMember:
    """One regular file extracted to `path`; the consumer owns (and deletes) the file. `name` is display-safe."""

    name: str
    path: Path
    size: int


@dataclass(frozen=True)
class MemberRejected:
    """A member that was refused; the rest of the archive is still processed."""

    name: str
    code: str
    message: str


def is_zip(path: str | os.PathLike[str]) -> bool:
    """True when the file starts like a ZIP archive.

    Checks the first bytes rather than `zipfile.is_zipfile`, which also accepts anything with a ZIP appended
    (self-extracting executables, image/ZIP polyglots).
    """
    with open(path, "rb") as fp:
        return starts_like_zip(fp.read(4))


def starts_like_zip(head: bytes) -> bool:
    """`is_zip` for a file's first bytes already read (an upload not yet on disk)."""
    return head[:4] in _ZIP_MAGICS


def display_name(name: str) -> str:
    """The member name as given, with control and invisible characters escaped so it is safe to show."""
    shown = "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") else ch for ch in name
    )
    return shown if len(shown) <= _DISPLAY_NAME_MAX else shown[: _DISPLAY_NAME_MAX - 1] + "…"


def iter_archive(
    path: str | os.PathLike[str], *, limits: ArchiveLimits, out_dir: str | os.PathLike[str]
) -> Iterator[ArchiveMember | MemberRejected]:
    """Yield each regular-file member, extracted to its own temp file under `out_dir`, or why it was refused.

    Directories and OS junk (`__MACOSX/`, `.DS_Store`, `._*`) are skipped silently. Raises `IngestRejected` for
    a file that is not a ZIP, a corrupt central directory, too many members, no file left once those are skipped
    (`empty_archive`), or a declared or actual total size above `limits.max_total_bytes`; members already yielded
    stay the consumer's to delete. A partially written temp file is always removed.
    """
    path = Path(path)
    out_dir = Path(out_dir)
    if not is_zip(path):
        raise IngestRejected("not_an_archive", "The file is not a ZIP archive.")
    _check_central_directory(path, limits)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error) as exc:
        raise IngestRejected("not_an_archive", f"The ZIP archive is corrupt ({exc}).") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise _too_many_members(len(infos), limits)
        if all(_is_skipped(info) for info in infos):  # else an empty upload would pass without a word
            raise IngestRejected("empty_archive", "The archive holds no files.")
        declared = _declared_total(infos)
        if declared > limits.max_total_bytes:
            raise IngestRejected(
                "archive_too_large",
                f"The archive declares {declared:,} bytes of content; the limit is {limits.max_total_bytes:,} bytes.",
            )
        extracted_total = 0
        for info in infos:
            if _is_skipped(info):
                continue
            name = display_name(info.filename)
            refusal = _refuse_before_extracting(info, limits)
            if refusal is not None:
                yield MemberRejected(name, *refusal)
                continue
            result = _extract(archive, info, name, limits, out_dir, extracted_total)
            if isinstance(result, ArchiveMember):
                extracted_total += result.size
            yield result


def _declared_total(infos: list[zipfile.ZipInfo]) -> int:
    return sum(info.file_size for info in infos if not _is_skipped(info))


def _too_many_members(count: int, limits: ArchiveLimits) -> IngestRejected:
    return IngestRejected(
        "too_many_members", f"The archive holds {count:,} entries; the limit is {limits.max_members:,}."
    )


def _check_central_directory(path: Path, limits: ArchiveLimits) -> None:
    """Refuse archives whose end record declares too many entries or a huge central directory.

    `zipfile.ZipFile` builds one object per entry up front, so a few hundred MB of directory could exhaust memory
    before `infolist()` can be counted. A missing or garbled end record is left for zipfile to report.
    """
    size = path.stat().st_size
    with open(path, "rb") as fp:
        tail_len = min(size, 22 + 65535)
        fp.seek(size - tail_len)
        tail = fp.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return
        _, _, _, _, entries, cd_size, _, _ = struct.unpack("<4s4H2LH", tail[at : at + 22])
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
            entries, cd_size = _zip64_counts(fp, size - tail_len + at) or (entries, cd_size)
    if entries > limits.max_members:
        raise _too_many_members(entries, limits)
    if cd_size > limits.max_members * _MAX_CENTRAL_DIR_BYTES_PER_MEMBER:
        raise IngestRejected(
            "too_many_members", f"The archive's central directory is implausibly large ({cd_size:,} bytes)."
        )


def _zip64_counts(fp: BinaryIO, end_record_offset: int) -> tuple[int, int] | None:
    locator_at = end_record_offset - 20
    if locator_at < 0:
        return None
    fp.seek(locator_at)
    locator = fp.read(20)
    if locator[:4] != b"PK\x06\x07":
        return None
    record_at = struct.unpack("<Q", locator[8:16])[0]
    fp.seek(record_at)
    record = fp.read(56)
    if len(record) < 56 or record[:4] != b"PK\x06\x06":
        return None
    entries, cd_size = struct.unpack("<QQ", record[32:48])
    return entries, cd_size


def _is_skipped(info: zipfile.ZipInfo) -> bool:
    if info.is_dir() or stat.S_ISDIR(info.external_attr >> 16):
        return True
    parts = [part for part in info.filename.replace("\\", "/").split("/") if part]
    if not parts:
        return True
    return parts[0] == "__MACOSX" or parts[-1] in _JUNK_NAMES or parts[-1].startswith("._")


def _is_unsafe_path(name: str) -> bool:
    """Absolute paths, drive letters, `..` components and NULs: names that escape a target folder if joined."""
    if "\x00" in name:
        return True
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        return True
    return any(part == ".." for part in normalised.split("/"))


def _refuse_before_extracting(info: zipfile.ZipInfo, limits: ArchiveLimits) -> tuple[str, str] | None:
    if _is_unsafe_path(info.filename):
        return "zip_slip", "The member's path is absolute or climbs out of the archive (..)."
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type == stat.S_IFLNK:
        return "symlink", "The member is a symbolic link; only regular files are accepted."
    if file_type not in (0, stat.S_IFREG):
        return "special_file", "The member is a device, pipe or socket entry; only regular files are accepted."
    if info.flag_bits & 0x1:
        return "encrypted", "The member is password-protected."
    if info.filename.lower().endswith(_ARCHIVE_EXTENSIONS):
        return "nested_archive", "The member is itself an archive; upload its contents instead."
    if info.file_size > limits.max_member_bytes:
        return "member_too_large", _too_large_message(info.file_size, limits)
    return None


def _too_large_message(size: int, limits: ArchiveLimits) -> str:
    return f"The member is {size:,} bytes or more; the limit is {limits.max_member_bytes:,} bytes."


class _MemberRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _extract(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    name: str,
    limits: ArchiveLimits,
    out_dir: Path,
    extracted_total: int,
) -> ArchiveMember | MemberRejected:
    """Stream one member to a temp file, counting real bytes against the member, ratio and total limits."""
    suffix = os.path.splitext(info.filename)[1]
    fd, temp_name = tempfile.mkstemp(
        prefix="member-", suffix=suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suffix) else "", dir=out_dir
    )
    temp = Path(temp_name)
    ratio_budget = max(_RATIO_GRACE_BYTES, limits.max_ratio * info.compress_size)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out, archive.open(info) as member:
            first = True
            while chunk := member.read(_COPY_CHUNK):
                if first and _looks_like_archive(chunk):
                    raise _MemberRefused("nested_archive", "The member is itself an archive; upload its contents.")
                first = False
                written += len(chunk)
                if written > limits.max_member_bytes:
                    raise _MemberRefused("member_too_large", _too_large_message(written, limits))
                if written > ratio_budget:
                    raise _MemberRefused(
                        "compression_bomb",
                        f"The member inflates more than {limits.max_ratio}x its compressed size "
                        f"({info.compress_size:,} bytes); refusing a likely zip bomb.",
                    )
                if extracted_total + written > limits.max_total_bytes:
                    raise IngestRejected(
                        "archive_too_large",
                        f"The archive's content exceeds the limit of {limits.max_total_bytes:,} bytes.",
                    )
                out.write(chunk)
    except _MemberRefused as refused:
        temp.unlink(missing_ok=True)
        return MemberRejected(name, refused.code, refused.message)
    except NotImplementedError as exc:  # e.g. Deflate64, AES (method 99)
        temp.unlink(missing_ok=True)
        return MemberRejected(name, "unsupported_compression", f"The member's compression is not supported ({exc}).")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error) as exc:
        # Includes a bad CRC, which is also how a header lying about the size shows up.
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a real I/O problem on our side (disk full...), not bad input
        return MemberRejected(name, "corrupt", f"The member is corrupt ({exc}).")
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return ArchiveMember(name=name, path=temp, size=written)


def _looks_like_archive(head: bytes) -> bool:
    return head.startswith(_ARCHIVE_MAGICS) or head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == b"ustar"

"""Safe, streaming ZIP extraction (labeling.ingest.archives). Every hostile archive is built in the test."""

from __future__ import annotations

import gzip
import io
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from labeling.ingest.archives import ArchiveLimits, ArchiveMember, MemberRejected, is_zip, iter_archive
from labeling.ingest.errors import IngestRejected

LIMITS = ArchiveLimits(max_member_bytes=10_000_000, max_total_bytes=50_000_000)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # member content only needs to look like an image



@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def _zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]], **options) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, **options) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def _patch_name(path: Path, placeholder: str, hostile: str) -> None:
    """Rename a member in both headers by byte substitution, for names zipfile would refuse or rewrite."""
    assert len(placeholder) == len(hostile)
    data = path.read_bytes()
    assert data.count(placeholder.encode()) == 2
    path.write_bytes(data.replace(placeholder.encode(), hostile.encode()))


def _run(path: Path, out_dir: Path, limits: ArchiveLimits = LIMITS) -> list[ArchiveMember | MemberRejected]:
    return list(iter_archive(path, limits=limits, out_dir=out_dir))


def _by_name(results) -> dict[str, ArchiveMember | MemberRejected]:
    return {result.name: result for result in results}


# --- the normal case ----------------------------------------------------------------------------------------------


def test_regular_members_are_extracted_and_junk_skipped(tmp_path, out_dir):
    archive = _zip(tmp_path / "a.zip", [
        ("cats/", b""),
        ("cats/one.png", PNG),
        ("two.jpg", b"\xff\xd8\xff" + b"x" * 5000),
        ("__MACOSX/cats/._one.png", b"resource fork"),
        ("cats/.DS_Store", b"junk"),
        ("._two.jpg", b"junk"),
        ("Thumbs.db", b"junk"),
    ])

    results = _run(archive, out_dir)

    assert [type(r) for r in results] == [ArchiveMember, ArchiveMember]
    one, two = results
    assert (one.name, one.path.read_bytes(), one.size) == ("cats/one.png", PNG, len(PNG))
    assert two.name == "two.jpg" and two.path.stat().st_size == 5003
    assert one.path.parent == out_dir and one.path.suffix == ".png"
    assert sorted(out_dir.iterdir()) == sorted([one.path, two.path])


def test_stored_members(tmp_path, out_dir):
    stored = tmp_path / "stored.zip"
    with zipfile.ZipFile(stored, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.png", PNG)

    assert [r.size for r in _run(stored, out_dir)] == [len(PNG)]


def test_an_archive_with_no_files_is_refused_whole(tmp_path, out_dir):
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    only_junk = _zip(tmp_path / "junk.zip", [("photos/", b""), ("__MACOSX/._a.png", b"fork"), (".DS_Store", b"x")])

    for archive in (empty, only_junk):
        assert is_zip(archive)
        with pytest.raises(IngestRejected) as refused:
            _run(archive, out_dir)
        assert refused.value.code == "empty_archive" and "no files" in refused.value.message
    assert list(out_dir.iterdir()) == []


def test_an_archive_whose_only_member_is_refused_is_not_empty(tmp_path, out_dir):
    archive = _zip(tmp_path / "a.zip", [("../evil.png", PNG)])

    assert [(type(r), r.code) for r in _run(archive, out_dir)] == [(MemberRejected, "zip_slip")]


def test_members_stream_one_at_a_time(tmp_path, out_dir):
    archive = _zip(tmp_path / "a.zip", [(f"{i}.png", PNG) for i in range(3)])
    members = iter_archive(archive, limits=LIMITS, out_dir=out_dir)

    first = next(members)
    assert list(out_dir.iterdir()) == [first.path]  # nothing extracted ahead of the consumer
    first.path.unlink()
    assert len(list(members)) == 2


# --- hostile members: refused one by one, the rest goes on ------------------------------------------------------


@pytest.mark.parametrize("hostile", ["../evil.png", "/etc/x.png", "C:/x.png", "C:\\x.png", "a\\..\\..\\e.png",
                                     "ok/../../x.png", "\\\\srv\\x.png"])
def test_zip_slip_names_are_refused(tmp_path, out_dir, hostile):
    placeholder = "p" * (len(hostile) - 4) + ".png"
    archive = _zip(tmp_path / "a.zip", [(placeholder, PNG), ("fine.png", PNG)])
    _patch_name(archive, placeholder, hostile)

    results = _by_name(_run(archive, out_dir))

    assert isinstance(results[hostile], MemberRejected) and results[hostile].code == "zip_slip"
    assert isinstance(results["fine.png"], ArchiveMember)
    assert not (tmp_path / "evil.png").exists() and len(list(out_dir.iterdir())) == 1


def test_symlinks_are_refused(tmp_path, out_dir):
    link = zipfile.ZipInfo("link.png")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip(tmp_path / "a.zip", [(link, b"/etc/passwd"), ("fine.png", PNG)])

    results = _by_name(_run(archive, out_dir))

    assert results["link.png"].code == "symlink"
    assert isinstance(results["fine.png"], ArchiveMember)


def test_device_entries_are_refused(tmp_path, out_dir):
    fifo = zipfile.ZipInfo("pipe.png")
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    archive = _zip(tmp_path / "a.zip", [(fifo, PNG)])

    assert _run(archive, out_dir)[0].code == "special_file"


def test_nested_archives_are_refused_by_name_and_by_content(tmp_path, out_dir):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("x.png", PNG)
    archive = _zip(tmp_path / "a.zip", [
        ("inner.zip", inner.getvalue()),
        ("backup.tar.gz", gzip.compress(PNG)),
        ("sneaky.png", inner.getvalue()),
        ("sneaky.jpg", gzip.compress(PNG)),
        ("fine.png", PNG),
    ])

    results = _by_name(_run(archive, out_dir))

    for name in ("inner.zip", "backup.tar.gz", "sneaky.png", "sneaky.jpg"):
        assert results[name].code == "nested_archive", name
    assert isinstance(results["fine.png"], ArchiveMember)
    assert len(list(out_dir.iterdir())) == 1  # the refused ones left nothing behind


def test_member_declared_too_large_is_refused_without_extracting(tmp_path, out_dir):
    archive = _zip(tmp_path / "a.zip", [("big.png", b"\x89PNG" + bytes(5000)), ("small.png", PNG[:500])])
    limits = ArchiveLimits(max_member_bytes=1000, max_total_bytes=10_000)

    results = _by_name(_run(archive, out_dir, limits))

    assert results["big.png"].code == "member_too_large"
    assert isinstance(results["small.png"], ArchiveMember)


def _set_declared_size(path: Path, member: str, size: int) -> None:
    """Rewrite a member's uncompressed size in its local header and its central directory entry."""
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    assert data[local + 30 : local + 30 + len(member)] == member.encode()
    struct.pack_into("<I", data, local + 22, size)
    struct.pack_into("<I", data, central + 24, size)
    path.write_bytes(bytes(data))


def test_member_whose_header_understates_its_size_never_lands_on_disk_whole(tmp_path, out_dir):
    archive = _zip(tmp_path / "a.zip", [("liar.png", PNG * 200)])  # ~400 kB of content
    _set_declared_size(archive, "liar.png", 100)
    limits = ArchiveLimits(max_member_bytes=1000, max_total_bytes=10_000)

    [result] = _run(archive, out_dir, limits)

    assert isinstance(result, MemberRejected) and result.code in {"corrupt", "member_too_large"}
    assert list(out_dir.iterdir()) == []


def test_compression_bomb_is_stopped_early(tmp_path, out_dir):
    # 256 MB of zeros deflate to ~250 kB (ratio ~1000); a 1 GB member behaves the same, only slower to build.
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("zeros.bmp", "w") as member:
            chunk = bytes(1 << 20)
            for _ in range(256):
                member.write(chunk)
        zf.writestr("fine.png", PNG)
    limits = ArchiveLimits(max_member_bytes=1 << 30, max_total_bytes=4 << 30, max_ratio=200)

    results = _by_name(_run(archive, out_dir, limits))

    assert results["zeros.bmp"].code == "compression_bomb"
    assert isinstance(results["fine.png"], ArchiveMember)
    assert len(list(out_dir.iterdir())) == 1


def test_actual_size_is_counted_while_streaming(tmp_path, out_dir, monkeypatch):
    archive = _zip(tmp_path / "a.zip", [("a.png", PNG * 10), ("b.png", PNG)])
    limits = ArchiveLimits(max_member_bytes=len(PNG) * 5, max_total_bytes=10**9)
    # Pretend the header was believable: only the real byte count can catch the member now.
    monkeypatch.setattr("labeling.ingest.archives._refuse_before_extracting", lambda info, limits: None)

    results = _by_name(_run(archive, out_dir, limits))

    assert results["a.png"].code == "member_too_large"
    assert isinstance(results["b.png"], ArchiveMember)
    assert len(list(out_dir.iterdir())) == 1


def test_actual_total_is_counted_while_streaming(tmp_path, out_dir, monkeypatch):
    archive = _zip(tmp_path / "a.zip", [("a.png", PNG), ("b.png", PNG), ("c.png", PNG)])
    limits = ArchiveLimits(max_member_bytes=10**6, max_total_bytes=len(PNG) * 2 + 10)
    # Pretend the headers understated every size: only the real byte count can catch the total now.
    monkeypatch.setattr("labeling.ingest.archives._declared_total", lambda infos: 0)
    members = iter_archive(archive, limits=limits, out_dir=out_dir)

    with pytest.raises(IngestRejected) as info:
        for member in members:
            assert isinstance(member, ArchiveMember)

    assert info.value.code == "archive_too_large"
    assert len(list(out_dir.iterdir())) == 2  # the partial third file was removed


def test_encrypted_members_are_refused(tmp_path, out_dir):
    archive = _zip(tmp_path / "a.zip", [("secret.png", PNG), ("fine.png", PNG)])
    data = bytearray(archive.read_bytes())
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    data[local + 6] |= 0x1  # general purpose flag bit 0: encrypted
    data[central + 8] |= 0x1
    archive.write_bytes(bytes(data))

    results = _by_name(_run(archive, out_dir))

    assert results["secret.png"].code == "encrypted"
    assert isinstance(results["fine.png"], ArchiveMember)


def test_corrupt_member_data_is_refused_and_others_continue(tmp_path, out_dir):
    archive = _zip(tmp_path / "a.zip", [("broken.png", PNG * 20), ("fine.png", PNG)])
    data = bytearray(archive.read_bytes())
    start = data.index(b"broken.png") + len("broken.png")
    data[start + 20 : start + 60] = b"\xff" * 40
    archive.write_bytes(bytes(data))

    results = _by_name(_run(archive, out_dir))

    assert results["broken.png"].code == "corrupt"
    assert isinstance(results["fine.png"], ArchiveMember)
    assert len(list(out_dir.iterdir())) == 1


def test_names_are_reported_as_given_but_safe_to_display(tmp_path, out_dir):
    name = "r\u202egnp.exe\x1b[31m.png"
    archive = _zip(tmp_path / "a.zip", [(name, PNG)])

    [member] = _run(archive, out_dir)

    assert member.name == "r\\u202egnp.exe\\u001b[31m.png"
    assert member.path.suffix == ".png"


# --- whole-archive refusals ---------------------------------------------------------------------------------------


def test_not_a_zip(tmp_path, out_dir):
    path = tmp_path / "a.zip"
    path.write_bytes(PNG)

    with pytest.raises(IngestRejected) as info:
        _run(path, out_dir)

    assert info.value.code == "not_an_archive" and not is_zip(path)


def test_zip_appended_to_an_image_is_not_a_zip(tmp_path):
    inner = _zip(tmp_path / "inner.zip", [("x.png", PNG)])
    polyglot = tmp_path / "polyglot.zip"
    polyglot.write_bytes(PNG + inner.read_bytes())

    assert zipfile.is_zipfile(polyglot) and not is_zip(polyglot)


def test_corrupt_central_directory(tmp_path, out_dir):
    archive = _zip(tmp_path / "a.zip", [("a.png", PNG), ("b.png", PNG)])
    data = archive.read_bytes()
    archive.write_bytes(data[: data.index(b"PK\x01\x02") + 10])  # cut inside the central directory

    with pytest.raises(IngestRejected) as info:
        _run(archive, out_dir)

    assert info.value.code == "not_an_archive"


def test_too_many_members(tmp_path, out_dir):
    archive = _zip(tmp_path / "a.zip", [(f"{i}.png", PNG) for i in range(6)])

    with pytest.raises(IngestRejected) as info:
        next(iter_archive(archive, limits=ArchiveLimits(max_members=5, max_member_bytes=10**6,
                                                        max_total_bytes=10**7), out_dir=out_dir))

    assert info.value.code == "too_many_members" and list(out_dir.iterdir()) == []


def test_member_count_is_checked_before_zipfile_parses_the_directory(tmp_path, out_dir, monkeypatch):
    archive = _zip(tmp_path / "a.zip", [(f"{i}.png", PNG) for i in range(6)])
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("parsed the central directory"))

    with pytest.raises(IngestRejected) as info:
        _run(archive, out_dir, ArchiveLimits(max_members=5, max_member_bytes=10**6, max_total_bytes=10**7))

    assert info.value.code == "too_many_members"


def test_declared_total_too_large(tmp_path, out_dir):
    archive = _zip(tmp_path / "a.zip", [("a.png", PNG), ("b.png", PNG)])

    with pytest.raises(IngestRejected) as info:
        _run(archive, out_dir, ArchiveLimits(max_member_bytes=10**6, max_total_bytes=len(PNG) * 2 - 1))

    assert info.value.code == "archive_too_large" and list(out_dir.iterdir()) == []


def test_is_zip(tmp_path):
    archive = _zip(tmp_path / "a.zip", [("a.png", PNG)])
    empty = tmp_path / "empty"
    empty.write_bytes(b"")

    assert is_zip(archive) and not is_zip(empty)

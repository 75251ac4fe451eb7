"""The committed golden files (tests/golden/) are what tests/golden_gen.py writes today, so they never go stale.

The frontend tests check the TypeScript tile codec and polygon rasteriser against these files; if the Python
side changes, this test fails until `python tests/golden_gen.py` is rerun (and the frontend tests then say
whether the TypeScript side still agrees).
"""

import zlib
from pathlib import Path

from tests import golden_gen

GOLDEN = Path(golden_gen.GOLDEN_DIR)


def _files(root: Path) -> set[str]:
    # sam/ needs torch to write and is checked by tests/unit/test_sam_golden.py.
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] != golden_gen.SAM_DIR_NAME}


def test_golden_files_are_current(tmp_path):
    written = golden_gen.write_all(tmp_path)
    fresh = _files(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == fresh
    assert _files(GOLDEN) == fresh, "run `python tests/golden_gen.py` to update tests/golden/"
    for name in sorted(fresh):
        committed, current = (GOLDEN / name).read_bytes(), (tmp_path / name).read_bytes()
        if name.endswith(".zlib"):
            # Compressed bytes may legitimately differ between zlib builds (e.g. zlib-ng); the contract is
            # the stream's content, and the frontend decodes the committed bytes.
            assert zlib.decompress(committed) == zlib.decompress(current), name
        else:
            assert committed == current, f"{name} is stale: run `python tests/golden_gen.py`"


def test_golden_files_stay_small():
    total = sum((GOLDEN / name).stat().st_size for name in _files(GOLDEN))
    assert total < 300_000

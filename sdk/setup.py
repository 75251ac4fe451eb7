"""Copies the repository's labeling/sdk into src/ before setuptools builds the light distribution (setuptools
packages nothing outside this folder). Built from an sdist, where ../labeling is absent, the copy it carries is
used. src/labeling/__init__.py is written afresh: the server's own package must never come along."""

import shutil
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "labeling" / "sdk"
TARGET = HERE / "src" / "labeling"

if SOURCE.is_dir():
    shutil.rmtree(TARGET, ignore_errors=True)
    (TARGET / "sdk").mkdir(parents=True)
    (TARGET / "__init__.py").write_text('"""The Annotator SDK alone (the annotator-sdk distribution)."""\n')
    for module in sorted(SOURCE.glob("*.py")):
        shutil.copy2(module, TARGET / "sdk" / module.name)

setup()

"""The wheel ships the operator alone: the package with its data files, no development kit, no tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser

import pytest

from .project import PACKAGE, REPO

BUILD = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The project's wheel, built from a copy of the tree (no build/ or egg-info left in the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    for name in ("operator", "tests"):
        shutil.copytree(REPO / name, src / name, ignore=skip)
    # in-process setuptools, as `pip wheel --no-build-isolation` would run it, without pip's start-up
    proc = subprocess.run(
        [sys.executable, "-c", BUILD, str(tmp / "dist")],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return zipfile.ZipFile(tmp / "dist" / proc.stdout.strip().splitlines()[-1])


def test_only_the_operator_package_is_shipped(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert tops == {"blaxel_operator", "blaxel_operator-0.1.0.dist-info"}
    assert not [n for n in wheel.namelist() if "blaxel_devkit" in n or n.startswith("tests/")]


def test_every_module_and_data_file_of_the_package_is_shipped(wheel: zipfile.ZipFile) -> None:
    shipped = set(wheel.namelist())
    expected = {
        path.relative_to(PACKAGE.parent).as_posix()
        for pattern in ("**/*.py", "crds/*.yaml", "health/*.lua", "py.typed")
        for path in PACKAGE.glob(pattern)
        if "__pycache__" not in path.parts
    }
    assert {"blaxel_operator/py.typed", "blaxel_operator/health/argocd.lua"} <= expected
    assert any(name.startswith("blaxel_operator/crds/") for name in expected)
    assert expected - shipped == set()


def test_metadata_has_no_development_dependencies(wheel: zipfile.ZipFile) -> None:
    metadata = Parser().parsestr(wheel.read("blaxel_operator-0.1.0.dist-info/METADATA").decode())
    runtime = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    names = {r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip() for r in runtime}
    assert "kopf" in names
    assert not names & {"kmock", "jsonschema", "import-linter", "pytest"}
    assert "simulator" in (metadata.get_all("Provides-Extra") or [])

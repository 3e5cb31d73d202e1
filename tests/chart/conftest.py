"""Fixtures for the Helm chart tests: the real `helm` binary, renders cached per values set."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "blaxel-operator"
RELEASE = "blx"
NAMESPACE = "blaxel-system"
KUBE_VERSION = "1.30.0"

Manifest = dict[str, Any]
Render = Callable[[dict[str, Any]], list[Manifest]]
RenderError = Callable[[dict[str, Any]], str]


@pytest.fixture(scope="session")
def helm() -> Path:
    from blaxel_devkit.binaries import ensure_tools

    return ensure_tools(("helm",), quiet=True)["helm"]


def run_helm(
    helm: Path, *args: str, values: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(helm), *args]
        if values is not None:
            values_file = Path(tmp) / "values.yaml"
            values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
            cmd += ["-f", str(values_file)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def template_args() -> list[str]:
    return ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    """`helm template` with the given values; the parsed manifests (cached per values)."""
    cache: dict[str, list[Manifest]] = {}

    def _render(values: dict[str, Any]) -> list[Manifest]:
        key = json.dumps(values, sort_keys=True)
        if key not in cache:
            proc = run_helm(helm, *template_args(), values=values)
            assert proc.returncode == 0, f"helm template failed:\n{proc.stderr}"
            cache[key] = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
        return cache[key]

    return _render


@pytest.fixture(scope="session")
def render_error(helm: Path) -> RenderError:
    """`helm template` expected to fail; returns its error output."""

    def _render_error(values: dict[str, Any]) -> str:
        proc = run_helm(helm, *template_args(), values=values)
        assert proc.returncode != 0, f"helm template unexpectedly succeeded with {values}"
        return proc.stderr

    return _render_error

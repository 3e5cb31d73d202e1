"""What the packaging tests read: pyproject's dependency lists and the third-party imports of a source tree."""

from __future__ import annotations

import ast
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOT = REPO / "operator"
PACKAGE = SOURCE_ROOT / "blaxel_operator"
DEVKIT = SOURCE_ROOT / "blaxel_devkit"

# distributions whose import name is not their name with '-' -> '_'
IMPORT_NAMES = {"cel-python": "celpy", "pyyaml": "yaml", "prometheus-client": "prometheus_client"}
FIRST_PARTY = {"blaxel_operator", "blaxel_devkit"}


@cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def requirement_names(requirements: list[str]) -> set[str]:
    """Canonical distribution names of requirement strings (`cel-python>=0.5` -> `cel-python`)."""
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def runtime_dependencies() -> set[str]:
    return requirement_names(pyproject()["project"]["dependencies"])


def extra(name: str) -> set[str]:
    """The distributions of an extra; a self-reference (`blaxel-operator[simulator]`) brings in that extra's."""
    names: set[str] = set()
    for text in pyproject()["project"]["optional-dependencies"][name]:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == canonicalize_name(pyproject()["project"]["name"]):
            for included in requirement.extras:
                names |= extra(included)
        else:
            names.add(canonicalize_name(requirement.name))
    return names


def import_name(distribution: str) -> str:
    return IMPORT_NAMES.get(distribution, distribution.replace("-", "_"))


def third_party_imports(root: Path, *, exclude: tuple[Path, ...] = ()) -> dict[str, set[str]]:
    """Top-level third-party modules imported anywhere under `root` (lazy imports too) -> the files."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if any(path.is_relative_to(skip) for skip in exclude):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    found.setdefault(top, set()).add(str(path.relative_to(SOURCE_ROOT)))
    return found

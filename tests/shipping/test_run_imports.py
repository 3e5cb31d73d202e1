"""What `blaxel-operator run` loads: the operator only, and it starts with nothing but the runtime dependencies.

The subprocess makes every installed distribution outside the runtime dependencies (and theirs) unimportable,
as on a fresh `pip install blaxel-operator`: the test-only packages of this environment (kubernetes-validate,
which the kubernetes client loads when present, loads jsonschema) must not hide a missing dependency or a
stray import.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .project import SOURCE_ROOT, pyproject

RUN_PATH = """
import json, sys
for name in json.loads(sys.argv[1]):
    sys.modules.setdefault(name, None)  # `import name` now raises ModuleNotFoundError
from blaxel_operator import cli
cli.build_parser().parse_args(["run", "--all-namespaces"])
import blaxel_operator.operator_main, blaxel_operator.handlers
print(json.dumps(sorted(name for name, module in sys.modules.items() if module is not None)))
"""

NEVER_LOADED = (
    "blaxel_devkit",
    "blaxel_operator.simulator",
    "blaxel_operator.tools",
    "kmock",
    "celpy",
    "jsonschema",
)


def runtime_closure() -> set[str]:
    """The runtime dependencies and, as installed here, their dependencies (canonical names)."""
    seen: set[str] = set()
    todo = [(Requirement(text), "") for text in pyproject()["project"]["dependencies"]]
    while todo:
        requirement, wanted_by_extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": wanted_by_extra}):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            for extra_name in {"", *requirement.extras}:
                todo.append((Requirement(text), extra_name))
    return seen


def not_installed_by_the_wheel() -> list[str]:
    closure = runtime_closure()
    return sorted(
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if not any(canonicalize_name(d) in closure for d in distributions)
        and canonicalize_name(module) not in closure
        and not module.startswith("blaxel_operator")
    )


def test_run_loads_the_operator_alone() -> None:
    blocked = not_installed_by_the_wheel()
    assert "kmock" in blocked and "kopf" not in blocked  # the environment is what the test assumes
    env = {**os.environ, "PYTHONPATH": str(SOURCE_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", RUN_PATH, json.dumps(blocked)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout)
    assert {"kopf", "blaxel_operator.handlers", "blaxel_operator.runtime.reconciler"} <= set(loaded)
    stray = [m for m in loaded if any(m == n or m.startswith(n + ".") for n in NEVER_LOADED)]
    assert stray == []

"""pyproject declares exactly what the code imports: the runtime dependencies for the shipped operator, the
`simulator` extra for the simulator, the `test` extra for the development kit."""

from __future__ import annotations

from .project import (
    DEVKIT,
    PACKAGE,
    extra,
    import_name,
    runtime_dependencies,
    third_party_imports,
)

# declared for a dependency's sake, never imported by us
NOT_IMPORTED: dict[str, str] = {}


def test_runtime_dependencies_are_the_imports_of_the_shipped_operator() -> None:
    imported = third_party_imports(PACKAGE, exclude=(PACKAGE / "simulator",))
    declared = {import_name(d): d for d in runtime_dependencies()}
    for distribution in NOT_IMPORTED:
        assert distribution in runtime_dependencies(), f"{distribution} is no longer declared: drop it here"
        declared.pop(import_name(distribution))
    undeclared = {module: sorted(files) for module, files in imported.items() if module not in declared}
    assert undeclared == {}, "imported by shipped modules but not in [project] dependencies"
    unused = sorted(d for module, d in declared.items() if module not in imported)
    assert unused == [], "in [project] dependencies but imported by no shipped module (a test-only package?)"


def test_development_packages_are_not_runtime_dependencies() -> None:
    assert {"kmock", "jsonschema", "import-linter"}.isdisjoint(runtime_dependencies())
    assert {"kmock", "jsonschema", "import-linter"} <= extra("test")


def test_the_simulator_extra_is_what_the_simulator_imports() -> None:
    imported = third_party_imports(PACKAGE / "simulator")
    assert set(imported) == {import_name(d) for d in extra("simulator")}, imported


def test_the_test_extra_covers_the_development_kit() -> None:
    # `make demo` and `make test` install '.[test]'; the demo runs the simulator
    assert extra("simulator") <= extra("test")
    available = {import_name(d) for d in runtime_dependencies() | extra("test")}
    imported = third_party_imports(DEVKIT)
    missing = {module: sorted(files) for module, files in imported.items() if module not in available}
    assert missing == {}, "imported by blaxel_devkit but neither a runtime dependency nor in the test extra"

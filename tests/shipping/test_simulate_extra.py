"""`blaxel-operator simulate`: the optional simulator, imported by its sub-command only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from blaxel_operator.cli import main

from .project import SOURCE_ROOT


def test_simulate_forwards_its_options_to_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["simulate", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: blaxel-operator simulate") and "--fault-rate" in out


def test_unknown_options_of_other_commands_are_still_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["render", "-f", "x.yaml", "--port", "1"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --port 1" in capsys.readouterr().err


def test_without_the_extra_simulate_says_what_to_install() -> None:
    script = "import sys; sys.modules['httpx'] = None; from blaxel_operator.cli import main; sys.exit(main())"
    proc = subprocess.run(
        [sys.executable, "-c", script, "simulate", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(SOURCE_ROOT)},
        check=False,
    )
    assert proc.returncode == 2
    assert "blaxel-operator[simulator]" in proc.stderr and "httpx" in proc.stderr
    assert "Traceback" not in proc.stderr

"""BL_ENV, BL_API_URL and BL_API_VERSION pick the Blaxel API as Blaxel's SDKs do; bad values are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from blaxel_operator.blaxel.client import API_VERSION
from blaxel_operator.cli import build_parser, config_from_args, main
from blaxel_operator.config import OperatorConfig
from blaxel_operator.tools.common import CliError, api_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "BL_API_URL",
        "BL_ENV",
        "BL_API_VERSION",
        "BL_WORKSPACE",
        "KUBERNETES_SERVICE_HOST",
        "KUBECONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BL_API_KEY", "k-123456")
    monkeypatch.setenv("HOME", str(tmp_path))


def run_config(*argv: str) -> OperatorConfig:
    return config_from_args(build_parser().parse_args(["run", "-A", *argv]))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "https://api.blaxel.ai/v0"),
        ({"BL_ENV": "prod"}, "https://api.blaxel.ai/v0"),
        ({"BL_ENV": "dev"}, "https://api.blaxel.dev/v0"),
        ({"BL_ENV": "dev", "BL_API_URL": "http://127.0.0.1:8787/v0"}, "http://127.0.0.1:8787/v0"),
    ],
)
def test_base_url(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run_config().api_url == expected


def test_the_flag_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BL_ENV", "dev")
    monkeypatch.setenv("BL_API_URL", "http://elsewhere/v0")
    assert run_config("--api-url", "http://flag/v0").api_url == "http://flag/v0"


def test_api_version(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_config().api_version == API_VERSION
    monkeypatch.setenv("BL_API_VERSION", "2026-04-16")
    assert run_config().api_version == "2026-04-16"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("BL_ENV", "staging", "BL_ENV='staging' is not a Blaxel environment: use prod or dev"),
        ("BL_API_VERSION", "latest", "BL_API_VERSION='latest' is not a Blaxel API version"),
    ],
)
def test_bad_values_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(CliError, match=says):
        run_config()
    with pytest.raises(CliError, match=says):  # the tools read them the same way
        api_settings(build_parser().parse_args(["import"]))
    assert main(["run", "-A"]) == 2
    assert says in capsys.readouterr().err


def test_help_says_where_the_url_and_version_come_from(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in ("BL_API_URL", "BL_ENV", "https://api.blaxel.dev/v0", "BL_API_VERSION", API_VERSION):
        assert text in out

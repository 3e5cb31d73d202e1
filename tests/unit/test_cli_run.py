"""`blaxel-operator run` refuses to start without a cluster or credentials, with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from blaxel_operator.cli import main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BL_API_KEY", "BL_WORKSPACE", "KUBERNETES_SERVICE_HOST", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config


def test_no_scope_means_all_namespaces_said_out_loud(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2  # then stops at the missing credentials
    assert "watching all namespaces" in capsys.readouterr().err


def test_no_credentials_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-A"]) == 2
    err = capsys.readouterr().err
    assert "no Blaxel credentials" in err and "BL_API_KEY" in err


def test_no_cluster_is_an_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BL_API_KEY", "k-123456")
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    assert main(["run", "-n", "default"]) == 2
    err = capsys.readouterr().err
    assert "no Kubernetes cluster" in err and "/nonexistent/kubeconfig" in err
    assert "k-123456" not in err


def test_bad_credentials_secret_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-A", "--credentials-secret", "just-a-name"]) == 2
    assert "NAMESPACE/NAME" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["-n", "team-*"], "--namespace"),
        (["-A", "--shard-lease", "just-a-name"], "--shard-lease must be NAMESPACE/NAME"),
        (["-A", "--shard-lease-seconds", "0"], "--shard-lease-seconds must be at least 1"),
    ],
)
def test_bad_scope_and_lease_options(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *argv]) == 2
    assert words in capsys.readouterr().err


def test_help_lists_the_interface(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for flag in (
        "--all-namespaces",
        "--poll-interval",
        "--deploy-poll-interval",
        "--cluster-id",
        "--credentials-secret",
        "--max-inflight",
        "--rate-limit",
        "--metrics-port",
        "--log-format",
        "--shard-lease",
    ):
        assert flag in out

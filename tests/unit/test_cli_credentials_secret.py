"""`--credentials-secret NAMESPACE/NAME` is checked as a namespace and a Secret name at start: a value
that would change the URL it is read from (`..`, an extra `/`, an encoded slash) stops the operator."""

from __future__ import annotations

from pathlib import Path

import pytest

from blaxel_operator.cli import main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BL_API_KEY", "BL_WORKSPACE", "KUBERNETES_SERVICE_HOST", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("blaxel-system/../../kube-system/secrets/stolen", "Secret name"),
        ("blaxel-system/a%2Fb", "Secret name"),
        ("blaxel-system/..", "Secret name"),
        ("blaxel-system/.", "Secret name"),
        ("blaxel-system/" + "a" * 254, "Secret name"),
        ("blaxel-system/clé", "Secret name"),
        ("blaxel-system/api\nkey", "Secret name"),
        ("..//creds", "namespace"),
        ("kube.system/creds", "namespace"),  # a namespace is a label: no dots
        ("%2e%2e/creds", "namespace"),
    ],
)
def test_a_credentials_secret_that_is_not_a_name_stops_the_start(
    value: str, what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "-A", "--credentials-secret", value]) == 2
    err = capsys.readouterr().err
    assert f"--credentials-secret: {what}" in err and "DNS-1123" in err


def test_a_valid_credentials_secret_goes_on_to_the_next_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    assert main(["run", "-A", "--credentials-secret", "blaxel-system/blaxel-api.v2"]) == 2
    err = capsys.readouterr().err
    assert "--credentials-secret" not in err and "no Kubernetes cluster" in err

"""`convert` of sample `bl apply` manifests (tests/tools/data/bl): Agents, Functions and Models converted
(render-valid), other kinds (Sandbox) reported and skipped, `${secrets.X}` references in env values turned into Secret refs with notes,
variables substituted from the environment, malformed input refused with exit code 2 and nothing written.
(`bl`'s reading rules in detail: test_convert_bl.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .conftest import DATA, run_sync, write

BL = DATA / "bl"
# The variables that tests/tools/data/bl references (`bl apply` reads them from its environment).
BL_VARIABLES = {"ENVIRONMENT": "production", "REGISTRY": "registry.acme.io", "SLACK_CHANNEL": "#reports"}


@pytest.fixture(autouse=True)
def bl_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The variables of the sample manifests set, and a working directory without a .env file."""
    for name, value in BL_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)


def test_converts_agents_of_a_directory_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    result = run_sync(capsys, "convert", "-f", BL, "-R", "-o", out, "--namespace", "agents")
    assert result.code == 0, result.err
    assert result.out == ""
    assert sorted(p.name for p in out.iterdir()) == [
        "gpt-4o.model.yaml",
        "nightly-reporter.yaml",
        "support-bot.secret.yaml",
        "support-bot.yaml",
        "triage.secret.yaml",
        "triage.yaml",
        "web-search.function.yaml",
    ]
    err = result.err
    assert "(Sandbox dev-box): kind Sandbox (known to `bl apply`) is not supported (only Agent, " in err
    assert "(ConfigMap unrelated): v1/ConfigMap is not a Blaxel manifest; skipped" in err
    assert "converted 1 Model, 1 Function, 3 Agents from 7 documents" in err.splitlines()[-1]
    function = yaml.safe_load((out / "web-search.function.yaml").read_text())
    assert (function["kind"], function["spec"]) == (
        "BlaxelFunction",
        {"functionName": "web-search", "runtime": {"image": "acme/mcp-search:1"}},
    )

    bot = yaml.safe_load((out / "support-bot.yaml").read_text())
    assert bot["metadata"] == {
        "name": "support-bot",
        "namespace": "agents",
        "annotations": {"blaxel.ai/adoption-policy": "adopt"},
    }
    spec = bot["spec"]
    assert spec["agentName"] == "support-bot" and spec["displayName"] == "Support bot"
    assert spec["labels"] == {"team": "support"}
    ref = {"secretKeyRef": {"name": "support-bot-env"}}
    assert spec["runtime"]["envs"] == [
        {"name": "LOG_LEVEL", "value": "info"},
        {
            "name": "OPENAI_API_KEY",
            "valueFrom": {"secretKeyRef": {**ref["secretKeyRef"], "key": "OPENAI_API_KEY"}},
        },
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {**ref["secretKeyRef"], "key": "DATABASE_URL"}},
        },
        {"name": "DEPLOY_ENV", "value": "production"},  # $ENVIRONMENT, from the environment
    ]
    assert spec["triggers"] == [
        {"id": "chat", "type": "http", "configuration": {"path": "/chat", "authenticationType": "blaxel"}}
    ]
    secret_text = (out / "support-bot.secret.yaml").read_text()
    secret = yaml.safe_load(secret_text)
    assert secret["metadata"]["name"] == "support-bot-env" and secret["metadata"]["namespace"] == "agents"
    assert "stringData" not in secret and "data" not in secret
    assert (
        "#   OPENAI_API_KEY: \"\"  # was '${secrets.OPENAI_KEY}': the secret OPENAI_KEY of `bl`"
        in secret_text
    )
    assert "DEPLOY_ENV" not in secret_text
    assert "note: " in err and "it becomes a secret env on Blaxel" in err

    reporter = yaml.safe_load((out / "nightly-reporter.yaml").read_text())
    assert reporter["spec"]["runtime"]["image"] == "registry.acme.io/reporter:2"  # substituted, as bl does
    assert reporter["spec"]["runtime"]["envs"] == [{"name": "REPORT_CHANNEL", "value": "#reports"}]
    assert not (out / "nightly-reporter.secret.yaml").exists()

    triage = yaml.safe_load((out / "triage.yaml").read_text())
    assert triage["spec"]["runtime"]["envs"] == [
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "triage-env", "key": "API_TOKEN"}}}
    ]
    assert "timeout" not in triage["spec"]["runtime"]
    assert "(Agent triage): spec.runtime.timeout: not supported by the BlaxelAgent CRD; left out" in err
    assert triage["spec"]["externalId"] == "crm-42" and "externalId" not in err  # carried, not reported
    assert "createdAt" not in err  # read-only fields are expected in `bl get` output: not reported

    rendered = run_sync(capsys, "render", "-f", out)
    assert rendered.code == 0, rendered.err


def test_without_recursion_and_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_sync(
        capsys, "convert", "-f", BL, "--no-adopt", "--workspace", "acme", "--deletion-policy", "Orphan"
    )
    assert result.code == 0, result.err
    agents = [d for d in result.docs() if d["kind"] == "BlaxelAgent"]
    assert [a["metadata"]["name"] for a in agents] == ["support-bot", "nightly-reporter"]
    for a in agents:
        assert "annotations" not in a["metadata"] and "namespace" not in a["metadata"]
        assert a["spec"]["workspace"] == "acme" and a["spec"]["deletionPolicy"] == "Orphan"
    # referenced kinds first, then the agents, each after its Secret
    kinds = ["BlaxelModel", "BlaxelFunction", "Secret", "BlaxelAgent", "BlaxelAgent"]
    assert [d["kind"] for d in result.docs()] == kinds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: blaxel.ai/v1alpha1\nkind: Agent\nmetadata: {name: a\n", "not valid YAML"),
        ("- just\n- a list\n", "document 1 is not a mapping"),
        (
            "apiVersion: blaxel.ai/v1alpha1\nmetadata: {name: a}\n",
            "kind: Required value: not a Kubernetes-style manifest",
        ),
        (
            "apiVersion: blaxel.ai/v1alpha1\nkind: Agent\nspec: {}\n",
            "document 1 (Agent <no name>): metadata.name: Required value",
        ),
        (
            "apiVersion: blaxel.ai/v1alpha1\nkind: Agent\nmetadata: {name: Bad_Name}\n",
            "metadata.name: Invalid value: 'Bad_Name': not a valid Blaxel agent name",
        ),
        (
            "apiVersion: blaxel.ai/v1alpha1\nkind: Agent\nmetadata: {name: a}\nspec: {runtime: {memory: -1}}\n",
            "document 1 (Agent a): spec.runtime.memory: Invalid value: -1",
        ),
        (
            "apiVersion: blaxel.ai/v1alpha1\nkind: Agent\nmetadata: {name: a}\nspec: {volumes: [{name: v, mountPath: /v}]}\n",
            "spec.region is required when volumes are attached",
        ),
    ],
)
def test_malformed_input_exits_2_and_writes_nothing(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "in" / "a-good.yaml", (BL / "agents.yaml").read_text())
    write(tmp_path / "in" / "b-bad.yaml", text)
    out = tmp_path / "out"
    result = run_sync(capsys, "convert", "-f", tmp_path / "in", "-o", out)
    assert result.code == 2
    assert message in result.err, result.err
    assert result.err.startswith("blaxel-operator: error: ")
    assert not out.exists() and result.out == ""
    assert good.exists()


def test_duplicate_agents_are_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = "apiVersion: blaxel.ai/v1alpha1\nkind: Agent\nmetadata: {name: twin}\n"
    path = write(tmp_path / "twins.yaml", doc + "---\n" + doc)
    result = run_sync(capsys, "convert", "-f", path)
    assert result.code == 2
    assert (
        f"{path}: document 2 (Agent twin): Agent twin is already defined by {path}: document 1" in result.err
    )


def test_nothing_to_convert_is_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "f.yaml", "apiVersion: blaxel.ai/v1alpha1\nkind: Sandbox\nmetadata: {name: f}\n")
    result = run_sync(capsys, "convert", "-f", path)
    assert result.code == 0 and result.out == ""
    assert (
        "warning: no manifest of a kind that converts (Agent, Function, IntegrationConnection," in result.err
    )

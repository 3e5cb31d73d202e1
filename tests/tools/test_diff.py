"""`diff` against the simulator: exit 0 / 1 / 2 like `kubectl diff`, a unified diff of the normalised spec,
secret values masked and compared by name only, spec.workspace honoured, invalid manifests never sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from blaxel_operator.simulator import BlaxelSimulator

from .conftest import SECRET_VALUE, RunCli, secret_agent_body, write

MANIFEST = """\
apiVersion: blaxel.ai/v1alpha1
kind: BlaxelAgent
metadata:
  name: secret-bot
  namespace: team-a
spec:
  labels: {{team: sec}}
  runtime:
    image: acme/secret-bot:1
    memory: {memory}
    envs:
      - name: MODE
        value: prod
      - name: OPENAI_API_KEY
        valueFrom: {{secretKeyRef: {{name: bot-secrets, key: openai}}}}
"""


async def test_no_differences_exit_0(bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path) -> None:
    bl_env.seed_agent(secret_agent_body())
    result = await run_cli("diff", "-f", write(tmp_path / "bot.yaml", MANIFEST.format(memory=1024)))
    assert (result.code, result.out) == (0, ""), result.err
    assert [c.method for c in bl_env.calls()] == ["GET"]  # read only


async def test_differences_exit_1_with_a_unified_diff_and_masked_secrets(
    bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path
) -> None:
    bl_env.seed_agent(secret_agent_body())
    path = write(tmp_path / "bot.yaml", MANIFEST.format(memory=4096))
    result = await run_cli("diff", "-f", path)
    assert result.code == 1, result.err
    lines = result.out.splitlines()
    assert lines[0] == "--- live/sandbox/agents/secret-bot"
    assert lines[1] == f"+++ manifest/team-a/secret-bot ({path}, document 1)"
    assert "-    memory: 1024" in lines and "+    memory: 4096" in lines
    assert "       value: '********'" in lines  # a context line: the secret env, masked on both sides
    assert SECRET_VALUE not in result.out + result.err
    assert not any(line.startswith(("-", "+")) and "x-blaxel-operator" in line for line in lines)
    assert bl_env.calls(writes_only=True) == []


async def test_a_secret_env_that_is_not_secret_remotely_differs(
    bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path
) -> None:
    body = secret_agent_body()
    body["spec"]["runtime"]["envs"][1] = {"name": "OPENAI_API_KEY", "value": "plain-text"}
    bl_env.seed_agent(body)
    result = await run_cli("diff", "-f", write(tmp_path / "bot.yaml", MANIFEST.format(memory=1024)))
    assert result.code == 1
    assert "-      value: plain-text" in result.out
    assert "+      secret: true" in result.out and "+      value: '********'" in result.out


async def test_missing_agent_is_a_difference(
    bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path
) -> None:
    result = await run_cli("diff", "-f", write(tmp_path / "bot.yaml", MANIFEST.format(memory=1024)))
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "--- live/sandbox/agents/secret-bot (does not exist)"
    assert lines[2].startswith("@@ -0,0 +1,")
    assert all(line.startswith("+") for line in lines[3:])


async def test_unadopted_agent_is_noted(bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path) -> None:
    bl_env.seed_agent(secret_agent_body())
    result = await run_cli("diff", "-f", write(tmp_path / "bot.yaml", MANIFEST.format(memory=1024)))
    assert result.code == 0
    assert (
        "is not managed by blaxel-operator" in result.err and "blaxel.ai/adoption-policy: adopt" in result.err
    )


async def test_spec_workspace_is_honoured(bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path) -> None:
    bl_env.seed_agent(secret_agent_body(), workspace="team-b")
    text = MANIFEST.format(memory=1024).replace("spec:\n", "spec:\n  workspace: team-b\n", 1)
    result = await run_cli("diff", "-f", write(tmp_path / "bot.yaml", text))
    assert (result.code, result.out) == (0, ""), result.out
    assert [c.workspace for c in bl_env.calls()] == ["team-b"]


async def test_invalid_manifests_and_api_errors_exit_2(
    bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = write(tmp_path / "bad.yaml", MANIFEST.format(memory=-64))
    result = await run_cli("diff", "-f", bad)
    assert result.code == 2
    assert (
        f"{bad}: document 1 (BlaxelAgent secret-bot): spec.runtime.memory: Invalid value: -64" in result.err
    )
    assert bl_env.calls() == []  # nothing sent for invalid input
    good = write(tmp_path / "good.yaml", MANIFEST.format(memory=1024))
    monkeypatch.setenv("BL_API_KEY", "wrong-key")
    result = await run_cli("diff", "-f", good)
    assert result.code == 2 and "GET /agents/secret-bot: 401" in result.err and "wrong-key" not in result.err
    monkeypatch.delenv("BL_API_KEY")
    result = await run_cli("diff", "-f", good)
    assert result.code == 2 and "no Blaxel API key" in result.err


OTHER_KINDS = """\
apiVersion: blaxel.ai/v1alpha1
kind: BlaxelVolume
metadata: {name: data}
spec: {region: us-pdx-1, size: 2048}
---
apiVersion: blaxel.ai/v1alpha1
kind: BlaxelIntegrationConnection
metadata: {name: openai}
spec:
  integration: openai
  secret:
    apiKey: {valueFrom: {secretKeyRef: {name: openai, key: api-key}}}
---
apiVersion: blaxel.ai/v1alpha1
kind: BlaxelFunction
metadata: {name: tools}
spec:
  integrationConnectionRefs: [{name: openai}]
  runtime: {image: acme/tools:1}
"""


async def test_every_kind_is_compared_with_its_collection(
    bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path
) -> None:
    sim = bl_env
    sim.seed_object("volumes", {"metadata": {"name": "data"}, "spec": {"region": "us-pdx-1", "size": 2048}})
    sim.seed_object(
        "integrations/connections",
        {
            "metadata": {"name": "openai"},
            "spec": {"integration": "openai", "secret": {"apiKey": SECRET_VALUE}},
        },
    )
    sim.seed_object(
        "functions",
        {
            "metadata": {"name": "tools"},
            "spec": {"integrationConnections": ["openai"], "runtime": {"image": "acme/tools:1"}},
        },
    )
    path = write(tmp_path / "stack.yaml", OTHER_KINDS)
    result = await run_cli("diff", "-f", path)
    assert (result.code, result.out) == (0, ""), result.out + result.err
    assert "volume data exists and is not managed by blaxel-operator" in result.err
    sim.edit_object("volumes", "data", {"spec": {"size": 4096}})
    result = await run_cli("diff", "-f", path)
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "--- live/sandbox/volumes/data"
    assert "-  size: 4096" in lines and "+  size: 2048" in lines
    assert SECRET_VALUE not in result.out + result.err
    assert sim.calls(writes_only=True) == []

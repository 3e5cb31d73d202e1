"""`import` against the simulator: paging over more than 200 agents, masked secrets, unsupported fields,
skipped agents, errors (exit 2, nothing written), stdout stream, progress bar, and render-valid output;
every kind at once (references between what is imported together) or `--kind`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from blaxel_operator.simulator import BlaxelSimulator

from .conftest import SECRET_VALUE, FakeTty, RunCli, agent_body, secret_agent_body


async def test_imports_250_agents_over_two_pages_into_render_valid_files(
    bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path
) -> None:
    sim = bl_env
    for i in range(250):
        sim.seed_agent(agent_body(i))
    out = tmp_path / "agents"
    result = await run_cli("import", "-o", out, "--namespace", "blaxel")
    assert result.code == 0, result.err
    assert result.out == ""
    lists = sim.calls(method="GET", collection="agents")
    assert [c.path for c in lists] == ["/v0/agents", "/v0/agents"]  # 200 + 50, cursor paging
    assert "cursor=" in lists[1].query
    assert len(sim.calls(method="GET")) == 2 + 6  # every other kind listed once: none there
    assert sim.calls(writes_only=True) == []
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"agent-{i:03d}.yaml" for i in range(250))
    assert result.err.strip().splitlines()[-1] == "imported 250 of 250 agents (2 pages) into " + str(out)

    doc = yaml.safe_load((out / "agent-021.yaml").read_text())
    assert doc["metadata"] == {
        "name": "agent-021",
        "namespace": "blaxel",
        "annotations": {"blaxel.ai/adoption-policy": "adopt"},
    }
    spec = doc["spec"]
    assert spec["agentName"] == "agent-021" and spec["workspace"] == "sandbox"
    remote = sim.get_agent("agent-021")
    assert remote is not None
    assert [t["id"] for t in spec["triggers"]] == [t["id"] for t in remote["spec"]["triggers"]]
    assert all("callbackSecret" not in (t.get("configuration") or {}) for t in spec["triggers"])
    assert spec["triggers"][2] == {
        "id": remote["spec"]["triggers"][2]["id"],
        "type": "cron",
        "enabled": False,
        "configuration": {"schedule": "0 3 * * *", "tasks": [{"prompt": "hi"}]},
    }

    rendered = await run_cli("render", "-f", out, "-o", "yaml")
    assert rendered.code == 0, rendered.err
    assert len(list(yaml.safe_load_all(rendered.out))) == 250
    diff = await run_cli("diff", "-f", out, "--rate-limit", "0")
    assert (diff.code, diff.out) == (0, ""), diff.out[:2000]


async def test_secret_envs_become_secret_key_refs_and_a_skeleton_without_values(
    bl_env: BlaxelSimulator, run_cli: RunCli
) -> None:
    bl_env.seed_agent(secret_agent_body())
    result = await run_cli("import")
    assert result.code == 0, result.err
    assert SECRET_VALUE not in result.out + result.err
    secret, manifest = result.docs()
    assert manifest["spec"]["runtime"]["envs"] == [
        {"name": "MODE", "value": "prod"},
        {
            "name": "OPENAI_API_KEY",
            "valueFrom": {"secretKeyRef": {"name": "secret-bot-env", "key": "OPENAI_API_KEY"}},
        },
    ]
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "secret-bot-env"
    assert "data" not in secret and "stringData" not in secret  # keys commented out: nothing to send
    assert '#   OPENAI_API_KEY: ""' in result.out
    assert "updates the agent once" in result.out
    assert "writes nothing if they match" in result.out  # where the key may read them (show_secrets)
    assert "1 with secret envs" in result.err


async def test_unsupported_fields_are_reported_and_unrepresentable_agents_skipped(
    bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path
) -> None:
    sim = bl_env
    sim.set_delete_seconds(60)
    sim.seed_agent(
        {"metadata": {"name": "crm", "externalId": "crm-42"}, "spec": {"runtime": {"image": "a:1"}}}
    )
    sim.seed_agent({"metadata": {"name": "newer"}, "spec": {"runtime": {"image": "a:1"}}})
    sim.seed_agent({"metadata": {"name": "long-label", "labels": {"note": "x" * 80}}, "spec": {}})
    sim.seed_agent({"metadata": {"name": "long-title"}, "spec": {}})
    sim.seed_agent(
        {
            "metadata": {
                "name": "owned",
                "labels": {
                    "x-blaxel-operator-cluster": "prod",
                    "x-blaxel-operator-namespace": "ns1",
                    "x-blaxel-operator-name": "owned",
                    "team": "z",
                },
            },
            "spec": {},
        }
    )
    sim.seed_agent({"metadata": {"name": "going"}, "spec": {}})
    next(r for r in sim.records() if r.name == "newer").spec["runtime"]["timeout"] = 30  # a newer API's field
    # over Blaxel's documented 63 (as from an older API): cannot be a valid BlaxelAgent
    next(r for r in sim.records() if r.name == "long-title").metadata["displayName"] = "x" * 80
    await bl_env_delete(sim, "going")
    out = tmp_path / "out"
    result = await run_cli("import", "-o", out)
    assert result.code == 1, result.err
    err = result.err
    assert "agent crm:" not in err  # metadata.externalId is carried (spec.externalId)
    assert "warning: agent newer: spec.runtime.timeout: not supported by the BlaxelAgent CRD; left out" in err
    # Blaxel states no limit on label values (a Kubernetes label's 63 does not apply): imported
    assert "long-label" not in err
    assert (
        "warning: agent long-title: skipped: it cannot be a valid BlaxelAgent: spec.displayName: Too long: "
        "may not be more than 63 bytes" in err
    ), err
    assert "warning: agent going: skipped: it is DELETING" in err
    assert (
        "warning: agent owned: already managed by blaxel-operator resource ns1/owned of cluster 'prod'" in err
    )
    assert "imported 4 of 6 agents (1 page) into" in err and "2 skipped" in err
    assert sorted(p.name for p in out.iterdir()) == [
        "crm.yaml",
        "long-label.yaml",
        "newer.yaml",
        "owned.yaml",
    ]
    assert yaml.safe_load((out / "long-label.yaml").read_text())["spec"]["labels"] == {"note": "x" * 80}
    assert yaml.safe_load((out / "crm.yaml").read_text())["spec"]["externalId"] == "crm-42"
    owned = yaml.safe_load((out / "owned.yaml").read_text())
    assert owned["spec"]["labels"] == {"team": "z"}


async def bl_env_delete(sim: BlaxelSimulator, name: str) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=sim.url, headers=sim.headers()) as http:
        (await http.delete(f"/agents/{name}")).raise_for_status()


async def test_query_workspace_and_stdout_stream(bl_env: BlaxelSimulator, run_cli: RunCli) -> None:
    sim = bl_env
    for i in range(3):
        sim.seed_agent(agent_body(i))
    sim.seed_agent({"metadata": {"name": "billing-bot"}, "spec": {}}, workspace="team-b")
    result = await run_cli("import", "--query", "agent-001")
    assert result.code == 0, result.err
    assert [d["metadata"]["name"] for d in result.docs()] == ["agent-001"]
    result = await run_cli("import", "--workspace", "team-b", "--deletion-policy", "Orphan")
    docs = result.docs()
    assert [d["metadata"]["name"] for d in docs] == ["billing-bot"]
    assert docs[0]["spec"]["workspace"] == "team-b" and docs[0]["spec"]["deletionPolicy"] == "Orphan"
    assert "namespace" not in docs[0]["metadata"]


async def test_api_errors_exit_2_and_write_nothing(
    bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bl_env.seed_agent(agent_body(1))
    out = tmp_path / "out"
    monkeypatch.setenv("BL_API_KEY", "wrong-key")
    result = await run_cli("import", "-o", out, "--kind", "agents")
    assert result.code == 2
    assert "blaxel-operator: error: listing agents failed: GET /agents: 401" in result.err
    assert "wrong-key" not in result.err
    assert not out.exists()
    monkeypatch.setenv("BL_API_KEY", bl_env.api_key)
    result = await run_cli("import", "-o", out, "--workspace", "other")
    assert result.code == 2 and "listing policies failed: GET /policies: 403" in result.err
    assert not out.exists()
    result = await run_cli("import", "--kind", "Sandbox")
    assert (
        result.code == 2 and "--kind Sandbox: not a kind blaxel-operator manages (BlaxelAgent," in result.err
    )
    monkeypatch.delenv("BL_API_KEY")
    result = await run_cli("import", "-o", out)
    assert result.code == 2 and "no Blaxel API key" in result.err and not out.exists()
    key_file = tmp_path / "key"
    key_file.write_text(bl_env.api_key + "\n")
    result = await run_cli("import", "-o", out, "--api-key-file", key_file)
    assert result.code == 0, result.err
    assert (out / "agent-001.yaml").exists()


async def test_progress_bar_on_a_terminal(
    bl_env: BlaxelSimulator, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        bl_env.seed_agent(agent_body(i))
    tty = FakeTty()
    monkeypatch.setattr(sys, "stderr", tty)
    result = await run_cli("import")
    assert result.code == 0
    text = tty.getvalue()
    assert "\rlisting agents: 5 (page 1)" in text
    assert "\rimporting: [" + "#" * 30 + "] 5/5" in text
    assert text.rstrip("\n").splitlines()[-1].endswith("imported 5 of 5 agents (1 page)")


async def test_every_kind_is_imported_and_what_names_each_other_is_referenced(
    bl_env: BlaxelSimulator, run_cli: RunCli, tmp_path: Path
) -> None:
    sim = bl_env
    sim.seed_object("policies", {"metadata": {"name": "eu"}, "spec": {"type": "location"}})
    sim.seed_object("volumes", {"metadata": {"name": "data"}, "spec": {"region": "us-pdx-1", "size": 1024}})
    sim.seed_object(
        "integrations/connections",
        {
            "metadata": {"name": "openai"},
            "spec": {"integration": "openai", "secret": {"apiKey": SECRET_VALUE}},
        },
    )
    sim.seed_object(
        "models",
        {
            "metadata": {"name": "gpt"},
            "spec": {"integrationConnections": ["openai"], "runtime": {"type": "openai"}},
        },
    )
    sim.seed_object("functions", {"metadata": {"name": "tools"}, "spec": {"policies": ["eu", "other"]}})
    sim.seed_object("jobs", {"metadata": {"name": "nightly"}, "spec": {"runtime": {"image": "a:1"}}})
    sim.seed_agent(
        {
            "metadata": {"name": "bot"},
            "spec": {"region": "us-pdx-1", "volumes": [{"name": "data", "mountPath": "/data"}]},
        }
    )
    out = tmp_path / "all"
    result = await run_cli("import", "-o", out)
    assert result.code == 0, result.err
    assert SECRET_VALUE not in result.err + "".join(p.read_text() for p in out.iterdir())
    assert sorted(p.name for p in out.iterdir()) == [
        "bot.yaml",
        "data.volume.yaml",
        "eu.policy.yaml",
        "gpt.model.yaml",
        "nightly.job.yaml",
        "openai.integrationconnection.secret.yaml",
        "openai.integrationconnection.yaml",
        "tools.function.yaml",
    ]
    assert result.err.strip().splitlines()[-1] == (
        f"imported 1 of 1 policy (1 page), 1 of 1 volume (1 page), 1 of 1 integration connection (1 page), "
        f"1 of 1 model (1 page), 1 of 1 function (1 page), 1 of 1 job (1 page), 1 of 1 agent (1 page) into "
        f"{out}; 1 with secret values: fill in their <name>-secret Secrets"
    )
    connection = yaml.safe_load((out / "openai.integrationconnection.yaml").read_text())
    assert connection["spec"]["secret"] == {
        "apiKey": {"valueFrom": {"secretKeyRef": {"name": "openai-secret", "key": "apiKey"}}}
    }
    assert (
        '#   apiKey: ""  # secret value apiKey (masked by Blaxel)'
        in (out / "openai.integrationconnection.secret.yaml").read_text()
    )
    function = yaml.safe_load((out / "tools.function.yaml").read_text())["spec"]
    assert function["policies"] == ["other"] and function["policyRefs"] == [{"name": "eu"}]
    model = yaml.safe_load((out / "gpt.model.yaml").read_text())["spec"]
    assert model["integrationConnectionRefs"] == [{"name": "openai"}]
    bot = yaml.safe_load((out / "bot.yaml").read_text())["spec"]
    assert bot["volumes"] == [{"volumeRef": {"name": "data"}, "mountPath": "/data"}]
    assert "note: function tools: spec.policies: eu -> spec.policyRefs" in result.err

    rendered = await run_cli("render", "-f", out, "-o", "yaml")
    assert rendered.code == 0, rendered.err
    diff = await run_cli("diff", "-f", out, "--rate-limit", "0")
    assert (diff.code, diff.out) == (0, ""), diff.out[:2000]  # adopting writes nothing

    only = await run_cli("import", "--kind", "BlaxelPolicy", "-k", "volumes")
    assert [d["kind"] for d in only.docs()] == ["BlaxelPolicy", "BlaxelVolume"]
    assert only.err.strip().splitlines()[-1] == "imported 1 of 1 policy (1 page), 1 of 1 volume (1 page)"

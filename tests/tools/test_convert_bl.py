"""`convert` reads `bl apply` manifests as Blaxel's `bl` CLI reads them: references substituted across the
whole file before parsing (`$VAR`, `${VAR}`, `${VAR:default}`, `$secrets.X`, `$secrets.X:default`,
`${secrets.X}`, `${secrets.X:default}`; environment, then .env files, then the default), secrets in env
values turned into Secret references, unresolved references refused naming file, document and field, any
Blaxel/Beamlit apiVersion or none, YAML and JSON (also `bl get -o json` arrays), several kinds per file,
misplaced fields moved with a warning, and a template-like project folder (tests/tools/data/bl-template)."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from blaxel_operator.tools.bl_manifests import Variables, parse_dotenv, restore, tokenize
from blaxel_operator.tools.mapping import AGENT, MAPPINGS

from .conftest import DATA, Result, run_sync, write

TEMPLATE = DATA / "bl-template"
# Names these tests set or expect unset; cleared so that the machine's environment cannot interfere.
NAMES = (
    "BLX_IMAGE",
    "BLX_TAG",
    "BLX_MEMORY",
    "BLX_UNSET",
    "BLX_OTHER",
    "BLX_TOKEN",
    "BLX_KEY",
    "BLX_REGION",
    "secrets",
    "REGISTRY",
    "TEAM",
    "MEMORY",
    "LOG_LEVEL",
    "DB_USER",
    "VERSION",
    "BL_REGION",
    "OPENAI_API_KEY",
    "DB_PASSWORD",
    "SEARCH_API_KEY",
    "SEARCH_URL",
)
ENV_SECRET = "env-secret-value-never-written"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A working directory of its own (no stray .env) and none of the names above in the environment."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def agent_yaml(spec: str, name: str = "bot", head: str = "apiVersion: blaxel.ai/v1alpha1\n") -> str:
    return f"{head}kind: Agent\nmetadata:\n  name: {name}\nspec:\n{spec}"


def convert(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, *args: str, name: str = "in.yaml"
) -> Result:
    path = write(tmp_path / "in" / name, text)
    return run_sync(capsys, "convert", "-f", path, *args)


def agents(result: Result) -> list[dict[str, Any]]:
    assert result.code == 0, result.err
    return [d for d in result.docs() if d["kind"] == "BlaxelAgent"]


def runtime_of(result: Result) -> dict[str, Any]:
    (agent,) = agents(result)
    runtime: dict[str, Any] = agent["spec"]["runtime"]
    return runtime


# ---- variables ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "environ", "expected"),
    [
        ("$BLX_IMAGE", {"BLX_IMAGE": "acme/bot:1"}, "acme/bot:1"),
        ("${BLX_IMAGE}", {"BLX_IMAGE": "acme/bot:1"}, "acme/bot:1"),
        ("acme/bot:${BLX_TAG:2}", {}, "acme/bot:2"),  # the default
        ("acme/bot:${BLX_TAG:2}", {"BLX_TAG": "3"}, "acme/bot:3"),  # the environment wins
        ("acme/bot:${BLX_TAG:-2}", {}, "acme/bot:-2"),  # not bash: the default is what follows ':'
        ("acme/${BLX_IMAGE}:$BLX_TAG", {"BLX_IMAGE": "bot", "BLX_TAG": "4"}, "acme/bot:4"),
        ("acme/bot$$BLX_TAG", {"BLX_TAG": "5"}, "acme/bot$5"),  # no escape: `$` then $BLX_TAG
        ("acme/bot:${ BLX_TAG }", {"BLX_TAG": "6"}, "acme/bot:${ BLX_TAG }"),  # not a reference for bl
        ("acme/bot:${}", {}, "acme/bot:${}"),
        ("$secrets", {"secrets": "acme/s:1"}, "acme/s:1"),  # a variable named `secrets`
    ],
)
def test_each_variable_form_is_substituted_like_bl(
    image: str,
    environ: dict[str, str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    result = convert(capsys, tmp_path, agent_yaml(f"  runtime:\n    image: '{image}'\n"))
    assert runtime_of(result)["image"] == expected


def test_variables_are_substituted_before_parsing_in_any_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BLX_REGION", "eu-lon-1")
    monkeypatch.setenv("BLX_OTHER", "")  # set but empty: used as is, the default is not taken
    text = (
        "apiVersion: blaxel.ai/v1alpha1\n"
        "kind: Agent\n"
        "metadata:\n"
        "  name: ${BLX_UNSET:support}-bot\n"
        "  displayName: Bot ${BLX_OTHER:ignored}\n"
        "  labels: {team: '${BLX_UNSET:core}'}\n"
        "spec:\n"
        "  region: $BLX_REGION\n"
        "  public: ${BLX_UNSET:true}\n"
        "  runtime:\n"
        "    memory: ${BLX_MEMORY:2048}   # a number stays a number, as in bl\n"
        "    maxScale: ${BLX_UNSET:3}\n"
        "  triggers:\n"
        "    - type: http\n"
        "      configuration: {path: '/${BLX_UNSET:chat}'}\n"
    )
    (agent,) = agents(convert(capsys, tmp_path, text))
    assert agent["metadata"]["name"] == "support-bot"
    spec = agent["spec"]
    assert spec["agentName"] == "support-bot" and spec["displayName"] == "Bot"  # "Bot " parsed as YAML
    assert spec["labels"] == {"team": "core"}
    assert spec["region"] == "eu-lon-1" and spec["public"] is True
    assert spec["runtime"] == {"memory": 2048, "maxScale": 3}
    assert spec["triggers"][0]["configuration"] == {"path": "/chat"}


def test_comments_may_hold_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = agent_yaml(
        "  # costs $5 a day; set $BLX_UNSET and ${secrets.BLX_KEY} before bl apply\n  enabled: true\n"
    )
    (agent,) = agents(convert(capsys, tmp_path, text))
    assert agent["spec"]["enabled"] is True


def test_dotenv_of_the_working_directory_then_env_files(
    clean_environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(clean_environment / ".env", "BLX_IMAGE=from-dotenv\nBLX_TAG=\nexport BLX_REGION='eu-lon-1'\n")
    text = agent_yaml("  region: $BLX_REGION\n  runtime:\n    image: $BLX_IMAGE:${BLX_TAG:7}\n")
    result = convert(capsys, tmp_path, text)
    spec = agents(result)[0]["spec"]
    assert spec["runtime"]["image"] == "from-dotenv:7"  # an empty .env value is not taken: the default is
    assert spec["region"] == "eu-lon-1"
    assert "note: read variables from .env" in result.err

    monkeypatch.setenv("BLX_IMAGE", "from-environment")  # the environment comes before .env, as in bl
    assert runtime_of(convert(capsys, tmp_path, text))["image"] == "from-environment:7"

    other = write(tmp_path / "prod.env", 'BLX_TAG="8"\nBLX_REGION=us-pdx-1\n')
    result = convert(capsys, tmp_path, text, "--env-file", str(other))  # replaces the default .env
    spec = agents(result)[0]["spec"]
    assert spec["runtime"]["image"] == "from-environment:8" and spec["region"] == "us-pdx-1"

    missing = convert(capsys, tmp_path, text, "-e", str(tmp_path / "nope.env"))
    assert missing.code == 2 and "nope.env: cannot read" in missing.err

    write(clean_environment / ".env", "BLX_REGION=x\nBAD-NAME=1\n")  # bl ignores a .env it cannot read
    monkeypatch.setenv("BLX_REGION", "eu-lon-1")
    result = convert(capsys, tmp_path, text)
    assert "warning: .env: not a valid .env file: line 2: unexpected character '-' in a variable name" in (
        result.err
    )
    assert runtime_of(result)["image"] == "from-environment:7"


def test_dotenv_files_are_read_like_godotenv() -> None:
    text = (
        "# a comment\n"
        "export A=1\n"
        "B = two words   # a comment\n"
        "C='single $A #not a comment'\n"
        'D="double $A\\nline ${B}"\n'
        "E: yaml-style\n"
        "F=\n"
        'G="multi\nline"\n'
        "H=a#b\n"
    )
    assert parse_dotenv(text) == {
        "A": "1",
        "B": "two words",
        "C": "single $A #not a comment",
        "D": "double 1\nline two words",
        "E": "yaml-style",
        "F": "",
        "G": "multi\nline",
        "H": "a#b",
    }
    with pytest.raises(ValueError, match="line 1: unexpected character"):
        parse_dotenv("BAD-NAME=1\n")
    with pytest.raises(ValueError, match="unterminated quoted value"):
        parse_dotenv('A="open\n')


def test_references_are_found_with_bl_syntax() -> None:
    text = "a: $X b: ${Y:d} c: $secrets.S d: $secrets.T:dflt e: ${secrets.U} f: ${ secrets.V:w } g: $secrets"
    tokenized, refs = tokenize(text, Variables({}))
    assert [(r.secret, r.name, r.default) for r in refs] == [
        (False, "X", ""),
        (False, "Y", "d"),
        (False, "secrets", ""),  # a bare `$secrets` is a variable
        (True, "S", ""),
        (True, "T", "dflt"),
        (True, "U", ""),
        (True, "V", "w"),
    ]
    assert restore(tokenized, refs) == text


# ---- secrets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["${secrets.BLX_KEY}", "${secrets.BLX_KEY:fallback}", "$secrets.BLX_KEY", "$secrets.BLX_KEY:fallback"],
)
def test_a_secret_in_an_env_value_becomes_a_secret_reference(
    value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BLX_KEY", ENV_SECRET)  # even when it resolves, its value is never written
    text = agent_yaml(f"  runtime:\n    envs:\n      - name: API_KEY\n        value: {value}\n")
    out = tmp_path / "out"
    result = convert(capsys, tmp_path, text, "-o", str(out))
    assert result.code == 0, result.err
    agent = yaml.safe_load((out / "bot.yaml").read_text())
    assert agent["spec"]["runtime"]["envs"] == [
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "bot-env", "key": "API_KEY"}}}
    ]
    skeleton = (out / "bot.secret.yaml").read_text()
    assert f"#   API_KEY: \"\"  # was '{value}': the secret BLX_KEY of `bl`" in skeleton
    assert ("default 'fallback'" in skeleton) == ("fallback" in value)
    everything = result.err + result.out + "".join(p.read_text() for p in out.iterdir())
    assert ENV_SECRET not in everything


def test_secret_envs_keep_every_reference_and_plain_envs_are_substituted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BLX_TOKEN", ENV_SECRET)
    monkeypatch.setenv("BLX_OTHER", "plain")
    text = agent_yaml(
        "  runtime:\n"
        "    envs:\n"
        "      - {name: TOKEN, value: '${BLX_TOKEN}', secret: true}\n"  # a variable holding a secret
        "      - {name: DSN, value: 'postgres://${BLX_OTHER}:${secrets.BLX_KEY}@db/x'}\n"
        "      - {name: MODE, value: '$BLX_OTHER'}\n"
        "      - {name: MASKED, value: '********', secret: true}\n"
    )
    result = convert(capsys, tmp_path, text)
    envs = runtime_of(result)["envs"]
    ref = {"name": "bot-env"}
    assert envs == [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {**ref, "key": "TOKEN"}}},
        {"name": "DSN", "valueFrom": {"secretKeyRef": {**ref, "key": "DSN"}}},
        {"name": "MODE", "value": "plain"},
        {"name": "MASKED", "valueFrom": {"secretKeyRef": {**ref, "key": "MASKED"}}},
    ]
    assert "#   DSN: \"\"  # was 'postgres://${BLX_OTHER}:${secrets.BLX_KEY}@db/x'" in result.out
    assert ENV_SECRET not in result.out + result.err


def test_a_secret_elsewhere_is_substituted_as_bl_does_with_a_warning(
    clean_environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(clean_environment / ".env", "BLX_REGION=eu-lon-1\n")
    text = agent_yaml(
        "  region: ${secrets.BLX_REGION}\n  runtime:\n    image: 'acme/bot:${secrets.BLX_TAG:9}'\n"
    )
    result = convert(capsys, tmp_path, text)
    spec = agents(result)[0]["spec"]
    assert spec["region"] == "eu-lon-1" and spec["runtime"]["image"] == "acme/bot:9"
    assert (
        "document 1 (Agent bot): spec.region: ${secrets.BLX_REGION} substituted from .env, as `bl apply` does: "
        "the secret's value is now in the manifest in plain text" in result.err
    )
    assert "spec.runtime.image: ${secrets.BLX_TAG:9} substituted from its default" in result.err
    assert "eu-lon-1" not in result.err  # the warning names the secret, never its value


# ---- unresolved references ----------------------------------------------------------------------------


def test_unresolved_references_are_errors_naming_file_document_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        agent_yaml("  enabled: true\n", name="fine")
        + "---\n"
        + agent_yaml(
            "  runtime:\n"
            "    image: ${BLX_IMAGE}/bot:1\n"
            "    envs:\n"
            "      - {name: MODE, value: '${BLX_UNSET:}'}\n"  # an empty default does not count
            "  triggers:\n"
            "    - type: cron\n"
            "      configuration: {schedule: '0 1 * * *', tasks: [{prompt: 'spend $5 at most'}]}\n",
            name="broken",
        )
        + "---\n"
        + agent_yaml("  region: ${secrets.BLX_REGION}\n", name="other")
    )
    out = tmp_path / "out"
    result = convert(capsys, tmp_path, text, "-o", str(out))
    assert result.code == 2 and not out.exists() and result.out == ""
    path = tmp_path / "in" / "in.yaml"
    lines = result.err.splitlines()
    assert lines[0] == (
        f"blaxel-operator: error: {path}: document 2 (Agent broken): spec.runtime.image: ${{BLX_IMAGE}} cannot be "
        "resolved: the variable BLX_IMAGE is not set in the environment or a .env file and has no default (set "
        "it, give a default as ${BLX_IMAGE:VALUE}, or pass --keep-unresolved to keep it as written, as `bl "
        "apply` does)"
    )
    assert (
        f"{path}: document 2 (Agent broken): spec.runtime.envs[0].value: ${{BLX_UNSET:}} cannot be resolved"
        in (lines[1])
    )
    assert "spec.triggers[0].configuration.tasks[0].prompt: $5 cannot be resolved" in lines[2]
    assert "`bl` has no escape for `$`: it reads $5 as a variable" in lines[2]
    assert lines[3].endswith(
        f"{path}: document 3 (Agent other): spec.region: ${{secrets.BLX_REGION}} cannot be resolved: the secret "
        "BLX_REGION is not set in the environment or a .env file and has no default (set it, give a default as "
        "${secrets.BLX_REGION:VALUE}, or pass --keep-unresolved to keep it as written, as `bl apply` does)"
    )
    assert len(lines) == 4


def test_keep_unresolved_keeps_them_as_written_like_bl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = agent_yaml(
        "  runtime:\n    image: acme/bot:$BLX_TAG\n"
        "  triggers:\n    - type: cron\n      configuration: {schedule: '0 1 * * *', tasks: [{prompt: 'spend $5'}]}\n"
    )
    result = convert(capsys, tmp_path, text, "--keep-unresolved")
    (agent,) = agents(result)
    assert agent["spec"]["runtime"]["image"] == "acme/bot:$BLX_TAG"
    assert agent["spec"]["triggers"][0]["configuration"]["tasks"] == [{"prompt": "spend $5"}]
    assert (
        "(Agent bot): spec.runtime.image: $BLX_TAG is not resolved; kept as written, as `bl apply` does"
        in (result.err)
    )


def test_documents_that_are_skipped_may_hold_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "apiVersion: blaxel.ai/v1alpha1\nkind: Sandbox\nmetadata: {name: c}\n"
        "spec: {runtime: {image: '${secrets.BLX_KEY}'}, config: {x: $BLX_UNSET}}\n"
        "---\n" + agent_yaml("  enabled: true\n")
    )
    result = convert(capsys, tmp_path, text)
    assert [a["metadata"]["name"] for a in agents(result)] == ["bot"]
    assert "(Sandbox c): kind Sandbox (known to `bl apply`) is not supported" in result.err


# ---- apiVersion, kind, JSON, several kinds ------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        "apiVersion: blaxel.ai/v1alpha1\n",
        "apiVersion: blaxel/v1alpha1\n",
        "apiVersion: beamlit.com/v1alpha1\n",
        "",  # none: bl matches on kind alone
    ],
)
def test_every_api_version_that_bl_accepts(
    head: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (agent,) = agents(convert(capsys, tmp_path, agent_yaml("  enabled: true\n", head=head)))
    assert agent["apiVersion"] == "blaxel.ai/v1alpha1" and agent["kind"] == "BlaxelAgent"
    assert agent["spec"] == {"agentName": "bot", "enabled": True}


def test_documents_that_are_not_bl_manifests_are_skipped_precisely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: k8s-job}\n---\n"
        "kind: agent\nmetadata: {name: lower}\n---\n"
        "apiVersion: blaxel.ai/v1alpha1\nkind: Gadget\nmetadata: {name: g}\n---\n"
        "apiVersion: blaxel.ai/v1alpha1\nkind: BlaxelAgent\nmetadata: {name: ours}\n"
    )
    result = convert(capsys, tmp_path, text)
    assert result.code == 0 and result.out == ""
    assert (
        "document 1 (Job k8s-job): batch/v1/Job is not a Blaxel manifest (`bl apply` would take it for a Blaxel "
        "Job: it matches on kind alone); skipped" in result.err
    )
    assert (
        "document 2 (agent lower): kind agent is not a kind `bl apply` knows (did you mean Agent? `bl` compares "
        "kinds exactly and ignores it); skipped" in result.err
    )
    assert "document 3 (Gadget g): kind Gadget is not a kind `bl apply` knows" in result.err
    assert "document 4 (BlaxelAgent ours): already a BlaxelAgent; skipped" in result.err
    assert result.err.splitlines()[-1] == "converted nothing from 4 documents; 4 documents skipped"


def test_a_json_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BLX_MEMORY", "1024")
    text = '{"kind": "Agent", "metadata": {"name": "j"}, "spec": {"runtime": {"memory": $BLX_MEMORY}}}'
    (agent,) = agents(convert(capsys, tmp_path, text, name="agent.json"))
    assert agent["spec"]["runtime"] == {"memory": 1024}


def test_the_json_array_of_bl_get(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items: list[dict[str, Any]] = [
        {
            "apiVersion": "blaxel.ai/v1alpha1",
            "kind": "Agent",
            "metadata": {
                "name": f"agent-{i}" if i < 2 else "Bad_Name",
                "workspace": "acme",
                "createdAt": "2026-08-01T10:00:00Z",
            },
            "spec": {"runtime": {"image": f"acme/a:{i}", "memory": 512}},
            "status": "DEPLOYED" if i else "-",
        }
        for i in range(3)
    ]
    result = convert(capsys, tmp_path, json.dumps(items, indent=2), name="agents.json")
    assert result.code == 2
    assert (
        f"{tmp_path / 'in' / 'agents.json'}: document 1 item 3 (Agent Bad_Name): metadata.name: Invalid"
        in (result.err)
    )
    items.pop()
    result = convert(capsys, tmp_path, json.dumps(items), name="agents.json")
    assert [a["metadata"]["name"] for a in agents(result)] == ["agent-0", "agent-1"]
    assert "warning" not in result.err  # status and read-only metadata are expected in `bl get` output


def test_json_on_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('[{"kind": "Agent", "metadata": {"name": "s"}}]'))
    result = run_sync(capsys, "convert", "-f", "-")
    assert [a["metadata"]["name"] for a in agents(result)] == ["s"]


def test_several_kinds_in_one_file_name_each_other_by_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "kind: Volume\nmetadata: {name: data}\nspec: {size: 1024, region: eu-lon-1}\n---\n"
        "apiVersion: blaxel.ai/v1alpha1\nkind: Policy\nmetadata: {name: eu}\nspec: {type: location}\n---\n"
        + agent_yaml(
            "  region: eu-lon-1\n  policies: [eu, elsewhere]\n"
            "  volumes: [{name: data, mountPath: /data}, {name: other, mountPath: /o}]\n",
            name="a1",
            head="",
        )
        + "---\n"
        + agent_yaml("  enabled: false\n", name="a2", head="apiVersion: beamlit.com/v1alpha1\n")
    )
    result = convert(capsys, tmp_path, text)
    assert [a["metadata"]["name"] for a in agents(result)] == ["a1", "a2"]
    assert [d["kind"] for d in result.docs()] == [
        "BlaxelPolicy",
        "BlaxelVolume",
        "BlaxelAgent",
        "BlaxelAgent",
    ]
    a1 = agents(result)[0]["spec"]
    assert a1["policies"] == ["elsewhere"] and a1["policyRefs"] == [{"name": "eu"}]
    assert a1["volumes"] == [
        {"volumeRef": {"name": "data"}, "mountPath": "/data"},
        {"name": "other", "mountPath": "/o"},
    ]
    assert "(Agent a1): spec.policies: eu -> spec.policyRefs" in result.err
    assert result.err.splitlines()[-1] == "converted 1 Policy, 1 Volume, 2 Agents from 4 documents"


# ---- misplaced fields ---------------------------------------------------------------------------------


def test_misplaced_fields_are_moved_with_a_precise_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "kind: Agent\n"
        "metadata: {name: bot}\n"
        "region: eu-lon-1\n"  # a spec field at the top level
        "spec:\n"
        "  envs: [{name: MODE, value: fast}]\n"  # a runtime field directly in spec
        "  volumes: [{name: a, mountPath: /a, type: ephemeral, sizeMb: 64}]\n"
        "  runtime:\n"
        "    image: acme/bot:1\n"
        "    volumes:\n"  # a spec field in the runtime, merged by name
        "      - {name: a, mountPath: /a, type: ephemeral, sizeMb: 64}\n"
        "      - {name: b, mountPath: /b, type: ephemeral, sizeMb: 64}\n"
        "    public: true\n"
        "status: DEPLOYED\n"
    )
    result = convert(capsys, tmp_path, text)
    (agent,) = agents(result)
    spec = agent["spec"]
    assert spec["region"] == "eu-lon-1" and spec["public"] is True
    assert spec["runtime"] == {"image": "acme/bot:1", "envs": [{"name": "MODE", "value": "fast"}]}
    assert [v["name"] for v in spec["volumes"]] == ["a", "b"]
    at = f"{tmp_path / 'in' / 'in.yaml'}: document 1 (Agent bot)"
    assert (
        f"warning: {at}: region: at the top level of the document, where `bl apply` ignores it (it reads "
        "apiVersion, kind, metadata and spec); moved to spec.region (applying this manifest sets it on the agent)"
    ) in result.err
    assert (
        f"warning: {at}: spec.envs: misplaced: Blaxel reads envs in spec.runtime, not in spec, so `bl apply` did "
        "not send it; moved to spec.runtime.envs (applying this manifest sets it on the agent)"
    ) in result.err
    assert (
        f"warning: {at}: spec.runtime.volumes: misplaced: Blaxel reads volumes in spec, not in spec.runtime, so "
        "`bl apply` did not send it; 1 item appended to spec.volumes (applying this manifest sets it on the "
        "agent), the others are already there"
    ) in result.err
    assert f"{at}: spec.runtime.public: misplaced" in result.err
    assert "status" not in result.err


def test_misplaced_fields_that_conflict_are_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = agent_yaml("  region: eu-lon-1\n  runtime:\n    region: us-pdx-1\n    image: x\n  image: x\n")
    result = convert(capsys, tmp_path, text)
    spec = agents(result)[0]["spec"]
    assert spec["region"] == "eu-lon-1" and spec["runtime"] == {"image": "x"}
    assert "spec.runtime.region: misplaced" in result.err
    assert "spec.region is already set to a different value; left out" in result.err
    assert (
        "spec.image: misplaced" in result.err
        and "spec.runtime.image already holds the same value; dropped" in (result.err)
    )


# ---- the kind registry ------------------------------------------------------------------------------


def test_a_kind_plugs_in_through_one_mapping_entry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another `bl` kind mapped (here onto the agent CRD, for want of another kind in this version): the
    same reading, secrets, file names and summary, driven by its entry."""
    entry = dataclasses.replace(
        AGENT, bl_kind="Sandbox", noun="sandbox", file_stem="{name}.{kind}", secret_suffix="sbx"
    )
    monkeypatch.setitem(MAPPINGS, "Sandbox", entry)
    text = (
        "apiVersion: blaxel.ai/v1alpha1\nkind: Sandbox\nmetadata: {name: box}\n"
        "spec: {runtime: {envs: [{name: KEY, value: '${secrets.BLX_KEY}'}]}}\n---\n"
        + agent_yaml("  enabled: true\n", name="bot")
    )
    out = tmp_path / "out"
    result = convert(capsys, tmp_path, text, "-o", str(out))
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == [
        "bot.yaml",
        "box.sandbox.secret.yaml",
        "box.sandbox.yaml",
    ]
    sandbox = yaml.safe_load((out / "box.sandbox.yaml").read_text())
    assert sandbox["spec"]["runtime"]["envs"][0]["valueFrom"]["secretKeyRef"]["name"] == "box-sbx"
    assert "Applying it adopts the existing sandbox" in (out / "box.sandbox.yaml").read_text()
    assert result.err.splitlines()[-1].startswith("converted 1 Agent, 1 Sandbox from 2 documents")


# ---- a template-like project ------------------------------------------------------------------------------


def test_a_template_project_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bl apply -f .blaxel -R` run from the project root, whose .env holds the values."""
    monkeypatch.chdir(TEMPLATE)
    out = tmp_path / "out"
    result = run_sync(capsys, "convert", "-f", ".blaxel", "-R", "-o", out, "--namespace", "research")
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == [
        "eu-only.policy.yaml",
        "gpt-4o-mini.model.yaml",
        "nightly-digest.job.secret.yaml",
        "nightly-digest.job.yaml",
        "openai.integrationconnection.secret.yaml",
        "openai.integrationconnection.yaml",
        "research-data.volume.yaml",
        "researcher.secret.yaml",
        "researcher.yaml",
        "search-connection.integrationconnection.secret.yaml",
        "search-connection.integrationconnection.yaml",
        "search.function.yaml",
        "summarizer.secret.yaml",
        "summarizer.yaml",
        "translator.yaml",
    ]
    err = result.err
    assert "(Sandbox scratchpad): kind Sandbox (known to `bl apply`) is not supported" in err
    assert "note: read variables from .env" in err
    assert err.splitlines()[-1] == (
        f"converted 1 Policy, 1 Volume, 2 IntegrationConnections, 1 Model, 1 Function, 1 Job, 3 Agents from "
        f"11 documents into {out}; 5 with values from a Secret: fill in their <name>-env, <name>-secret "
        "Secrets, 1 document skipped"
    )
    # an integration connection's secret values come from a Secret, whatever the manifest held
    connection = yaml.safe_load((out / "search-connection.integrationconnection.yaml").read_text())
    assert connection["spec"] == {
        "connectionName": "search-connection",
        "integration": "exa",
        "secret": {
            "apiKey": {"valueFrom": {"secretKeyRef": {"name": "search-connection-secret", "key": "apiKey"}}}
        },
    }
    skeleton = (out / "search-connection.integrationconnection.secret.yaml").read_text()
    assert yaml.safe_load(skeleton)["metadata"]["name"] == "search-connection-secret"
    assert "#   apiKey: \"\"  # was '${secrets.SEARCH_API_KEY}'" in skeleton
    # names of resources of the same folder become references
    function = yaml.safe_load((out / "search.function.yaml").read_text())["spec"]
    assert function["integrationConnectionRefs"] == [{"name": "search-connection"}]
    assert "integrationConnections" not in function
    assert "(Function search): spec.runtime.type: not supported by the BlaxelFunction CRD" in err
    model = yaml.safe_load((out / "gpt-4o-mini.model.yaml").read_text())["spec"]
    assert model["integrationConnectionRefs"] == [{"name": "openai"}]
    job = yaml.safe_load((out / "nightly-digest.job.yaml").read_text())["spec"]
    assert job["runtime"]["envs"][0]["valueFrom"]["secretKeyRef"] == {
        "name": "nightly-digest-env",
        "key": "OPENAI_API_KEY",
    }

    researcher = yaml.safe_load((out / "researcher.yaml").read_text())
    spec = researcher["spec"]
    assert spec["region"] == "eu-lon-1"  # ${BL_REGION:us-pdx-1}, from .env
    assert spec["labels"] == {"x-blaxel-auto-generated": "true", "team": "research"}
    assert spec["runtime"]["image"] == "blaxel/researcher:1.2.0"
    assert spec["runtime"]["memory"] == 4096
    envs = {e["name"]: e for e in spec["runtime"]["envs"]}
    assert envs["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "info"}
    for name in ("OPENAI_API_KEY", "SEARCH_URL", "DATABASE_URL"):
        assert envs[name]["valueFrom"]["secretKeyRef"] == {"name": "researcher-env", "key": name}
    assert spec["volumes"] == [
        {"name": "research-cache", "mountPath": "/cache", "type": "ephemeral", "sizeMb": 512}
    ]
    assert spec["policyRefs"] == [{"name": "eu-only"}] and "policies" not in spec
    assert (
        "(Agent researcher): spec.runtime.volumes: misplaced: Blaxel reads volumes in spec, not in spec.runtime"
        in err
    )

    summarizer = yaml.safe_load((out / "summarizer.yaml").read_text())
    assert summarizer["spec"]["runtime"]["envs"][1]["valueFrom"]["secretKeyRef"]["key"] == "OPENAI_API_KEY"
    assert "callbackSecret" not in (out / "summarizer.yaml").read_text()
    assert (
        ".blaxel/exported/agents.json: document 1 item 2 (Agent translator)"
        in (out / "translator.yaml").read_text()
    )

    written = "".join(p.read_text() for p in out.iterdir())
    assert "never-written" not in written + err  # the .env's secret values
    rendered = run_sync(capsys, "render", "-f", out)
    assert rendered.code == 0, rendered.err


def test_connection_secret_values_are_never_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "kind: IntegrationConnection\nmetadata: {name: c}\n"
        "spec: {integration: openai, config: {org: acme}, secret: {apiKey: sk-literal-never-written, "
        "token: '********'}}\n"
    )
    result = convert(capsys, tmp_path, text)
    assert result.code == 0, result.err
    assert "never-written" not in result.out + result.err
    secret, connection = result.docs()
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "c-secret"
    assert connection["spec"]["secret"] == {
        key: {"valueFrom": {"secretKeyRef": {"name": "c-secret", "key": key}}} for key in ("apiKey", "token")
    }
    assert '#   apiKey: ""  # secret value apiKey (written in the manifest, not copied)' in result.out
    assert '#   token: ""  # secret value token (masked in the input)' in result.out
    assert "spec.secret.apiKey: the value in the manifest is not copied" in result.err

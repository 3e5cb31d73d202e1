"""`render`: payloads of valid manifests; the CRD's rules (schema, CEL, unknown fields) with file, document
and field named on error, exit code 2; the packaged CRD equals the repository's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from blaxel_operator.kinds import agent
from blaxel_operator.kinds.registry import KINDS
from blaxel_operator.schema import crd_file_name, validate_object
from blaxel_operator.tools.common import load_documents
from blaxel_operator.tools.render import load_resources

from .conftest import REPO, run_sync, write

VALID = """\
apiVersion: blaxel.ai/v1alpha1
kind: BlaxelAgent
metadata:
  name: bot
  namespace: team-a
spec:
  displayName: Bot
  labels: {team: a}
  runtime:
    image: acme/bot:1
    memory: 2048
    envs:
      - name: TOKEN
        valueFrom: {secretKeyRef: {name: bot-secrets, key: token}}
"""

INVALID = """\
apiVersion: v1
kind: Secret
metadata: {name: ignored}
---
apiVersion: blaxel.ai/v1alpha1
kind: BlaxelAgent
metadata: {name: broken}
spec:
  runtime: {memory: -64, minScale: 3, maxScale: 1, cpu: 2}
  volumes: [{name: data, mountPath: /data}]
  triggers: [{type: cron}]
---
apiVersion: blaxel.ai/v1alpha1
kind: BlaxelAgent
metadata: {name: Not_A_Name}
spec: {}
"""


def test_packaged_crd_is_the_repository_crd() -> None:
    name = crd_file_name(agent.KIND)
    packaged = REPO / "operator" / "blaxel_operator" / "crds" / name
    assert packaged.read_bytes() == (REPO / "crds" / name).read_bytes(), (
        f"operator/blaxel_operator/crds/{name} must be a byte-identical copy of crds/{name}: copy it again"
    )


def test_render_prints_the_payload_with_owner_labels_and_secret_placeholders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_sync(capsys, "render", "-f", write(tmp_path / "bot.yaml", VALID), "--cluster-id", "c1")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert payload["metadata"] == {
        "name": "bot",
        "displayName": "Bot",
        "labels": {
            "team": "a",
            "x-blaxel-operator-cluster": "c1",
            "x-blaxel-operator-namespace": "team-a",
            "x-blaxel-operator-name": "bot",
        },
    }
    assert payload["spec"]["runtime"]["envs"] == [
        {"name": "TOKEN", "value": "<secret bot-secrets/token>", "secret": True}
    ]


def test_render_examples_directory_as_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_sync(capsys, "render", "-f", REPO / "examples", "-o", "yaml")
    assert result.code == 0, result.err
    names = [doc["metadata"]["name"] for doc in yaml.safe_load_all(result.out)]
    assert "support-bot" in names and len(names) >= 3
    result = run_sync(capsys, "render", "-f", REPO / "examples" / "stack", "-o", "yaml")
    assert result.code == 0, result.err
    folders = [str(REPO / "examples"), str(REPO / "examples" / "stack")]
    resources = load_resources(load_documents(folders, recursive=False))
    assert {r.kind.kind for r in resources} == {k.kind for k in KINDS}  # an example of every kind


def test_invalid_manifests_name_file_document_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "agents.yaml", INVALID)
    result = run_sync(capsys, "render", "-f", path)
    assert result.code == 2
    assert result.out == ""
    lines = result.err.splitlines()
    at = f"{path}: document 2 (BlaxelAgent broken): "
    expected = [
        at + 'unknown field "spec.runtime.cpu"',
        at
        + "spec.runtime.memory: Invalid value: -64: spec.runtime.memory in body should be greater than or equal to 0",
        at + 'spec.runtime: Invalid value: "object": runtime.minScale must not exceed runtime.maxScale',
        at + 'spec.triggers[0]: Invalid value: "object": a cron trigger needs configuration.schedule',
        at + 'spec: Invalid value: "object": spec.region is required when volumes are attached',
    ]
    for line in expected:
        assert f"blaxel-operator: error: {line}" in lines, result.err
    third = f"{path}: document 3 (BlaxelAgent Not_A_Name): "
    assert any(
        line.startswith(f"blaxel-operator: error: {third}metadata.name: Invalid value") for line in lines
    )
    assert any("set spec.agentName" in line and third in line for line in lines)
    assert "ignored" not in result.err  # the Secret is skipped


def test_other_kinds_and_malformed_yaml_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = write(tmp_path / "deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
    result = run_sync(capsys, "render", "-f", other)
    assert (
        result.code == 2
        and "document 1 (Deployment x): apps/v1/Deployment is not a BlaxelAgent, BlaxelFunction,"
        in result.err
    )
    bad = write(tmp_path / "bad.yaml", "kind: BlaxelAgent\nspec: [unclosed\n")
    result = run_sync(capsys, "render", "-f", bad)
    assert result.code == 2 and f"{bad}: not valid YAML" in result.err
    result = run_sync(capsys, "render", "-f", tmp_path / "missing.yaml")
    assert result.code == 2 and "no such file or directory" in result.err


def test_recursive_directories_and_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "a" / "bot.yaml", VALID)
    assert run_sync(capsys, "render", "-f", tmp_path).code == 2  # nothing at the top: "no manifests found"
    result = run_sync(capsys, "render", "-f", tmp_path, "-R")
    assert result.code == 0 and json.loads(result.out)["metadata"]["name"] == "bot"
    write(tmp_path / "b" / "again.yml", VALID)
    result = run_sync(capsys, "render", "-f", tmp_path, "-R")
    assert result.code == 2 and "team-a/bot is already defined by" in result.err


def test_validate_object_accepts_the_examples() -> None:
    kinds = {k.kind: k for k in KINDS}
    for path in sorted((REPO / "examples").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") in kinds:
                assert validate_object(kinds[doc["kind"]], doc) == [], path


def test_every_kind_renders_and_references_render_as_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "stack.yaml",
        "apiVersion: blaxel.ai/v1alpha1\nkind: BlaxelPolicy\nmetadata: {name: eu}\nspec: {type: location}\n"
        "---\napiVersion: blaxel.ai/v1alpha1\nkind: BlaxelFunction\nmetadata: {name: tools}\n"
        "spec: {policyRefs: [{name: eu}], policies: [other]}\n"
        "---\napiVersion: blaxel.ai/v1alpha1\nkind: BlaxelVolume\nmetadata: {name: Data}\nspec: {size: 1}\n",
    )
    result = run_sync(capsys, "render", "-f", path)
    assert result.code == 2
    assert "(BlaxelVolume Data): " in result.err and "set spec.volumeName" in result.err  # the root rule
    path.write_text(path.read_text().replace("name: Data", "name: data"))
    result = run_sync(capsys, "render", "-f", path, "-o", "yaml")
    assert result.code == 0, result.err
    policy, function, volume = yaml.safe_load_all(result.out)
    assert policy["spec"] == {"type": "location"} and volume["spec"] == {"size": 1}
    assert function["spec"]["policies"] == ["other", "eu"]


def test_render_as_a_subprocess_exits_2_on_invalid_input(tmp_path: Path) -> None:
    path = write(tmp_path / "agents.yaml", INVALID)
    proc = subprocess.run(
        [sys.executable, "-m", "blaxel_operator.cli", "render", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert f"{path}: document 2 (BlaxelAgent broken): spec.runtime.memory: Invalid value" in proc.stderr
    assert proc.stdout == ""

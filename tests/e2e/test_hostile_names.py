"""Issue 14, items 1 and 3, through the real operator process: a BlaxelAgent whose Secret references
bypass the CRD's patterns (an old or edited CRD) cannot make the operator read a Secret of another
namespace, and a Secret value that is not UTF-8 text is refused, never altered. Both end
`Ready=False InvalidSpec` with a message that names the problem, and nothing reaches Blaxel."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import yaml

from blaxel_devkit.harness import KubeClient, condition
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.simulator import BlaxelSimulator

from .conftest import REPO, StartOperator, wait_ready, wait_reason

STOLEN_VALUE = "stolen-value-from-kube-system-5e4f"
IMAGE = {"image": "acme/bot:1"}
# Everything that would make the schema refuse a Secret reference (the schema helper adds patterns and
# may add rules): stripped, so that only the operator stands between the name and the URL.
REFERENCE_CHECKS = ("pattern", "maxLength", "minLength", "format", "x-kubernetes-validations")


def _strip_reference_checks(node: Any, inside_reference: bool = False) -> Any:
    if isinstance(node, list):
        return [_strip_reference_checks(item, inside_reference) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if inside_reference and key in REFERENCE_CHECKS:
            continue
        if key == "x-kubernetes-validations":  # a rule about the references elsewhere, e.g. on envs[]
            value = [
                r for r in value if "secretKeyRef" not in r["rule"] and "credentialsRef" not in r["rule"]
            ]
        out[key] = _strip_reference_checks(
            value, inside_reference or key in ("secretKeyRef", "credentialsRef")
        )
    return out


def permissive_crd() -> dict[str, Any]:
    crd = yaml.safe_load((REPO / "crds" / "blaxel.ai_blaxelagents.yaml").read_text(encoding="utf-8"))
    stripped: dict[str, Any] = _strip_reference_checks(crd)
    return stripped


@pytest.fixture
async def kube() -> AsyncIterator[KubeEmulator]:
    """The test bed with a CRD that lets any string through as a Secret reference."""
    async with KubeEmulator(crds=[permissive_crd()], bookmark_interval=1.0) as emulator:
        yield emulator


def env_from(name: str, key: str = "token") -> dict[str, Any]:
    return {
        "runtime": {
            **IMAGE,
            "envs": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}],
        }
    }


def creds_from(name: str) -> dict[str, Any]:
    return {"runtime": IMAGE, "credentialsRef": {"name": name}}


# resource name -> (spec, the field the Ready message must name)
HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "env-traversal": (env_from("../../kube-system/secrets/stolen"), "secretKeyRef"),
    "env-slash": (env_from("kube-system/stolen"), "secretKeyRef"),
    "env-encoded-slash": (env_from("..%2F..%2Fkube-system%2Fsecrets%2Fstolen"), "secretKeyRef"),
    "env-dotdot": (env_from(".."), "secretKeyRef"),
    "env-dot": (env_from("."), "secretKeyRef"),
    "env-empty": (env_from(""), "secretKeyRef"),
    "env-over-long": (env_from("a" * 254), "secretKeyRef"),
    "env-unicode": (env_from("sécret"), "secretKeyRef"),
    "env-control": (env_from("app\nx-forged: 1"), "secretKeyRef"),
    "env-key-traversal": (env_from("app", "../token"), "key"),
    "env-key-over-long": (env_from("app", "k" * 254), "key"),
    "env-key-control": (env_from("app", "tok\u0000en"), "key"),
    "creds-traversal": (creds_from("../../kube-system/secrets/stolen"), "credentialsRef"),
    "creds-encoded-slash": (creds_from("..%2Fkube-system%2Fsecrets%2Fstolen"), "credentialsRef"),
    "creds-dotdot": (creds_from(".."), "credentialsRef"),
    "creds-over-long": (creds_from("b" * 300), "credentialsRef"),
}
# How a refusal names its rule: the operator's name checks (kubenames), or the spec model's own
# constraints when it has them (pydantic: "should match pattern", "at most/least N characters").
RULE_WORDS = ("DNS-1123", "letters, digits", "pattern", "character")


async def put_secret(k: KubeClient, namespace: str, name: str, data: Mapping[str, bytes]) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }
    path = f"/api/v1/namespaces/{namespace}/secrets"
    response = await k.http.post(path, json=body)
    if response.status_code == 409:
        response = await k.http.put(f"{path}/{name}", json=body)
    assert response.status_code < 300, response.text


def ready_message(obj: Mapping[str, Any]) -> str:
    return str((condition(obj, "Ready") or {}).get("message", ""))


def agents_called(sim: BlaxelSimulator) -> set[str | None]:
    """Agents named by the calls Blaxel received, besides the readiness probe's list calls."""
    return {c.agent for c in sim.calls() if not (c.method == "GET" and c.agent is None)}


def secret_reads(kube: KubeEmulator) -> list[str]:
    return [path for method, path in kube.request_log if method == "GET" and "/secrets" in path]


async def test_hostile_secret_references_read_nothing_outside_the_namespace(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await put_secret(k, "kube-system", "stolen", {"token": STOLEN_VALUE.encode(), "apiKey": b"sim-key"})
    await k.apply_secret("default", "app", {"token": "fine-value-123"})
    kube.request_log.clear()  # from here on, only the operator and the reads below are logged
    await start_operator()
    await k.create_agent("default", "control", env_from("app"))  # the same path, used legitimately
    for name, (spec, _) in HOSTILE.items():
        created = await k.create_agent("default", name, spec)  # admitted: the CRD does not stop it
        assert {k_: v for k_, v in created["spec"].items() if k_ in spec} == spec
    await wait_ready(k, "default", "control")
    for name, (_, field) in HOSTILE.items():
        obj = await wait_reason(k, "default", name, "InvalidSpec")
        message = ready_message(obj)
        assert field in message and any(word in message for word in RULE_WORDS), (name, message)
        assert "\n" not in message and "\x00" not in message, (name, message)  # quoted, never raw
        assert len(message) < 500, (name, message)  # an over-long name is cut, not copied
        assert condition(obj, "Stalled") is not None, name

    reads = secret_reads(kube)
    assert reads, "the operator read no Secret at all: the test would prove nothing"
    assert set(reads) == {"/api/v1/namespaces/default/secrets/app"}, reads
    assert not [p for _, p in kube.request_log if "stolen" in p or "kube-system" in p]
    # Nothing of the hostile resources reached Blaxel; the control agent did, with its own value only.
    assert agents_called(sim) == {"control"}
    assert STOLEN_VALUE not in json.dumps(sim.agents())
    assert sim.get_agent("control")["spec"]["runtime"]["envs"][0]["value"] == "fine-value-123"  # type: ignore[index]


async def test_a_binary_secret_value_is_refused_never_altered(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    await start_operator()
    binary = b"\xff\xd8\xff\xe0 JFIF \x80\x81"
    await put_secret(k, "default", "blob", {"token": binary, "text": b"text-value-1"})
    await put_secret(k, "default", "bad-creds", {"apiKey": b"sim-\xff-key"})
    await k.create_agent("default", "bin-env", env_from("blob"))
    await k.create_agent("default", "text-env", env_from("blob", "text"))  # an unused binary key is fine
    await k.create_agent("default", "bin-creds", creds_from("bad-creds"))

    refused = await wait_reason(k, "default", "bin-env", "InvalidSpec")
    message = ready_message(refused)
    assert "Secret default/blob key 'token' is not UTF-8 text" in message
    assert "JFIF" not in message and "\ufffd" not in message
    creds = await wait_reason(k, "default", "bin-creds", "InvalidSpec")
    assert "Secret default/bad-creds key 'apiKey' is not UTF-8 text" in ready_message(creds)
    await wait_ready(k, "default", "text-env")
    assert agents_called(sim) == {"text-env"}  # nothing of the refused ones reached Blaxel

    # Fixed at the source: the next poll sends the value exactly as it is now.
    await put_secret(k, "default", "blob", {"token": "ünïcode-ok".encode(), "text": b"text-value-1"})
    await wait_ready(k, "default", "bin-env", timeout=30)
    agent = sim.get_agent("bin-env") or {}
    assert agent["spec"]["runtime"]["envs"][0]["value"] == "ünïcode-ok"

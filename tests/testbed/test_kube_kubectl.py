"""The real kubectl (1.36) against the emulator: apply, get (tables, json), wait, watch, delete."""

from __future__ import annotations

import asyncio
import json

from blaxel_devkit.kube import KubeEmulator

from .helpers import Kubectl

MANIFEST = """
apiVersion: blaxel.ai/v1alpha1
kind: BlaxelAgent
metadata:
  name: my-agent
  namespace: default
spec:
  displayName: {display}
  runtime:
    generation: mk3
    memory: 2048
"""
GVR = ("blaxel.ai", "v1alpha1", "blaxelagents")


def _ready(kube: KubeEmulator, status: str = "True") -> None:
    conditions = [{"type": "Ready", "status": status, "reason": "Deployed"}]
    patch = {
        "status": {"conditions": conditions, "atProvider": {"status": "DEPLOYED", "url": "https://x.example"}}
    }
    kube.patch_object(*GVR, "default", "my-agent", patch, subresource="status")


async def test_kubectl_apply_creates_then_updates(kubectl: Kubectl, kube: KubeEmulator) -> None:
    out = await kubectl.ok("apply", "-f", "-", stdin=MANIFEST.format(display="first"))
    assert out.strip() == "blaxelagent.blaxel.ai/my-agent created"
    out = await kubectl.ok("apply", "-f", "-", stdin=MANIFEST.format(display="second"))
    assert out.strip() == "blaxelagent.blaxel.ai/my-agent configured"
    obj = kube.get_object(*GVR, "default", "my-agent")
    assert obj is not None
    assert obj["spec"]["displayName"] == "second"
    assert obj["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    out = await kubectl.ok("apply", "-f", "-", stdin=MANIFEST.format(display="second"))
    assert out.strip() == "blaxelagent.blaxel.ai/my-agent unchanged"


async def test_kubectl_apply_reports_schema_errors(kubectl: Kubectl) -> None:
    bad = MANIFEST.format(display="x").replace("mk3", "mk9")
    code, _, err = await kubectl("apply", "-f", "-", stdin=bad)
    assert code == 1
    assert 'spec.runtime.generation: Unsupported value: "mk9": supported values: "mk2", "mk3"' in err
    unknown = MANIFEST.format(display="x").replace("  runtime:", "  turbo: true\n  runtime:")
    code, _, err = await kubectl("apply", "-f", "-", stdin=unknown)
    assert code == 1
    assert 'unknown field "spec.turbo"' in err


async def test_kubectl_get_prints_the_printer_columns(kubectl: Kubectl, kube: KubeEmulator) -> None:
    await kubectl.ok("apply", "-f", "-", stdin=MANIFEST.format(display="x"))
    _ready(kube)
    lines = (await kubectl.ok("get", "blaxelagents")).splitlines()
    assert lines[0].split() == ["NAME", "READY", "SYNCED", "STATUS", "URL", "AGE"]
    assert lines[1].split()[:4] == ["my-agent", "True", "DEPLOYED", "https://x.example"]
    wide = (await kubectl.ok("get", "bla", "-o", "wide")).splitlines()
    assert wide[0].split() == ["NAME", "READY", "SYNCED", "STATUS", "URL", "REASON", "AGENT", "AGE"]
    assert "Deployed" in wide[1].split()


async def test_kubectl_get_json_and_yaml(kubectl: Kubectl) -> None:
    await kubectl.ok("apply", "-f", "-", stdin=MANIFEST.format(display="x"))
    obj = json.loads(await kubectl.ok("get", "blaxelagent", "my-agent", "-o", "json"))
    assert obj["kind"] == "BlaxelAgent"
    assert obj["spec"]["deletionPolicy"] == "Delete"
    listed = json.loads(await kubectl.ok("get", "blaxel", "-o", "json"))  # by category
    assert [i["metadata"]["name"] for i in listed["items"]] == ["my-agent"]
    assert "deletionPolicy: Delete" in await kubectl.ok("get", "bla/my-agent", "-o", "yaml")


async def test_kubectl_wait_for_condition(kubectl: Kubectl, kube: KubeEmulator) -> None:
    await kubectl.ok("apply", "-f", "-", stdin=MANIFEST.format(display="x"))
    waiting = asyncio.create_task(kubectl("wait", "--for=condition=Ready", "bla/my-agent", "--timeout=15s"))
    await kube.wait_for(lambda: kube.state.store(kube.resource(*GVR)).watchers, timeout=10)  # kubectl watches
    _ready(kube)
    code, out, err = await waiting
    assert code == 0, err
    assert out.strip() == "blaxelagent.blaxel.ai/my-agent condition met"


async def test_kubectl_wait_times_out_when_not_ready(kubectl: Kubectl, kube: KubeEmulator) -> None:
    await kubectl.ok("apply", "-f", "-", stdin=MANIFEST.format(display="x"))
    _ready(kube, "False")
    code, _, err = await kubectl("wait", "--for=condition=Ready", "bla/my-agent", "--timeout=1s")
    assert code != 0
    assert "timed out" in err


async def test_kubectl_get_watch_prints_changes(kubectl: Kubectl, kube: KubeEmulator) -> None:
    await kubectl.ok("apply", "-f", "-", stdin=MANIFEST.format(display="x"))
    proc = await asyncio.create_subprocess_exec(
        *kubectl.argv("get", "bla", "-w"), stdout=asyncio.subprocess.PIPE, env=kubectl.env
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(15):
            header = (await proc.stdout.readline()).decode()
            assert header.split()[:2] == ["NAME", "READY"]
            first = (await proc.stdout.readline()).decode()
            assert first.split()[0] == "my-agent"
            await kube.wait_for(lambda: kube.state.store(kube.resource(*GVR)).watchers)
            _ready(kube)
            changed = (await proc.stdout.readline()).decode()
            assert changed.split()[:3] == ["my-agent", "True", "DEPLOYED"]
    finally:
        proc.kill()
        await proc.wait()


async def test_kubectl_delete_waits_for_finalizers(kubectl: Kubectl, kube: KubeEmulator) -> None:
    await kubectl.ok("apply", "-f", "-", stdin=MANIFEST.format(display="x"))
    kube.patch_object(*GVR, "default", "my-agent", {"metadata": {"finalizers": ["blaxel.ai/cleanup"]}})
    deleting = asyncio.create_task(kubectl("delete", "bla", "my-agent", "--timeout=15s"))
    await kube.wait_for_object(*GVR, "default", "my-agent", lambda o: o["metadata"].get("deletionTimestamp"))
    assert not deleting.done()
    kube.patch_object(*GVR, "default", "my-agent", {"metadata": {"finalizers": None}})
    code, out, err = await deleting
    assert code == 0, err
    assert 'blaxelagent.blaxel.ai "my-agent" deleted' in out
    assert kube.get_object(*GVR, "default", "my-agent") is None


async def test_kubectl_imperative_commands_on_builtins(kubectl: Kubectl, kube: KubeEmulator) -> None:
    await kubectl.ok("create", "namespace", "team")
    await kubectl.ok("create", "secret", "generic", "creds", "-n", "team", "--from-literal=apiKey=abc")
    secret = kube.get_object("", "v1", "secrets", "team", "creds")
    assert secret is not None
    assert secret["data"] == {"apiKey": "YWJj"}
    assert secret["type"] == "Opaque"
    out = await kubectl.ok("get", "secrets", "-n", "team")
    assert out.splitlines()[1].split()[:3] == ["creds", "Opaque", "1"]
    await kubectl.ok("label", "secret", "creds", "-n", "team", "app=x")
    await kubectl.ok("delete", "namespace", "team")
    assert kube.get_object("", "v1", "namespaces", None, "team") is None

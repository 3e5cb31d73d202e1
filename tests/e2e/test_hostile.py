"""Issue 14, "How this is checked": some 80 hostile but admitted resources and hostile Blaxel answers,
through the real operator process, all at once.

Hostile resources: traversal in every name field (refused at admission where the field is a name,
carried verbatim where it is only data), unicode and control characters in every string, values near
the limits, binary Secret values, owner labels spoofed in spec.labels, foreign workspaces and another
team's credentials; agents mostly, and functions, integration connections, policies and volumes.
Hostile answers (the simulator's fault rules, by object name): non-JSON, wrong types, missing metadata,
an unknown status, 5 MB bodies, patched answers, slow ones.

Checked, with deadlines: every resource settles with a reason that names its problem and the good ones
become Ready; nothing is read outside the resource's namespace (the test bed's request log); what
reaches Blaxel is the spec, character for character; nothing loops (writes and reads counted over
several list sweeps, every status write measured); nothing leaks (no Secret value or API key in the
logs, Events, status, or anything written to Kubernetes); the process stays up.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from blaxel_devkit.harness import KubeClient, condition, wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_operator.simulator import BlaxelSimulator
from blaxel_operator.simulator.config import UNKNOWN_STATUS

from .conftest import DEPLOY_POLL, REPO, StartOperator

GROUP = "blaxel.ai/v1alpha1"
CLUSTER = "e2e"  # the conftest's --cluster-id
OWNER_KEYS = ("x-blaxel-operator-cluster", "x-blaxel-operator-namespace", "x-blaxel-operator-name")
IMAGE = "acme/bot:1"
REQUEST_TIMEOUT = 2.0  # one Blaxel call; the slow answers come later than that

# ---- secrets: their values reach Blaxel unaltered and appear nowhere else -----------------------------

STOLEN = "stolen-kube-system-value-7d1c"
FINE = "fine-value-5b9e2a"
UNICODE_SECRET = "sëcrét-ünï-😀-\u202e-\t-end-41f0"
HUGE_SECRET = "huge-secret-" + "Zq9" * 80_000  # 240 kB: a certificate bundle, say
CONN_SECRET = "conn-secret-3e8d1f"
BINARY = b"\xff\xd8\xff\xe0 JFIF \x80\x81 binary"
LEAKS = (STOLEN, FINE, UNICODE_SECRET, HUGE_SECRET[:64], CONN_SECRET, "sim-key", "other-key")
# (Secret, key) -> the value Blaxel must receive
VALUES = {
    ("app", "token"): FINE,
    ("unicode", "token"): UNICODE_SECRET,
    ("huge", "token"): HUGE_SECRET,
    ("conn", "token"): CONN_SECRET,
    ("blob", "text"): "text-value-ok",
}

# ---- hostile values -----------------------------------------------------------------------------------

TRAVERSALS = (
    "../../kube-system/secrets/stolen",
    "..%2F..%2Fworkspaces%2Fother",
    "..",
    "a/../../b",
    "%2e%2e/%2e%2e/agents",
)
UNICODE = "🤖 bøt ñåmé \u2013 日本語 \u202eevil\u202c \u200b zero-width e\u0301"
CONTROL = "tab\there\nnew\rline \x1b[31mred\x1b[0m \x07bell \x7fdel \x00nul"
DISPLAY_MAX = "😀" * 63  # 63 characters, 252 bytes: at the CRD's (and Blaxel's) limit
HUGE_ENV = ("ünï-😀-" * 50_000)[:300_000]  # 300 k characters of text, inline
HUGE_FAILURE = "boom " + "y" * 200_000


@dataclass
class Case:
    """One resource, and how it must settle: Ready (reason None), or Ready=False with `reason` and a
    message (Ready's or Synced's) holding every one of `words`."""

    name: str
    spec: dict[str, Any]
    reason: str | None = None
    words: tuple[str, ...] = ()
    namespace: str = "default"
    kind: str = "BlaxelAgent"
    plural: str = "blaxelagents"
    collection: str = "agents"
    annotations: dict[str, str] = field(default_factory=dict)
    workspace: str = "sandbox"  # where its remote lives
    remote_name: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.plural, self.namespace, self.name)

    @property
    def remote(self) -> str:
        return self.remote_name or self.name


def agent(**fields: Any) -> dict[str, Any]:
    return {**fields, "runtime": {"image": IMAGE, **fields.get("runtime", {})}}


def env_from(secret: str, key: str = "token", name: str = "TOKEN") -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def spoofed(namespace: str, name: str, cluster: str = CLUSTER) -> dict[str, str]:
    return dict(zip(OWNER_KEYS, (cluster, namespace, name), strict=True))


def function(name: str, reason: str | None = None, words: tuple[str, ...] = (), **fields: Any) -> Case:
    spec = {**fields, "runtime": {"image": IMAGE, "memory": 2048, **fields.get("runtime", {})}}
    return Case(
        name, spec, reason, words, kind="BlaxelFunction", plural="blaxelfunctions", collection="functions"
    )


def connection(
    name: str,
    secret: str,
    key: str = "token",
    reason: str | None = None,
    words: tuple[str, ...] = (),
    **fields: Any,
) -> Case:
    spec = {
        "integration": "openai",
        "secret": {"apiKey": {"valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}},
        **fields,
    }
    return Case(
        name,
        spec,
        reason,
        words,
        kind="BlaxelIntegrationConnection",
        plural="blaxelintegrationconnections",
        collection="integrations/connections",
    )


def policy(name: str, **fields: Any) -> Case:
    spec = {"type": "location", "locations": [{"type": "continent", "name": "EU"}], **fields}
    return Case(name, spec, kind="BlaxelPolicy", plural="blaxelpolicies", collection="policies")


def volume(name: str, **fields: Any) -> Case:
    spec = {"size": 1024, "region": "us-pdx-1", **fields}
    return Case(name, spec, kind="BlaxelVolume", plural="blaxelvolumes", collection="volumes")


def resource_cases() -> list[Case]:
    """Hostile resources, each admitted by the CRD."""
    return [
        # controls: the same paths, used as intended
        Case("good-plain", agent()),
        Case("good-env", agent(runtime={"envs": [env_from("app")]})),
        Case("good-team-b", agent(workspace="team-b"), workspace="team-b"),
        Case("good-other-team", agent(credentialsRef={"name": "other-team"}), workspace="other"),
        Case("good-team-a", agent(), namespace="team-a"),
        # unicode and control characters, in every string that is data
        Case("uni-display", agent(displayName=UNICODE)),
        Case("ctl-display", agent(displayName=CONTROL)),
        Case("max-display", agent(displayName=DISPLAY_MAX)),
        Case("uni-labels", agent(labels={"team": UNICODE, "ключ": "значение", "emoji-😀": "✓"})),
        Case("ctl-labels", agent(labels={"ctl": CONTROL, "empty": "", "spaces": "  padded  "})),
        Case(
            "uni-envs",
            agent(runtime={"envs": [{"name": "U", "value": UNICODE}, {"name": "C", "value": CONTROL}]}),
        ),
        Case("uni-env-names", agent(runtime={"envs": [{"name": "ÜNÏ_😀", "value": "x"}]})),
        Case("uni-secret", agent(runtime={"envs": [env_from("unicode")]})),
        Case("uni-policies", agent(policies=[UNICODE, CONTROL])),
        Case("ctl-image", agent(runtime={"image": "acme/bot:1\r\nX-Injected: 1"})),
        Case("max-external-id", agent(externalId="A" * 64)),
        Case(
            "uni-region",
            agent(region=UNICODE, volumes=[{"name": "v", "mountPath": "/data"}]),
            "InvalidSpec",
            ("Blaxel rejected the spec", "region"),
        ),
        # values near the limits
        Case("huge-env", agent(runtime={"envs": [{"name": "BIG", "value": HUGE_ENV}]})),
        Case("huge-secret", agent(runtime={"envs": [env_from("huge")]})),
        Case("huge-label", agent(labels={"big": "L" * 65_536})),
        Case(
            "many-envs",
            agent(runtime={"envs": [{"name": f"E{i}", "value": f"{i}-" + "v" * 1000} for i in range(256)]}),
        ),
        Case("many-labels", agent(labels={f"l{i}": UNICODE for i in range(300)})),
        Case("many-triggers", agent(triggers=[{"id": f"t{i}", "type": "http"} for i in range(64)])),
        # traversal where a name is only data: carried verbatim, never part of a URL
        Case("trav-policies", agent(policies=list(TRAVERSALS))),
        Case("trav-env-names", agent(runtime={"envs": [{"name": t, "value": t} for t in TRAVERSALS]})),
        Case("trav-display", agent(displayName=TRAVERSALS[0])),
        Case("trav-image", agent(runtime={"image": "../../../../etc/passwd"})),
        Case(
            "trav-triggers",
            agent(
                triggers=[
                    {
                        "id": TRAVERSALS[0],
                        "type": "http",
                        "configuration": {
                            "path": "/../../../admin",
                            "callbackUrl": "http://169.254.169.254/latest/meta-data/",
                        },
                    }
                ]
            ),
        ),
        Case(
            "trav-volumes",
            agent(
                region="us-pdx-1", volumes=[{"name": t, "mountPath": "/../../etc"} for t in TRAVERSALS[:2]]
            ),
        ),
        Case("trav-revision", agent(revision={"active": TRAVERSALS[0], "canary": TRAVERSALS[1]})),
        Case("trav-repository", agent(repository={"type": "github", "url": "file:///etc/passwd"})),
        Case("trav-labels", agent(labels={f"t{i}": t for i, t in enumerate(TRAVERSALS)})),
        # owner labels spoofed in spec.labels: the operator's own labels win, ownership is not fooled
        Case("spoof-other-cluster", agent(labels=spoofed("kube-system", "victim", "prod"))),
        Case("spoof-partial", agent(labels={OWNER_KEYS[2]: "good-plain"})),
        Case(
            "spoof-takeover",
            agent(agentName="good-plain", labels=spoofed("default", "good-plain")),
            "AlreadyExists",
            ("good-plain", "default/good-plain"),
            namespace="team-a",
        ),
        Case(
            "spoof-adopt",
            agent(agentName="good-env", labels=spoofed("default", "good-env")),
            "AlreadyExists",
            ("good-env", "default/good-env"),
            namespace="team-a",
            annotations={"blaxel.ai/adoption-policy": "adopt"},
        ),
        # foreign workspaces and other teams' credentials
        Case("foreign-ws", agent(workspace="other"), "Unauthorized", ("'other'", "retrying with backoff")),
        Case("missing-ws", agent(workspace="nowhere"), "Unauthorized", ("'nowhere'",)),
        Case(
            "foreign-creds", agent(credentialsRef={"name": "foreign-creds"}), "Unauthorized", ("'sandbox'",)
        ),
        Case(
            "other-ns-creds",
            agent(credentialsRef={"name": "team-creds"}),
            "SecretNotFound",
            ("default/team-creds", "not found"),
        ),
        Case(
            "other-ns-secret",
            agent(runtime={"envs": [env_from("team-secret")]}),
            "SecretNotFound",
            ("default/team-secret", "not found"),
        ),
        Case(
            "team-a-env",
            agent(runtime={"envs": [env_from("app")]}),
            "SecretNotFound",
            ("team-a/app", "not found"),
            namespace="team-a",
        ),
        Case(
            "team-a-creds",
            agent(credentialsRef={"name": "foreign-creds"}),
            "SecretNotFound",
            ("team-a/foreign-creds", "not found"),
            namespace="team-a",
        ),
        Case("creds-no-key", agent(credentialsRef={"name": "app"}), "SecretNotFound", ("apiKey",)),
        Case("creds-ctl-key", agent(credentialsRef={"name": "ctl-key"}), "InvalidSpec", ("printable ASCII",)),
        Case("creds-uni-key", agent(credentialsRef={"name": "uni-key"}), "InvalidSpec", ("printable ASCII",)),
        # binary Secret values: refused, never altered
        Case(
            "bin-env", agent(runtime={"envs": [env_from("blob")]}), "InvalidSpec", ("default/blob", "UTF-8")
        ),
        Case("bin-creds", agent(credentialsRef={"name": "blob"}), "InvalidSpec", ("default/blob", "UTF-8")),
        Case("bin-unused-key", agent(runtime={"envs": [env_from("blob", "text")]})),
        Case(
            "missing-key",
            agent(runtime={"envs": [env_from("app", "nope")]}),
            "SecretNotFound",
            ("default/app", "'nope'"),
        ),
        Case("rejected", agent(runtime={"memory": 0}), "InvalidSpec", ("Blaxel rejected the spec", "memory")),
        # the other kinds
        function("fn-good"),
        function("fn-uni", displayName=UNICODE, labels={"u": UNICODE}),
        function("fn-trav", policies=[t[:49] for t in TRAVERSALS], integrationConnections=["../x"]),
        function("fn-spoof", labels=spoofed("default", "fn-good")),
        function("fn-bin", "InvalidSpec", ("default/blob", "UTF-8"), runtime={"envs": [env_from("blob")]}),
        function("fn-foreign", "Unauthorized", ("'other'",), workspace="other"),
        connection("conn-good", "conn"),
        connection("conn-uni", "unicode", config={"org": UNICODE, "ctl": CONTROL}),
        connection("conn-bin", "blob", reason="InvalidSpec", words=("default/blob", "UTF-8")),
        connection("conn-trav-key", "conn", key="..token", reason="InvalidSpec", words=("key",)),
        connection("conn-missing", "team-secret", reason="SecretNotFound", words=("default/team-secret",)),
        policy("pol-uni", displayName=UNICODE),
        policy("pol-trav", locations=[{"type": "continent", "name": TRAVERSALS[0]}]),
        policy("pol-spoof", labels=spoofed("kube-system", "victim", "prod")),
        volume("vol-uni", displayName=UNICODE, labels={"u": CONTROL[:60]}),
    ]


# ---- hostile answers: fault rules by object name -------------------------------------------------------

ANSWER_RULES: list[dict[str, Any]] = [
    {"names": ("ans-nonjson",), "kinds": ("non_json",)},
    {"names": ("ans-html-once",), "kinds": ("non_json",), "max_count": 1, "phase": "after"},
    {"names": ("ans-status3-*",), "kinds": ("wrong_status_type",)},
    {"names": ("ans-meta-type",), "kinds": ("wrong_metadata_type",)},
    {"names": ("ans-no-meta",), "kinds": ("missing_metadata",)},
    {"names": ("ans-unknown",), "kinds": ("unknown_status",)},
    {"names": ("ans-huge",), "kinds": ("huge_body",)},
    {"names": ("ans-slow-once",), "kinds": ("slow",), "delay_seconds": REQUEST_TIMEOUT + 1, "max_count": 1},
    {"names": ("ans-slow",), "kinds": ("slow",), "delay_seconds": REQUEST_TIMEOUT + 1},
    {  # the deployment really fails, and its answers carry a 200 kB failure message
        "names": ("ans-failed-huge",),
        "kinds": ("patch",),
        "body_patch": {"events": [{"type": "deployment", "status": "FAILED", "message": HUGE_FAILURE}]},
    },
    {  # always building, and labelled as another cluster's
        "names": ("ans-foreign-owner",),
        "kinds": ("patch",),
        "body_patch": {
            "status": "BUILDING",
            "metadata": {"labels": spoofed("kube-system", "victim", "prod")},
        },
    },
    {"names": ("ans-put-no-meta",), "kinds": ("missing_metadata",), "methods": ("PUT",)},
    {"names": ("ans-put-status3",), "kinds": ("wrong_status_type",), "methods": ("PUT",)},
    {"names": ("fn-ans-status3",), "kinds": ("wrong_status_type",), "collections": ("functions",)},
]


def answer_cases() -> list[Case]:
    malformed = "MalformedResponse"
    return [
        Case("ans-nonjson", agent(), malformed, ("not JSON (text/html)", "retrying with backoff")),
        Case("ans-html-once", agent()),  # one non-JSON answer after the write: recovers
        Case("ans-status3-1", agent(), malformed, ("status: Input should be a valid string",)),
        Case("ans-status3-2", agent(runtime={"envs": [env_from("app")]}), malformed, ("status",)),
        Case("ans-meta-type", agent(), malformed, ("metadata",)),
        Case("ans-no-meta", agent(), malformed, ("metadata: Field required",)),
        Case("ans-unknown", agent(), "Deploying", (UNKNOWN_STATUS,)),
        Case("ans-huge", agent()),  # a 5 MB answer is still an answer
        Case("ans-slow-once", agent()),  # one timeout: recovers
        Case("ans-slow", agent(), "ReconcileError", ("timed out", "retrying with backoff")),
        Case("ans-failed-huge", agent(runtime={"image": "acme/sim-fail:1"}), "DeployFailed", ("failed",)),
        Case("ans-foreign-owner", agent(), "AlreadyExists", ("prod/kube-system/victim",)),
        function("fn-ans-status3", malformed, ("status",)),
    ]


# Never created (every answer unreadable, or too late): each retry is a POST, spaced by the backoff.
CREATE_RETRIED = ("ans-nonjson", "ans-slow")
# Created, then changed: the answer to their PUT is malformed (see ANSWER_RULES).
PUT_CASES = ("ans-put-no-meta", "ans-put-status3")
# Where a Blaxel call may go: a collection, or one object of it by a valid Blaxel name.
CALL_PATH = re.compile(
    r"^/v0/(workspaces|(agents|functions|policies|volumes|integrations/connections)"
    r"(/[a-z0-9]([a-z0-9-]*[a-z0-9])?)?)/?$"
)

# ---- the test bed --------------------------------------------------------------------------------------


@pytest.fixture
async def kube() -> AsyncIterator[KubeEmulator]:
    """The test bed, with a request log long enough for the whole scenario."""
    async with KubeEmulator(
        crds_dirs=[REPO / "crds"], bookmark_interval=1.0, request_log_size=500_000
    ) as emulator:
        yield emulator


def record_operator_writes(kube: KubeEmulator) -> list[tuple[str, bytes]]:
    """Every status write and Event sent to Kubernetes (only the operator sends them), as sent."""
    seen: list[tuple[str, bytes]] = []

    async def hook(request: Any) -> None:
        if request.method != "GET" and (request.path.endswith("/status") or "/events" in request.path):
            seen.append((request.path, await request.read()))

    kube.intercept = hook
    return seen


async def put_secret(k: KubeClient, namespace: str, name: str, data: Mapping[str, bytes | str]) -> None:
    raw = {key: value.encode() if isinstance(value, str) else value for key, value in data.items()}
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {key: base64.b64encode(value).decode() for key, value in raw.items()},
    }
    response = await k.http.post(f"/api/v1/namespaces/{namespace}/secrets", json=body)
    assert response.status_code < 300, response.text


async def make_secrets(k: KubeClient) -> None:
    await put_secret(k, "kube-system", "stolen", {"token": STOLEN, "apiKey": "sim-key"})
    await put_secret(k, "team-a", "team-creds", {"apiKey": "other-key", "workspace": "other"})
    await put_secret(k, "team-a", "team-secret", {"token": STOLEN})
    await put_secret(k, "default", "app", {"token": FINE})
    await put_secret(k, "default", "unicode", {"token": UNICODE_SECRET})
    await put_secret(k, "default", "huge", {"token": HUGE_SECRET})
    await put_secret(k, "default", "conn", {"token": CONN_SECRET})
    await put_secret(k, "default", "blob", {"token": BINARY, "text": "text-value-ok", "apiKey": BINARY})
    await put_secret(k, "default", "other-team", {"apiKey": "other-key"})
    await put_secret(k, "default", "foreign-creds", {"apiKey": "other-key", "workspace": "sandbox"})
    await put_secret(k, "default", "ctl-key", {"apiKey": "sim-key\r\nX-Evil: 1"})
    await put_secret(k, "default", "uni-key", {"apiKey": "sim-kéy"})


def secret_paths(case: Case) -> set[str]:
    """The Secrets a resource names, as API paths in its own namespace."""
    names = set(re.findall(r'"secretKeyRef": \{"name": "([^"]+)"', json.dumps(case.spec)))
    if "credentialsRef" in case.spec:
        names.add(case.spec["credentialsRef"]["name"])
    return {f"/api/v1/namespaces/{case.namespace}/secrets/{name}" for name in names}


async def create(k: KubeClient, case: Case) -> None:
    meta: dict[str, Any] = {"name": case.name, "namespace": case.namespace}
    if case.annotations:
        meta["annotations"] = case.annotations
    body = {"apiVersion": GROUP, "kind": case.kind, "metadata": meta, "spec": case.spec}
    response = await k.http.post(f"/apis/{GROUP}/namespaces/{case.namespace}/{case.plural}", json=body)
    assert response.status_code == 201, (case.name, response.text[:500])
    admitted = response.json()["spec"]
    assert {key: v for key, v in admitted.items() if key in case.spec} == case.spec, case.name  # as written


Objects = dict[tuple[str, str, str], dict[str, Any]]


async def snapshot(k: KubeClient, cases: list[Case]) -> Objects:
    """Every case's object, with one list call per kind."""
    objects: Objects = {}
    for plural in {c.plural for c in cases}:
        for obj in (await k.http.get(f"/apis/{GROUP}/{plural}")).json().get("items") or []:
            objects[(plural, obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
    return objects


def settled(case: Case, obj: Mapping[str, Any] | None) -> bool:
    ready = condition(obj, "Ready")
    if obj is None or ready is None:
        return False
    if case.reason is None:
        observed = (obj.get("status") or {}).get("observedGeneration")
        return ready["status"] == "True" and observed == obj["metadata"]["generation"]
    return ready["status"] == "False" and ready["reason"] == case.reason


async def wait_settled(k: KubeClient, cases: list[Case], timeout: float) -> Objects:
    async def probe() -> Objects | None:
        objects = await snapshot(k, cases)
        return objects if all(settled(c, objects.get(c.key)) for c in cases) else None

    try:
        return await wait_for(probe, timeout=timeout, interval=0.25, what="every resource settled")
    except TimeoutError:
        objects = await snapshot(k, cases)
        stuck = {
            c.name: [condition(objects.get(c.key), t) for t in ("Ready", "Synced")]
            for c in cases
            if not settled(c, objects.get(c.key))
        }
        raise AssertionError(f"not settled as expected: {json.dumps(stuck, indent=1)[:4000]}") from None


def expected_remote(case: Case) -> dict[str, Any]:
    """What Blaxel must hold for a Ready resource: its spec, the Secret values read as they are, and the
    operator's owner labels over any spoofed ones."""
    spec = json.loads(json.dumps(case.spec))
    metadata: dict[str, Any] = {"name": case.remote}
    for key in ("displayName", "externalId"):
        if key in spec:
            metadata[key] = spec.pop(key)
    metadata["labels"] = {**spec.pop("labels", {}), **spoofed(case.namespace, case.name)}
    for key in ("agentName", "workspace", "credentialsRef", "deletionPolicy"):
        spec.pop(key, None)
    for env in (spec.get("runtime") or {}).get("envs") or []:
        ref = (env.pop("valueFrom", None) or {}).get("secretKeyRef")
        if ref is not None:
            env.update(value=VALUES[(ref["name"], ref["key"])], secret=True)
    for name, source in (spec.get("secret") or {}).items():
        ref = source["valueFrom"]["secretKeyRef"]
        spec["secret"][name] = VALUES[(ref["name"], ref["key"])]
    return {"metadata": metadata, "spec": spec}


def contained(want: Any, have: Any) -> bool:
    """Every field of `want` is in `have`, equal and of the same type (Blaxel adds defaults of its own)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and contained(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(map(contained, want, have))
    return bool(want == have) and type(want) is type(have)


def list_sweeps(sim: BlaxelSimulator, since: int) -> int:
    return len(
        [c for c in sim.calls(method="GET", since=since, workspace="sandbox") if c.path == "/v0/agents"]
    )


def message_of(obj: Mapping[str, Any]) -> str:
    return " | ".join(str((condition(obj, t) or {}).get("message", "")) for t in ("Ready", "Synced"))


def peak_memory_mb(pid: int) -> int | None:
    """A process's peak resident memory (Linux; None elsewhere)."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    return int(re.findall(r"VmHWM:\s+(\d+) kB", status.read_text())[0]) // 1024


# ---- the scenario --------------------------------------------------------------------------------------


async def test_hostile_resources_and_answers(
    k: KubeClient, kube: KubeEmulator, sim: BlaxelSimulator, start_operator: StartOperator
) -> None:
    for namespace in ("team-a", "kube-system"):
        await k.ensure_namespace(namespace)
    await make_secrets(k)
    for rule in ANSWER_RULES:
        sim.add_fault_rule(rate=1.0, **rule)
    cases = resource_cases() + answer_cases()
    put_cases = [Case(name, agent()) for name in PUT_CASES]
    assert len(cases + put_cases) >= 80
    kube.request_log.clear()  # from here on: the operator, and this test's creations and list calls
    sent = record_operator_writes(kube)
    op = await start_operator(
        "--log-level", "debug", "--log-format", "json", "--request-timeout", str(REQUEST_TIMEOUT)
    )
    for case in cases + put_cases:
        await create(k, case)
    await wait_settled(k, cases + put_cases, timeout=40)

    # Changed once, and the answer to the PUT is malformed: the update happened, it is never repeated,
    # and the next (good) observation finds the agent up to date.
    updated = [Case(name, agent(runtime={"memory": 4096})) for name in PUT_CASES]
    for case in updated:
        await k.patch_agent("default", case.name, {"spec": case.spec})
    cases += updated
    objects = await wait_settled(k, cases, timeout=20)

    # ---- nothing loops: a window of three list sweeps of the sandbox workspace
    since, kube_before = sim.last_seq, Counter(kube.object_write_counts)

    async def swept() -> bool:
        return list_sweeps(sim, since) >= 3

    await wait_for(swept, timeout=15, interval=0.2, what="three list sweeps")
    window = sim.calls(since=since)
    seconds = window[-1].time - window[0].time
    blaxel_writes = Counter((c.collection, c.name) for c in window if c.is_write)
    reads = Counter((c.collection, c.name) for c in window if c.method == "GET" and c.name)
    kube_writes = Counter(kube.object_write_counts) - kube_before
    problems: list[str] = []
    for case in cases:
        obj = objects[case.key]
        missing = [word for word in case.words if word not in message_of(obj)]
        if missing:
            problems.append(f"{case.name}: {missing} not in {message_of(obj)[:300]!r}")
        if kube_writes[case.key] > 1:
            problems.append(f"{case.name}: {kube_writes[case.key]} Kubernetes writes in {seconds:.1f}s")
        writes = blaxel_writes[(case.collection, case.remote)]
        if writes > (2 if case.name in CREATE_RETRIED else 0):
            problems.append(f"{case.name}: {writes} Blaxel writes in {seconds:.1f}s")
        # polled at most at the deploy rate (Blaxel still working, or an unknown status), else backed off
        if reads[(case.collection, case.remote)] > seconds / DEPLOY_POLL + 3:
            problems.append(f"{case.name}: {reads[(case.collection, case.remote)]} reads in {seconds:.1f}s")
    assert not problems, "\n".join(problems)

    # ---- malformed answers are never written into the status, nor a reason to write
    for name in ("ans-status3-1", "ans-status3-2", "ans-put-status3", "ans-no-meta"):
        status = objects[("blaxelagents", "default", name)].get("status") or {}
        assert (status.get("atProvider") or {}).get("status") != 3, name
    puts = Counter(c.name for c in sim.calls(method="PUT"))
    assert {name: puts[name] for name in PUT_CASES} == dict.fromkeys(PUT_CASES, 1)
    assert not [c for c in sim.calls() if c.method in ("PUT", "DELETE") and c.name not in PUT_CASES]
    unknown = objects[("blaxelagents", "default", "ans-unknown")]["status"]
    assert unknown["atProvider"]["status"] == UNKNOWN_STATUS
    assert {c["type"] for c in unknown["conditions"]} == {"Ready", "Synced", "Reconciling"}

    # ---- nothing read outside the resource's namespace; Blaxel called only where the resources point
    secret_reads = {path for method, path in kube.request_log if method == "GET" and "/secrets/" in path}
    allowed = set().union(*(secret_paths(c) for c in cases))
    assert {"/api/v1/namespaces/default/secrets/app", "/api/v1/namespaces/team-a/secrets/app"} <= secret_reads
    assert secret_reads <= allowed, secret_reads - allowed
    assert not [path for _, path in kube.request_log if "kube-system" in path or "stolen" in path]
    assert not {c.path for c in sim.calls() if not CALL_PATH.match(c.path)}
    assert {c.workspace for c in sim.calls() if c.status == 200} <= {"sandbox", "team-b", "other", None}
    refused = {c.remote for c in cases if c.reason in ("InvalidSpec", "SecretNotFound")}
    refused -= {"uni-region", "rejected"}  # refused by Blaxel itself
    assert not refused & {c.name for c in sim.calls()}, refused & {c.name for c in sim.calls()}

    # ---- what reached Blaxel is the spec, character for character, with the operator's owner labels
    for case in cases:
        if case.reason is None:
            remote = sim.get_object(case.collection, case.remote, workspace=case.workspace)
            want = expected_remote(case)
            assert contained(want, remote), (case.name, json.dumps(want)[:400], json.dumps(remote)[:400])
            assert remote["metadata"]["labels"] == want["metadata"]["labels"], case.name  # type: ignore[index]
    for victim in ("good-plain", "good-env"):  # what the spoofing resources named is untouched
        labels = (sim.get_agent(victim) or {})["metadata"]["labels"]
        assert labels == spoofed("default", victim), victim

    # ---- nothing leaks, and the process stayed up, its memory bounded (5 MB answers came and went)
    assert op.alive and op.proc is not None, "the operator exited"
    peak = peak_memory_mb(op.proc.pid)
    assert peak is None or peak < 250, f"the operator's memory peaked at {peak} MB"  # ~110 MB seen
    assert await op.stop() == 0
    logs = op.logs()
    assert '"message"' in logs  # JSON, at debug level
    assert "Traceback" not in logs
    assert "y" * 1000 not in logs and "x" * 1000 not in logs, "a huge answer was logged"
    assert any(path.endswith("/status") for path, _ in sent) and any("/events" in path for path, _ in sent)
    biggest = max(sent, key=lambda item: len(item[1]))
    assert len(biggest[1]) < 16_000, f"{len(biggest[1])} bytes written to {biggest[0]}"
    written = b"\n".join(body for _, body in sent).decode()
    events = json.dumps([await k.events(namespace) for namespace in ("default", "team-a")])
    statuses = json.dumps([obj.get("status") for obj in objects.values()])
    for secret in LEAKS:
        for where, text in (("log", logs), ("Event", events), ("status", statuses), ("write", written)):
            assert secret not in text, f"{secret[:24]!r} in a {where}"


# ---- at the door: where a field is a name, the CRD refuses traversal ----------------------------------

NAME_FIELDS: dict[str, Any] = {
    "agentName": lambda t: agent(agentName=t),
    "workspace": lambda t: agent(workspace=t),
    "credentialsRef.name": lambda t: agent(credentialsRef={"name": t}),
    "secretKeyRef.name": lambda t: agent(runtime={"envs": [env_from(t)]}),
    "secretKeyRef.key": lambda t: agent(runtime={"envs": [env_from("app", t)]}),
}


async def test_traversal_in_a_name_field_is_refused_at_admission(k: KubeClient) -> None:
    for field_name, make in NAME_FIELDS.items():
        for index, traversal in enumerate(TRAVERSALS):
            body = {
                "apiVersion": GROUP,
                "kind": "BlaxelAgent",
                "metadata": {"name": f"door-{index}", "namespace": "default"},
                "spec": make(traversal),
            }
            response = await k.http.post(f"/apis/{GROUP}/namespaces/default/blaxelagents", json=body)
            assert response.status_code == 422, (field_name, traversal, response.status_code)

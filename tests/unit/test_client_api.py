"""The HTTP client toward Blaxel, against the simulator (and a scripted server for answers the simulator does
not give) over loopback: the workspace on every call, its resolution, the retry rules, the API version."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from blaxel_operator.blaxel.client import (
    BlaxelApi,
    BodyHints,
    Credentials,
    ExternalClient,
    body_hints,
    may_retry,
)
from blaxel_operator.blaxel.errors import (
    BlaxelError,
    Invalid,
    RateLimited,
    ServerError,
    TransportError,
    UnsupportedApiVersion,
    WorkspaceUnresolved,
)
from blaxel_operator.simulator import BlaxelSimulator, SimulatorConfig

AGENT = {"metadata": {"name": "bot"}, "spec": {"runtime": {"image": "acme/bot:1", "memory": 2048}}}


@pytest.fixture
async def sim() -> AsyncIterator[BlaxelSimulator]:
    config = SimulatorConfig(
        step_seconds=0.05,
        delete_seconds=0.05,
        api_keys={"solo-key": ["solo"], "multi-key": ["alpha", "beta"]},
    )
    async with BlaxelSimulator(config) as simulator:
        yield simulator


@pytest.fixture
async def api_for() -> AsyncIterator[Callable[..., BlaxelApi]]:
    made: list[BlaxelApi] = []

    def make(url: str, **kw: Any) -> BlaxelApi:
        made.append(BlaxelApi(url, rate=0, **kw))
        return made[-1]

    yield make
    for api in made:
        await api.close()


# ---- a scripted server: answers in order (the last one repeats), every request recorded -------------------


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    at: float


class Scripted:
    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.seen: list[Seen] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(Seen(request.method, request.path, dict(request.headers), time.monotonic()))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return web.Response(
            status=answer.status,
            text=json.dumps(answer.body),
            content_type="application/json",
            headers=answer.headers,
        )

    def script(self, *answers: Answer) -> None:
        self.answers, self.seen = list(answers), []


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    server = Scripted()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}/v0"
    yield server
    await runner.cleanup()


OK = Answer(200, {"metadata": {"name": "bot"}, "spec": {}})
ONE_WORKSPACE = Answer(200, [{"name": "solo"}])


# ---- the workspace --------------------------------------------------------------------------------------


async def test_every_call_carries_the_workspace_resolved_once(
    sim: BlaxelSimulator, api_for: Callable[..., BlaxelApi]
) -> None:
    api = api_for(sim.url)
    agents = ExternalClient(api, "agents")
    creds = Credentials("solo-key")  # names no workspace
    await agents.create(creds, AGENT)
    assert await agents.observe(creds, "bot") is not None
    await agents.update(creds, "bot", AGENT)
    assert [o["metadata"]["name"] async for page in api.list_pages("agents", creds) for o in page] == ["bot"]
    await agents.delete(creds, "bot")

    calls = sim.calls()
    assert [(c.method, c.path) for c in calls if c.path == "/v0/workspaces"] == [("GET", "/v0/workspaces")]
    scoped = [c for c in calls if c.path != "/v0/workspaces"]
    assert len(scoped) == 5
    assert {c.workspace_header for c in scoped} == {"solo"}
    assert "solo-key" not in json.dumps(api.workspaces)  # cached under a digest of the key


async def test_named_workspace_is_used_as_is(sim: BlaxelSimulator, api_for: Callable[..., BlaxelApi]) -> None:
    api = api_for(sim.url)
    await ExternalClient(api, "agents").observe(Credentials("multi-key", "beta"), "bot")
    assert [(c.path, c.workspace_header) for c in sim.calls()] == [("/v0/agents/bot", "beta")]


async def test_several_workspaces_stop_with_their_names_and_no_scoped_call(
    sim: BlaxelSimulator, api_for: Callable[..., BlaxelApi]
) -> None:
    api = api_for(sim.url)
    for _ in range(2):
        with pytest.raises(WorkspaceUnresolved) as caught:
            await ExternalClient(api, "agents").observe(Credentials("multi-key"), "bot")
        assert caught.value.workspaces == ("alpha", "beta")
        assert "2 Blaxel workspaces (alpha, beta)" in str(caught.value)
        assert "multi-key" not in str(caught.value)
    # asked once (the answer is remembered for a while), and nothing was called without a workspace
    assert [c.path for c in sim.calls()] == ["/v0/workspaces"]


async def test_resolve_workspace_is_per_key(sim: BlaxelSimulator, api_for: Callable[..., BlaxelApi]) -> None:
    api = api_for(sim.url)
    assert await api.resolve_workspace(Credentials("solo-key")) == Credentials("solo-key", "solo")
    with pytest.raises(WorkspaceUnresolved):
        await api.resolve_workspace(Credentials("multi-key"))
    assert await api.resolve_workspace(Credentials("solo-key")) == Credentials("solo-key", "solo")
    assert len(sim.calls()) == 2


async def test_no_workspace_at_all_is_an_error(scripted: Scripted, api_for: Callable[..., BlaxelApi]) -> None:
    scripted.script(Answer(200, []))
    api = api_for(scripted.url)
    with pytest.raises(WorkspaceUnresolved) as caught:
        await api.resolve_workspace(Credentials("lonely-key"))
    assert caught.value.workspaces == ()
    assert "lists no Blaxel workspace" in str(caught.value)
    assert [s.path for s in scripted.seen] == ["/v0/workspaces"]
    assert "X-Blaxel-Workspace" not in scripted.seen[0].headers


# ---- retries ----------------------------------------------------------------------------------------------


async def test_retry_after_on_503_is_honoured(
    sim: BlaxelSimulator, api_for: Callable[..., BlaxelApi]
) -> None:
    sim.seed_agent({"metadata": {"name": "bot"}, "spec": {}}, workspace="solo")
    # 1.2 s: longer than any backoff of its own (at most 0.5 s before the first retry)
    sim.set_faults(rate=1.0, kinds=("503",), retry_after=None, retry_after_ms=1200, max_count=1)
    api = api_for(sim.url)
    assert await ExternalClient(api, "agents").observe(Credentials("solo-key", "solo"), "bot") is not None
    first, second = sim.calls()
    assert (first.status, second.status) == (503, 200)
    assert second.time - first.time >= 1.2


async def test_a_post_refused_with_503_or_429_is_repeated_but_not_after_a_500(
    sim: BlaxelSimulator, api_for: Callable[..., BlaxelApi]
) -> None:
    api = api_for(sim.url)
    agents = ExternalClient(api, "agents")
    creds = Credentials("solo-key", "solo")
    for kind in ("503", "429"):
        sim.reset_calls()
        sim.set_faults(rate=1.0, kinds=(kind,), retry_after=0, methods=("POST",), max_count=1)
        name = f"bot-{kind}"
        await agents.create(creds, {**AGENT, "metadata": {"name": name}})
        assert [c.status for c in sim.calls()] == [int(kind), 200]
    sim.reset_calls()
    sim.set_faults(rate=1.0, kinds=("500",), methods=("POST",), max_count=1)
    with pytest.raises(ServerError):
        await agents.create(creds, {**AGENT, "metadata": {"name": "bot-500"}})
    assert [c.status for c in sim.calls()] == [500]  # it may have been created: the reconciler reads first


async def test_a_long_retry_after_is_left_to_the_reconciler(
    scripted: Scripted, api_for: Callable[..., BlaxelApi]
) -> None:
    scripted.script(Answer(503, {"error": "unavailable"}, {"Retry-After": "30"}))
    api = api_for(scripted.url)
    with pytest.raises(ServerError) as caught:
        await ExternalClient(api, "agents").observe(Credentials("k", "ws"), "bot")
    assert caught.value.retry_after == 30.0  # typed on any BlaxelError, for the reconciler's backoff
    assert len(scripted.seen) == 1


async def test_x_should_retry_false_stops_a_retry(
    scripted: Scripted, api_for: Callable[..., BlaxelApi]
) -> None:
    scripted.script(Answer(503, {"error": "unavailable"}, {"x-should-retry": "false"}), OK)
    api = api_for(scripted.url)
    with pytest.raises(ServerError) as caught:
        await ExternalClient(api, "agents").observe(Credentials("k", "ws"), "bot")
    assert caught.value.should_retry is False
    assert len(scripted.seen) == 1


async def test_x_should_retry_true_forces_one(scripted: Scripted, api_for: Callable[..., BlaxelApi]) -> None:
    api = api_for(scripted.url)
    agents = ExternalClient(api, "agents")
    creds = Credentials("k", "ws")
    # a 400 is never repeated on its own ...
    scripted.script(Answer(400, {"error": "bad_request", "code": 400, "message": "try later"}), OK)
    with pytest.raises(Invalid):
        await agents.observe(creds, "bot")
    assert len(scripted.seen) == 1
    # ... nor a POST after a 500, unless the server says so
    for answer in (
        Answer(400, {"error": "bad_request"}, {"x-should-retry": "true", "Retry-After-Ms": "10"}),
        Answer(500, {"error": "internal"}, {"x-should-retry": "true", "Retry-After-Ms": "10"}),
    ):
        scripted.script(answer, OK)
        assert await agents.create(creds, AGENT) == OK.body
        assert [s.method for s in scripted.seen] == ["POST", "POST"]


async def test_edge_body_retryable_and_retry_after(
    scripted: Scripted, api_for: Callable[..., BlaxelApi]
) -> None:
    api = api_for(scripted.url)
    agents = ExternalClient(api, "agents")
    creds = Credentials("k", "ws")
    refused = {"error": {"code": "USAGE_LIMIT_EXCEEDED", "message": "quota reached", "retryable": False}}
    scripted.script(Answer(429, refused), OK)
    with pytest.raises(RateLimited) as caught:
        await agents.observe(creds, "bot")
    assert (caught.value.code, caught.value.retryable, caught.value.message) == (
        "USAGE_LIMIT_EXCEEDED",
        False,
        "quota reached",
    )
    assert len(scripted.seen) == 1

    waking = {
        "error": {"code": "WORKLOAD_UNAVAILABLE", "message": "waking up", "retryable": True, "retry_after": 1}
    }
    scripted.script(Answer(502, waking), OK)
    assert await agents.observe(creds, "bot") == OK.body
    first, second = scripted.seen
    assert second.at - first.at >= 1.0  # the body's retry_after (no header)


# ---- the API version ----------------------------------------------------------------------------------------


async def test_api_version_is_sent_and_an_unknown_one_is_a_clear_error(
    sim: BlaxelSimulator, api_for: Callable[..., BlaxelApi]
) -> None:
    creds = Credentials("solo-key", "solo")
    await ExternalClient(api_for(sim.url, api_version="2026-04-16"), "agents").observe(creds, "bot")
    assert [c.api_version for c in sim.calls()] == ["2026-04-16"]

    sim.reset_calls()
    with pytest.raises(UnsupportedApiVersion) as caught:
        await ExternalClient(api_for(sim.url, api_version="2099-01-01"), "agents").observe(creds, "bot")
    message = str(caught.value)
    assert "does not accept API version '2099-01-01'" in message and "BL_API_VERSION" in message
    assert "2026-04-28" in message  # the simulator's list of known versions
    assert len(sim.calls()) == 1


# ---- the decision table -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "error", "expected"),
    [
        ("GET", ServerError("x", status=500), True),
        ("POST", ServerError("x", status=500), False),
        ("POST", ServerError("x", status=502), False),
        ("POST", ServerError("x", status=503), True),
        ("POST", RateLimited("x", status=429), True),
        ("POST", TransportError("reset"), False),
        ("PUT", TransportError("reset"), True),
        ("POST", ServerError("x", status=500, should_retry=True), True),
        ("GET", ServerError("x", status=503, should_retry=False), False),
        ("GET", ServerError("x", status=503, retryable=False), False),
        ("POST", RateLimited("x", status=429, retryable=False), False),
        ("GET", Invalid("x", status=400), False),
        ("GET", Invalid("x", status=400, should_retry=True), True),
    ],
)
def test_may_retry(method: str, error: BlaxelError, expected: bool) -> None:
    assert may_retry(method, error) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": "not_found", "code": 404, "message": "no agent"}, BodyHints("not_found")),
        (
            {"error": {"code": "WORKLOAD_UNAVAILABLE", "message": "m", "retryable": True, "retryAfter": "2"}},
            BodyHints("WORKLOAD_UNAVAILABLE", True, 2.0),
        ),
        ({"error": {"code": "X", "retryable": False}, "retry_after_seconds": 5}, BodyHints("X", False, 5.0)),
        ({"error": {"code": "X", "retryable": "yes", "retry_after": True}}, BodyHints("X")),
        ("not an object", BodyHints()),
    ],
)
def test_body_hints(body: Any, expected: BodyHints) -> None:
    assert body_hints(body) == expected

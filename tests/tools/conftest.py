"""Fixtures of the GitOps tools' tests: a Blaxel simulator on a loopback port, the CLI run in-process with
its credentials in the environment, and agents to seed."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from blaxel_operator import cli
from blaxel_operator.simulator import BlaxelSimulator, SimulatorConfig

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SECRET_VALUE = "s3cret-value-never-printed"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def docs(self) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.out) if d is not None]


RunCli = Callable[..., Awaitable[Result]]


@pytest.fixture
async def sim() -> AsyncIterator[BlaxelSimulator]:
    config = SimulatorConfig(
        step_seconds=0.05,
        delete_seconds=0.2,
        api_keys={"sim-key": ["sandbox", "team-b"], "other-key": ["other"]},
    )
    async with BlaxelSimulator(config) as simulator:
        yield simulator


@pytest.fixture
def bl_env(sim: BlaxelSimulator, monkeypatch: pytest.MonkeyPatch) -> BlaxelSimulator:
    """The simulator's URL, key and workspace in BL_* (the key has two: a workspace must be named)."""
    monkeypatch.setenv("BL_API_URL", sim.url)
    monkeypatch.setenv("BL_API_KEY", sim.api_key)
    monkeypatch.setenv("BL_WORKSPACE", sim.workspace)
    return sim


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """`blaxel-operator ARGS...` in-process, in a thread (it runs its own event loop) while the test's
    loop keeps serving the simulator."""

    async def run(*argv: str) -> Result:
        capsys.readouterr()
        code = await asyncio.to_thread(cli.main, [str(a) for a in argv])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def run_sync(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Result:
    """The CLI in-process for commands that need no network."""
    capsys.readouterr()
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return Result(code, out, err)


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def agent_body(i: int) -> dict[str, Any]:
    """A varied agent (no secret env): triggers of every type, volumes, deactivated, mk3/public..."""
    runtime: dict[str, Any] = {
        "image": f"acme/bot:{i % 7}",
        "memory": 512 * (1 + i % 4),
        "minScale": i % 2,
        "maxScale": 3,
        "envs": [{"name": "MODE", "value": f"mode-{i}"}, {"name": "EMPTY", "value": ""}],
    }
    spec: dict[str, Any] = {"runtime": runtime}
    triggers: list[dict[str, Any]] = []
    if i % 3 == 0:
        triggers += [
            {"type": "http", "configuration": {"path": f"/p{i}", "authenticationType": "blaxel"}},
            {"type": "http-async", "configuration": {"path": "/async", "timeout": 600}},
        ]
    if i % 7 == 0:
        triggers.append(
            {
                "type": "cron",
                "enabled": False,
                "configuration": {"schedule": "0 3 * * *", "tasks": [{"prompt": "hi"}]},
            }
        )
    if triggers:
        spec["triggers"] = triggers
    if i % 5 == 0:
        spec["region"] = "us-pdx-1"
        spec["volumes"] = [{"name": "cache", "mountPath": "/cache", "type": "ephemeral", "sizeMb": 256}]
    if i % 11 == 0:
        spec["enabled"] = False
    if i % 13 == 0:
        spec["policies"] = ["eu-only"]
        spec["repository"] = {"type": "github", "url": f"https://github.com/acme/bot-{i}"}
    if i % 4 == 0:
        runtime["generation"] = "mk3"
        spec["public"] = i % 8 == 0
    if i % 17 == 0:
        spec["revision"] = {"canaryPercent": 0, "stickySessionTtl": 60}
    metadata: dict[str, Any] = {"name": f"agent-{i:03d}", "labels": {"team": f"t{i % 4}"}}
    if i % 2 == 0:
        metadata["displayName"] = f"Agent {i}"
    return {"metadata": metadata, "spec": spec}


def secret_agent_body(name: str = "secret-bot") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"team": "sec"}},
        "spec": {
            "runtime": {
                "image": "acme/secret-bot:1",
                "memory": 1024,
                "envs": [
                    {"name": "MODE", "value": "prod"},
                    {"name": "OPENAI_API_KEY", "value": SECRET_VALUE, "secret": True},
                ],
            }
        },
    }


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path

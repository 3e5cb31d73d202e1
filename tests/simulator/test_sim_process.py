"""The simulator as users and the benchmarks run it: a separate process started from the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from blaxel_devkit.harness import wait_until
from blaxel_operator.simulator import SimulatorAdmin

from .conftest import PAGINATED, agent_body


@pytest.fixture
def simulator_process(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    url_file = tmp_path / "url"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "blaxel_operator.simulator",
            "--port",
            "0",
            "--url-file",
            str(url_file),
            "--api-key",
            "cli-key:demo,staging",
            "--step-seconds",
            "0.05",
            "--delete-seconds",
            "0.05",
            "--seed",
            "7",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:

        def started() -> bool:
            if process.poll() is not None:
                raise AssertionError(
                    f"the simulator exited: {process.stderr.read() if process.stderr else ''}"
                )
            return url_file.exists()

        wait_until(started, timeout=20, what="the simulator to start")
        yield url_file.read_text().strip(), process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_scripted_session_against_the_cli_simulator(
    simulator_process: tuple[str, subprocess.Popen[str]],
) -> None:
    """create -> DEPLOYED -> update -> delete, with the right codes, against a separate process."""
    url, process = simulator_process
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v0")
    headers = {"X-Blaxel-Authorization": "Bearer cli-key", "X-Blaxel-Workspace": "demo", **PAGINATED}
    with (
        httpx.Client(base_url=url, headers=headers, timeout=5) as api,
        SimulatorAdmin(url, workspace="demo") as admin,
    ):
        admin.wait_ready()
        body = agent_body(
            "cli-agent", runtime={"generation": "mk3", "envs": [{"name": "K", "value": "v", "secret": True}]}
        )

        assert api.put("/agents/cli-agent", json=body).status_code == 404  # `bl apply`: PUT first ...
        created = api.post("/agents", json=body)  # ... then POST on 404
        assert created.status_code == 200 and created.json()["status"] == "UPLOADING"
        assert api.post("/agents", json=body).status_code == 409

        wait_until(
            lambda: api.get("/agents/cli-agent").json()["status"] == "DEPLOYED",
            timeout=10,
            interval=0.02,
            what="DEPLOYED",
        )

        body["spec"]["runtime"]["memory"] = 2048
        updated = api.put("/agents/cli-agent", json=body)
        assert updated.status_code == 200 and updated.json()["status"] == "UPLOADING"
        listed = api.get("/agents").json()
        assert (
            listed["meta"]["total"] == 1
            and listed["data"][0]["spec"]["runtime"]["envs"][0]["value"] == "********"
        )

        deleted = api.delete("/agents/cli-agent")
        assert deleted.status_code == 200 and deleted.json()["status"] == "DELETING"

        def gone() -> bool:
            code = api.get("/agents/cli-agent").status_code
            assert code in (200, 404), code  # DELETING answers 200 until the agent is gone
            return code == 404

        wait_until(gone, timeout=10, interval=0.02, what="the agent to be gone")

        assert (
            api.get(
                "/agents", headers={"Authorization": "Bearer sim-key", "X-Blaxel-Authorization": ""}
            ).status_code
            == 401
        )
        assert api.get("/agents", headers={"X-Blaxel-Workspace": "prod"}).status_code == 403

        calls = admin.calls(agent="cli-agent", writes_only=True)
        assert [(c["method"], c["status"]) for c in calls] == [
            ("PUT", 404),
            ("POST", 200),
            ("POST", 409),
            ("PUT", 200),
            ("DELETE", 200),
        ]

        # out-of-band control of the other process
        admin.seed_agent(
            {"metadata": {"name": "seeded", "labels": {"x": "y"}}, "spec": {}}, workspace="staging"
        )
        assert [a["metadata"]["name"] for a in admin.agents("staging")] == ["seeded"]
        admin.set_faults(rate=1.0, kinds=["503"], retry_after=3)
        faulty = api.get("/agents")
        assert faulty.status_code == 503 and faulty.headers["Retry-After"] == "3"
        admin.clear_faults()

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    out = process.stdout.read() if process.stdout else ""
    assert f"listening on {url}" in out
    assert "cli-key" not in out  # a key given on the command line is not echoed
    err = process.stderr.read() if process.stderr else ""
    assert "cli-key" not in err and "s3cr3t" not in err


def test_cli_arguments_build_the_config() -> None:
    import argparse

    from blaxel_operator.simulator import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--api-key",
            "k1:ws1,ws2",
            "--api-key",
            "k2:ws3",
            "--step-seconds",
            "0.5",
            "--latency",
            "0.05",
            "--latency-jitter",
            "0.01",
            "--fault-rate",
            "0.3",
            "--fault-kinds",
            "500,503,429,timeout,reset",
            "--fault-phase",
            "after",
            "--fault-methods",
            "put,post",
            "--retry-after-ms",
            "250",
            "--rate-limit",
            "50",
            "--stale-failed-seconds",
            "2",
            "--fail-image-marker",
            "",
        ]
    )
    config = config_from_args(args)
    assert config.api_keys == {"k1": ["ws1", "ws2"], "k2": ["ws3"]}
    assert config.default_workspace == "ws1"
    assert config.step_seconds == 0.5 and config.latency == 0.05 and config.latency_jitter == 0.01
    assert config.faults.rate == 0.3 and config.faults.kinds == ("500", "503", "429", "timeout", "reset")
    assert config.faults.phase == "after" and config.faults.methods == ("PUT", "POST")
    assert config.faults.retry_after_ms == 250 and config.rate_limit == 50
    assert config.stale_failed_seconds == 2 and config.fail_image_marker is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--fault-kinds", "500,teapot"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--api-key", "no-workspaces"])

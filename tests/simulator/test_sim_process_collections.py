"""The command-line simulator with the new options, driven by the blocking admin client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from blaxel_devkit.harness import wait_until
from blaxel_operator.simulator import SECRET_MASK, SimulatorAdmin
from blaxel_operator.simulator.state import actor_of_key

from .bodies import body, full_body


def test_options_of_a_separate_process(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"rate": 1, "kinds": ["wrong_status_type"], "names": ["hostile-*"]}]))
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
            "boss-key:demo",
            "--api-key",
            "member-key:demo",
            "--admin-key",
            "boss-key",
            "--put-semantics",
            "merge",
            "--require-workspace",
            "--fault-rules",
            str(rules),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_until(lambda: url_file.exists() or process.poll() is not None, timeout=20, what="the simulator")
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        url = url_file.read_text().strip()
        member = {"Authorization": "Bearer member-key", "X-Blaxel-Workspace": "demo"}
        with (
            httpx.Client(base_url=url, headers=member, timeout=5) as api,
            SimulatorAdmin(url, workspace="demo") as admin,
        ):
            admin.wait_ready()
            assert api.get("/functions", headers={"X-Blaxel-Workspace": ""}).status_code == 400
            assert api.post("/functions", json=full_body("functions", "fn")).status_code == 200
            shown = api.get("/functions/fn", params={"show_secrets": "true"})
            assert shown.status_code == 403
            boss = api.get(
                "/functions/fn", params={"show_secrets": "true"}, headers={"Authorization": "Bearer boss-key"}
            )
            assert boss.json()["spec"]["runtime"]["envs"][1]["value"] == "s3cr3t"
            merged = api.put("/functions/fn", json={"spec": {"runtime": {"memory": 4096}}}).json()
            assert (
                merged["spec"]["runtime"]["image"] == "registry/fn:1"
                and merged["spec"]["runtime"]["memory"] == 4096
            )
            assert merged["spec"]["runtime"]["envs"][1]["value"] == SECRET_MASK

            admin.seed_object("volumes", body("volumes", "hostile-vol"))
            assert api.get("/volumes/hostile-vol").json()["status"] == 3
            assert [r["injected"] for r in admin.fault_rules()] == [1]
            admin.edit_object("volumes", "hostile-vol", {"state": {"attachedTo": "sandbox:s"}})
            assert api.delete("/volumes/hostile-vol").status_code == 409
            assert admin.object("integrations/connections", "none") is None
            admin.seed_object("connections", body("integrations/connections", "conn"))
            assert [c["metadata"]["name"] for c in admin.objects("integrations/connections")] == ["conn"]
            admin.fail_next_deployment("job", collection="jobs")
            assert api.post("/jobs", json=body("jobs", "job")).status_code == 200
            assert admin.settings() == {
                "put_semantics": "merge",
                "require_workspace": True,
                "admin_keys": [actor_of_key("boss-key")],
            }
            assert [c["name"] for c in admin.calls(collection="jobs")] == ["job"]
            admin.delete_object("connections", "conn")
            assert admin.objects("connections") == []
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
    out = process.stdout.read() if process.stdout else ""
    assert "PUT semantics: merge" in out and "fault rules: 1" in out
    assert "boss-key" not in out and "member-key" not in out
    err = process.stderr.read() if process.stderr else ""
    assert "s3cr3t" not in err and "boss-key" not in err

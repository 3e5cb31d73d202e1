"""The standalone server: `python -m blaxel_devkit.kube --port ... --crds ... --kubeconfig ...`."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
import yaml

from .helpers import CRDS


async def test_standalone_server_serves_and_writes_a_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "blaxel_devkit.kube",
        "--port",
        "0",
        "--crds",
        str(CRDS),
        "--kubeconfig",
        str(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            line = (await proc.stdout.readline()).decode()
        assert line.startswith("Kubernetes API emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == url
        async with aiohttp.ClientSession(url) as session:
            async with session.get("/apis/blaxel.ai/v1alpha1") as rsp:
                assert rsp.status == 200
                assert (await rsp.json())["resources"][0]["name"] == "blaxelagents"
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            code = await proc.wait()
    assert code == 0


def test_main_parses_arguments() -> None:
    import argparse

    from blaxel_devkit.kube import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--port", "9000", "--crds", "a", "--crds", "b", "--kubeconfig", "k"])
    assert (args.port, args.crds, args.kubeconfig, args.host) == (9000, ["a", "b"], "k", "127.0.0.1")

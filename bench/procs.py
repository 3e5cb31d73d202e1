"""Child processes of the bench (servers, operators) and their CPU/RSS sampling with psutil.

Every child is started in its own session (Ctrl-C reaches only the bench, which then stops them) and
registered, so that `stop_all()` in a `finally` (and at exit) ends whatever is still running.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from blaxel_devkit.harness import free_port, wait_until

_RUNNING: list[Managed] = []


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BL_", "KUBERNETES_", "KUBECONFIG"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class Managed:
    """One child process with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env)
        self.popen: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None
        self.started_at = 0.0

    def start(self) -> Managed:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        self.ps = psutil.Process(self.popen.pid)
        _RUNNING.append(self)
        self._profile()
        return self

    def _profile(self) -> None:
        """With BENCH_PYSPY=<name prefix> (and py-spy on PATH or in BENCH_PYSPY_BIN), sample the processes
        whose name starts with it into <log>.pyspy (collapsed stacks, written when the process ends)."""
        prefix = os.environ.get("BENCH_PYSPY")
        spy = os.environ.get("BENCH_PYSPY_BIN") or shutil.which("py-spy")
        if not prefix or not spy or not self.name.startswith(prefix) or self.popen is None:
            return
        out = self.log_path.with_suffix(".pyspy")
        argv = [spy, "record", "--pid", str(self.popen.pid), "--rate", "200", "-f", "raw", "-o", str(out)]
        subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive:
            code = self.popen.returncode if self.popen else None
            raise RuntimeError(f"{self.name} exited with {code}; log {self.log_path}:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def _tree(self) -> list[psutil.Process]:
        if self.ps is None:
            return []
        procs = [self.ps]
        with contextlib.suppress(psutil.Error):
            procs.extend(self.ps.children(recursive=True))
        return procs

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its children (live ones and reaped ones)."""
        total = 0.0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
                if proc is self.ps:
                    total += times.children_user + times.children_system
        return total

    def rss(self) -> int:
        total = 0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def stop(self, timeout: float = 15.0) -> int | None:
        popen = self.popen
        if popen is None:
            return None
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    popen.kill()
                popen.wait(5)
        with contextlib.suppress(ValueError):
            _RUNNING.remove(self)
        return popen.returncode


def stop_all() -> None:
    for proc in list(reversed(_RUNNING)):
        with contextlib.suppress(Exception):
            proc.stop(timeout=5)


atexit.register(stop_all)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _on_sigterm)


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


# ---------------------------------------------------------------------------------------------------
# the processes of the test bed
# ---------------------------------------------------------------------------------------------------

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SIM_KEY, SIM_WORKSPACE = "sim-key", "sandbox"


@dataclass
class KubeServer:
    proc: Managed
    url: str
    counters_url: str
    kubeconfig: Path

    def counters(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.counters_url}/counters", timeout=30).json()
        return data

    def reset_counters(self) -> None:
        httpx.delete(f"{self.counters_url}/counters", timeout=10).raise_for_status()


def start_kube(workdir: Path) -> KubeServer:
    ready = workdir / "kube.json"
    kubeconfig = workdir / "kubeconfig"
    ready.unlink(missing_ok=True)  # a file left by an earlier run in the same directory
    argv = [
        sys.executable,
        "-m",
        "blaxel_devkit.kube",
        "--port",
        "0",
        "--crds",
        str(REPO / "crds"),
        "--kubeconfig",
        str(kubeconfig),
        "--counters-port",
        "0",
        "--ready-file",
        str(ready),
    ]
    proc = Managed("kube-emulator", argv, workdir / "kube.log", python_env()).start()

    def up() -> dict[str, str] | None:
        proc.check_alive()
        return json.loads(ready.read_text()) if ready.exists() else None

    info = wait_until(up, timeout=30, what="the Kubernetes API emulator")
    return KubeServer(proc, info["url"], info["counters_url"], kubeconfig)


@dataclass
class Simulator:
    proc: Managed
    url: str  # API base URL (.../v0)

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v0")

    def calls(self, since: int) -> tuple[list[dict[str, Any]], int]:
        body = httpx.get(f"{self.root}/_sim/calls", params={"since": str(since)}, timeout=60).json()
        return list(body["calls"]), int(body["last_seq"])

    def last_seq(self) -> int:
        body = httpx.get(f"{self.root}/_sim/calls", params={"since": "1000000000"}, timeout=10).json()
        return int(body["last_seq"])


def start_simulator(workdir: Path, *, latency: float, step: float, seed: int) -> Simulator:
    url_file = workdir / "sim.url"
    url_file.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "blaxel_operator.simulator",
        "--port",
        "0",
        "--latency",
        str(latency),
        "--step-seconds",
        str(step),
        "--seed",
        str(seed),
        "--url-file",
        str(url_file),
    ]
    proc = Managed("simulator", argv, workdir / "simulator.log", python_env()).start()

    def up() -> str | None:
        proc.check_alive()
        return url_file.read_text().strip() if url_file.exists() else None

    url = wait_until(up, timeout=30, what="the Blaxel API simulator")
    wait_until(lambda: http_ok(url.removesuffix("/v0") + "/_sim/health"), timeout=10, what="simulator health")
    return Simulator(proc, url)


@dataclass
class OperatorSettings:
    max_inflight: int = 10
    poll_interval: float = 5.0
    deploy_poll_interval: float = 1.0
    rate_limit: float = 0.0  # 0 = unlimited: the token bucket does not shape the run


@dataclass
class Operator:
    proc: Managed
    metrics_port: int
    health_port: int

    def metrics(self) -> dict[str, float]:
        """The blaxel_operator_* samples of /metrics as {'name{labels}': value}."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("blaxel_operator_") and " " in line:
                key, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    samples[key] = float(value)
        return samples

    def metric_sum(self, prefix: str) -> float:
        """The sum of the samples of one metric (all label sets); 0 when unreachable."""
        try:
            samples = self.metrics()
        except httpx.HTTPError:
            return 0.0
        return sum(v for k, v in samples.items() if k.startswith(prefix + "{") or k == prefix)


def operator_command() -> list[str]:
    script = Path(sys.executable).parent / "blaxel-operator"
    return [str(script)] if script.exists() else [sys.executable, "-m", "blaxel_operator.cli"]


def user_kubeconfig(kube: KubeServer, user: str) -> Path:
    """A copy of the emulator's kubeconfig with its own token: the emulator records writes per token."""
    path = kube.kubeconfig.with_name(f"kubeconfig-{user}")
    path.write_text(kube.kubeconfig.read_text().replace("token: kube-emulator", f"token: {user}"))
    return path


def start_operator(
    workdir: Path,
    kube: KubeServer,
    sim: Simulator,
    settings: OperatorSettings,
    *,
    name: str = "operator",
    extra: Sequence[str] = (),
    rate_limit: float | None = None,
    command: Sequence[str] | None = None,
) -> Operator:
    """`blaxel-operator run` (or `command`, e.g. the operator under tracemalloc, with the same arguments)."""
    metrics_port, health_port = free_port(), free_port()
    argv = [
        *(operator_command() if command is None else command),
        "run",
        "--all-namespaces",
        "--poll-interval",
        str(settings.poll_interval),
        "--deploy-poll-interval",
        str(settings.deploy_poll_interval),
        "--max-inflight",
        str(settings.max_inflight),
        "--rate-limit",
        str(settings.rate_limit if rate_limit is None else rate_limit),
        "--metrics-port",
        str(metrics_port),
        "--health-port",
        str(health_port),
        *extra,
    ]
    env = python_env(
        {
            # BENCH_OPERATOR_PYTHONPATH: run another copy of the operator (e.g. an older commit's
            # `git archive`) against the same test bed, for before/after figures
            **(
                {"PYTHONPATH": os.environ["BENCH_OPERATOR_PYTHONPATH"]}
                if "BENCH_OPERATOR_PYTHONPATH" in os.environ
                else {}
            ),
            **dict(kv.split("=", 1) for kv in os.environ.get("BENCH_OPERATOR_ENV", "").split(",") if kv),
            "KUBECONFIG": str(user_kubeconfig(kube, name)),
            "BL_API_URL": sim.url,
            "BL_API_KEY": SIM_KEY,
            "BL_WORKSPACE": SIM_WORKSPACE,
        }
    )
    proc = Managed(name, argv, workdir / f"{name}.log", env).start()
    return Operator(proc, metrics_port, health_port)


def start_ideal(workdir: Path, kube: KubeServer, sim: Simulator, settings: OperatorSettings) -> Managed:
    """The near-ideal client (bench/ideal.py), with the operator's C and deployment poll interval."""
    ready = workdir / "ideal.ready"
    ready.unlink(missing_ok=True)
    argv = [
        sys.executable,
        str(BENCH / "ideal.py"),
        "--kube-url",
        kube.url,
        "--api-url",
        sim.url,
        "--api-key",
        SIM_KEY,
        "--workspace",
        SIM_WORKSPACE,
        "--max-inflight",
        str(settings.max_inflight),
        "--poll-interval",
        str(settings.deploy_poll_interval),
        "--ready-file",
        str(ready),
    ]
    proc = Managed("ideal", argv, workdir / "ideal.log", python_env()).start()

    def up() -> bool:
        proc.check_alive()
        return ready.exists()

    wait_until(up, timeout=30, what="the ideal client's watch")
    return proc


def start_floor(
    workdir: Path, kube: KubeServer, mode: str = "event", name: str | None = None
) -> tuple[Managed, int]:
    port = free_port()
    argv = [
        sys.executable,
        str(BENCH / "kopf_floor.py"),
        "--kubeconfig",
        str(kube.kubeconfig),
        "--liveness-port",
        str(port),
        "--mode",
        mode,
    ]
    name = name or f"kopf-floor-{mode}"
    return Managed(name, argv, workdir / f"{name}.log", python_env()).start(), port


def wait_healthy(proc: Managed, port: int, timeout: float = 60.0) -> None:
    def healthy() -> bool:
        proc.check_alive()
        return http_ok(f"http://127.0.0.1:{port}/healthz")

    wait_until(healthy, timeout=timeout, what=f"{proc.name} liveness", interval=0.1)


# ---------------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------------


@dataclass
class Series:
    peak_rss: int = 0
    last_rss: int = 0
    samples: list[tuple[float, int, float]] = field(default_factory=list)  # (t, rss, cpu seconds)


class Sampler:
    """Samples RSS (with children) and CPU seconds of some processes every `interval` seconds."""

    def __init__(self, procs: Sequence[Managed], interval: float = 0.1) -> None:
        self.procs = list(procs)
        self.interval = interval
        self.series: dict[str, Series] = {p.name: Series() for p in self.procs}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self.t0 = time.monotonic()

    def __enter__(self) -> Sampler:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(5)

    def sample(self) -> None:
        now = time.monotonic() - self.t0
        for proc in self.procs:
            if not proc.alive:
                continue
            rss = proc.rss()
            series = self.series[proc.name]
            series.peak_rss = max(series.peak_rss, rss)
            series.last_rss = rss
            series.samples.append((now, rss, proc.cpu_seconds()))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

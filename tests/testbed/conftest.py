"""Fixtures of the Kubernetes API test bed's own tests.

`kube` is a started `KubeEmulator` (the repository's CRDs plus the test CRDs of tests/testbed/crds, with a
short bookmark interval); `api` is a small HTTP client for it; `kubeconfig` a kubeconfig file pointing at it;
`kubectl` runs the real kubectl (1.36) against it. Other suites can copy the `kube` fixture as is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from blaxel_devkit.kube import KubeEmulator

from .helpers import CRDS, KUBECTL, TEST_CRDS, Api, Kubectl


@pytest.fixture
async def kube() -> AsyncIterator[KubeEmulator]:
    async with KubeEmulator(crds_dirs=[CRDS, TEST_CRDS], bookmark_interval=0.2) as emulator:
        yield emulator


@pytest.fixture
async def api(kube: KubeEmulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(kube.url) as session:
        yield Api(session)


@pytest.fixture
def kubeconfig(kube: KubeEmulator, tmp_path: Path) -> Path:
    return kube.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    if not KUBECTL.exists():
        pytest.skip("kubectl is not installed: run `python -m blaxel_devkit.binaries kubectl`")
    return Kubectl(kubeconfig, tmp_path / "kubectl-cache")

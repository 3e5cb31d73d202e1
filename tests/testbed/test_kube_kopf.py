"""End to end: a real Kopf operator (in a thread) against the emulator (in another thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kopf
import pytest
from kopf.testing import KopfRunner

from blaxel_devkit.kube import ThreadedKubeEmulator

from . import kopf_app
from .helpers import CRDS, agent

GVR = (kopf_app.GROUP, kopf_app.VERSION, kopf_app.PLURAL)
FINALIZER = "blaxel.ai/testbed"


def _provider_status(obj: dict[str, Any]) -> str | None:
    return obj.get("status", {}).get("atProvider", {}).get("status")


@pytest.mark.timeout(60)
def test_a_kopf_operator_with_a_finalizer_runs_create_update_and_delete_handlers_and_the_object_disappears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kopf_app.calls.clear()
    settings = kopf.OperatorSettings()
    settings.persistence.finalizer = FINALIZER
    settings.watching.server_timeout = 30
    with ThreadedKubeEmulator(crds_dirs=[CRDS], bookmark_interval=1.0) as kube:
        monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
        em = kube.emulator
        argv = ["run", "--standalone", "--namespace=default", "--verbose"]
        with KopfRunner(argv, registry=kopf_app.registry, settings=settings, timeout=30) as runner:
            kube.call(em.create_object, *GVR, agent("hello"))
            created = kube.run(
                em.wait_for_object(
                    *GVR, "default", "hello", lambda o: _provider_status(o) == "CREATED", timeout=20
                )
            )
            assert FINALIZER in created["metadata"]["finalizers"]

            kube.call(em.patch_object, *GVR, "default", "hello", {"spec": {"displayName": "changed"}})
            kube.run(
                em.wait_for_object(
                    *GVR, "default", "hello", lambda o: _provider_status(o) == "UPDATED", timeout=20
                )
            )

            def kopf_events() -> list[dict[str, Any]]:
                events = em.list_objects("", "v1", "events", "default")
                return [e for e in events if e["involvedObject"]["name"] == "hello"]

            assert kube.run(em.wait_for(kopf_events, timeout=10))  # Kopf posts k8s Events (generateName)

            deleting = kube.call(em.delete_object, *GVR, "default", "hello")
            assert deleting["metadata"]["deletionTimestamp"]  # held by the finalizer until the handler ran
            kube.run(em.wait_for_absence(*GVR, "default", "hello", timeout=20))

    assert runner.exception is None
    assert kopf_app.calls == [("create", "hello"), ("update", "hello"), ("delete", "hello")]

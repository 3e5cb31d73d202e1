"""A tiny Kopf operator for the test bed's end-to-end test: a finalizer, create/update/delete handlers.

Handlers are registered in their own registry (not Kopf's global one) and record their calls in `calls`.
"""

from __future__ import annotations

from typing import Any

import kopf

registry = kopf.OperatorRegistry()
calls: list[tuple[str, str]] = []
GROUP, VERSION, PLURAL = "blaxel.ai", "v1alpha1", "blaxelagents"


@kopf.on.login(registry=registry)
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return kopf.login_with_kubeconfig(**kwargs)  # reads $KUBECONFIG


@kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
def created(name: str, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    calls.append(("create", name))
    kopf.info(body, reason="Created", message="the test operator saw it")  # a k8s Event (generateName)
    patch.status["atProvider"] = {"status": "CREATED"}


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec", registry=registry)
def updated(name: str, patch: kopf.Patch, **_: Any) -> None:
    calls.append(("update", name))
    patch.status["atProvider"] = {"status": "UPDATED"}


@kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
def deleted(name: str, **_: Any) -> None:
    calls.append(("delete", name))

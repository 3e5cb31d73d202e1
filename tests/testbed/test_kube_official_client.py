"""The official `kubernetes` Python client against the test bed, as a real client's proof that the test bed
speaks Kubernetes: BlaxelAgents created, listed, watched from a resourceVersion, status-patched, replaced
and deleted; typed models (Secrets, Namespaces, the CRD) deserialise; exec-plugin tokens are renewed.

The client blocks, so its calls run in a thread while the test bed serves on the test's loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from blaxel_devkit.harness import wait_for
from blaxel_devkit.kube import KubeEmulator
from blaxel_devkit.kube_auth import TokenCheck

from .helpers import CRDS, agent

GROUP, VERSION, PLURAL = "blaxel.ai", "v1alpha1", "blaxelagents"


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The client's call in a thread; Any, as the client types custom objects as `object`."""
    return await asyncio.to_thread(fn, *args, **kwargs)


@pytest.fixture
def api_client(kubeconfig: Path) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(kubeconfig))
    yield api
    api.close()


@pytest.fixture
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


async def test_create_get_list_replace_delete(custom: client.CustomObjectsApi) -> None:
    created = await call(
        custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, agent("a")
    )
    meta = created["metadata"]
    assert (
        meta["uid"] and meta["resourceVersion"] and meta["generation"] == 1 and meta["namespace"] == "default"
    )
    got = await call(custom.get_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "a")
    assert got == created
    listed = await call(custom.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL)
    assert listed["kind"] == "BlaxelAgentList" and [o["metadata"]["name"] for o in listed["items"]] == ["a"]
    assert (await call(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL))["items"][0] == created

    got["spec"]["displayName"] = "renamed"
    replaced = await call(
        custom.replace_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "a", got
    )
    assert replaced["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as stale:  # the old resourceVersion
        await call(custom.replace_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "a", got)
    assert stale.value.status == 409

    with pytest.raises(ApiException) as invalid:
        await call(
            custom.create_namespaced_custom_object,
            GROUP,
            VERSION,
            "default",
            PLURAL,
            agent("b", runtime={"generation": "mk9"}),
        )
    assert invalid.value.status == 422 and "mk9" in str(invalid.value.body)

    await call(custom.delete_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "a")
    with pytest.raises(ApiException) as gone:
        await call(custom.get_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "a")
    assert gone.value.status == 404


async def test_patch_status_on_the_status_subresource(custom: client.CustomObjectsApi) -> None:
    await call(custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, agent("a"))
    status = {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Deployed"}]}}
    patched = await call(
        custom.patch_namespaced_custom_object_status, GROUP, VERSION, "default", PLURAL, "a", status
    )
    assert patched["status"]["conditions"][0]["reason"] == "Deployed"
    assert patched["metadata"]["generation"] == 1  # status writes do not bump the generation
    read = await call(custom.get_namespaced_custom_object_status, GROUP, VERSION, "default", PLURAL, "a")
    assert read["status"] == patched["status"]
    # the main resource ignores status changes, as the apiserver does with a status subresource
    spec_patch = {"spec": {"displayName": "x"}, "status": {"conditions": []}}
    after = await call(
        custom.patch_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "a", spec_patch
    )
    assert after["status"] == patched["status"] and after["metadata"]["generation"] == 2


async def test_watch_from_a_resource_version(custom: client.CustomObjectsApi, kube: KubeEmulator) -> None:
    await call(custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, agent("old"))
    listed = await call(custom.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL)
    since = listed["metadata"]["resourceVersion"]
    # history after `since`: replayed by the watch; "old" itself is not
    await call(custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, agent("new"))
    status = {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Deployed"}]}}
    await call(custom.patch_namespaced_custom_object_status, GROUP, VERSION, "default", PLURAL, "new", status)
    await call(custom.delete_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, "old")

    def stream(count: int) -> list[tuple[str, str, str]]:
        watcher = watch.Watch()
        seen: list[tuple[str, str, str]] = []
        for event in watcher.stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            "default",
            PLURAL,
            resource_version=since,
            timeout_seconds=10,
        ):
            obj = event["object"]
            seen.append((event["type"], obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))
            if len(seen) == count:
                watcher.stop()
        return seen

    replayed = await call(stream, 3)
    assert [(kind, name) for kind, name, _ in replayed] == [
        ("ADDED", "new"),
        ("MODIFIED", "new"),
        ("DELETED", "old"),
    ]
    versions = [int(rv) for _, _, rv in replayed]
    assert versions == sorted(versions) and versions[0] > int(since)

    # a live event: the watch is open before the write
    since = replayed[-1][2]
    live = asyncio.ensure_future(call(stream, 1))
    store = kube.state.store(kube.resource(GROUP, VERSION, PLURAL))
    await kube.wait_for(lambda: store.watchers)
    await call(custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, agent("live"))
    assert [(kind, name) for kind, name, _ in await live] == [("ADDED", "live")]


async def test_watch_bookmarks_and_a_too_old_resource_version(tmp_path: Path) -> None:
    async with KubeEmulator(crds_dirs=[CRDS], bookmark_interval=0.2, history_size=3) as kube:
        api = config.new_client_from_config(config_file=str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
        custom = client.CustomObjectsApi(api)
        try:
            for name in ("a", "b", "c", "d", "e"):
                await call(
                    custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, agent(name)
                )
            listed = await call(custom.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL)
            since = listed["metadata"]["resourceVersion"]

            def bookmarks() -> tuple[list[str], str | None]:
                watcher = watch.Watch()
                kinds: list[str] = []
                for event in watcher.stream(
                    custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    "default",
                    PLURAL,
                    resource_version=since,
                    allow_watch_bookmarks=True,
                    timeout_seconds=5,
                ):
                    kinds.append(event["type"])
                    watcher.stop()
                return kinds, watcher.resource_version

            assert await call(bookmarks) == (["BOOKMARK"], since)

            def too_old() -> None:
                for _ in watch.Watch().stream(
                    custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    "default",
                    PLURAL,
                    resource_version="1",
                ):
                    pass

            with pytest.raises(ApiException) as expired:  # the client turns the ERROR event into a 410
                await call(too_old)
            assert expired.value.status == 410 and "too old resource version" in str(expired.value.reason)
        finally:
            api.close()


async def test_typed_core_and_apiextensions_models(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    body = client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"apiKey": "k-1"})
    secret = await call(core.create_namespaced_secret, "default", body)
    assert isinstance(secret, client.V1Secret) and secret.data == {"apiKey": "ay0x"}  # base64 of k-1
    assert secret.metadata is not None and secret.metadata.creation_timestamp is not None
    read = await call(core.read_namespaced_secret, "creds", "default")
    assert read.metadata.uid == secret.metadata.uid
    namespaces = await call(core.list_namespace)
    assert "default" in {ns.metadata.name for ns in namespaces.items}
    crd = await call(
        client.ApiextensionsV1Api(api_client).read_custom_resource_definition, "blaxelagents.blaxel.ai"
    )
    assert crd.spec.names.kind == "BlaxelAgent" and crd.status.accepted_names.plural == PLURAL
    assert (await call(client.VersionApi(api_client).get_code)).major == "1"


async def test_exec_plugin_tokens_are_renewed_by_the_client(tmp_path: Path) -> None:
    check = TokenCheck(ttl=1.0)
    async with KubeEmulator(crds_dirs=[CRDS], token_check=check) as kube:
        api = config.new_client_from_config(config_file=str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
        custom = client.CustomObjectsApi(api)
        try:
            await call(custom.create_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, agent("a"))
            first = set(check.accepted)
            deadline = time.time() + check.ttl

            async def first_token_expired() -> bool:
                return time.time() > deadline

            await wait_for(first_token_expired, timeout=5)
            listed = await call(custom.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL)
            assert [o["metadata"]["name"] for o in listed["items"]] == ["a"]
            assert check.accepted - first and check.refused == 0  # renewed before use, never refused
        finally:
            api.close()

"""Logging in to Kubernetes through the official `kubernetes` client, so that every kubeconfig `kubectl`
accepts works: exec credential plugins (EKS, GKE, AKS kubelogin, OIDC helpers), auth-providers (oidc, gcp),
client certificates, tokens and token files, basic auth; in a pod, the service account.

Each login uses a fresh loader and a private client Configuration (Kopf's `login_via_client` sets the
client's global default and drops the expiry): exec plugins run again and token files are re-read. The
plugin's expiry becomes `ConnectionInfo.expiration`, so Kopf logs in again before the token expires; a 401
leads to a new login as well (Kopf invalidates the credentials and calls its login handler again; KubeApi
asks `KubeLogin.current` for credentials other than the rejected ones).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
from collections.abc import Callable
from typing import Any

import kopf

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def login() -> kopf.ConnectionInfo:
    """Log in with the in-cluster service account, else with the current context of the kubeconfig
    ($KUBECONFIG, else ~/.kube/config). Blocking (exec plugins are subprocesses): run it in a thread.
    Raises kopf.LoginError with the reason."""
    from kubernetes import client, config  # a second to import: only when logging in

    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
        in_cluster = True
    except config.ConfigException:  # not in a pod (no service host/port or token): the kubeconfig
        in_cluster = False
    if in_cluster:
        source = "in-cluster service account"
        info = connection_info(configuration, _service_account_namespace())
    else:  # outside the except block: its errors do not chain the in-cluster attempt's
        info, source = _kubeconfig_login(configuration)
    expiry = f"; the credentials expire at {info.expiration:%H:%M:%S}Z" if info.expiration else ""
    log.info(f"Logged in to Kubernetes at {info.server} with the {source}{expiry}.")
    return info


def _kubeconfig_login(configuration: Any) -> tuple[kopf.ConnectionInfo, str]:
    from kubernetes.config import kube_config

    paths = os.environ.get("KUBECONFIG") or "~/.kube/config"
    try:
        merger = kube_config.KubeConfigMerger(paths)
        if merger.config is None:
            raise kube_config.ConfigException(f"no kubeconfig at {paths}")
        # persisted like kubectl does: auth-providers write refreshed tokens back to the file
        loader = kube_config.KubeConfigLoader(
            config_dict=merger.config, config_base_path=None, config_persister=merger.save_changes
        )
        loader.load_and_set(configuration)
        context = loader.current_context
        entry = merger.config["users"].get_with_name((context.get("context") or {}).get("user"), safe=True)
    except Exception as exc:  # the client's errors are of many kinds (ConfigException, OSError, yaml, ...)
        raise kopf.LoginError(f"cannot log in with the kubeconfig {paths}: {exc}") from exc
    user: dict[str, Any] = (entry.value.get("user") if entry is not None else None) or {}
    if "exec" in user and not (configuration.api_key or configuration.cert_file):
        # the client logs the plugin's failure and carries on without credentials: stop here instead
        raise kopf.LoginError(
            f"the exec plugin {user['exec'].get('command')!r} of kubeconfig context {context['name']!r} "
            "gave no credentials (its error is logged above)"
        )
    method = next((m for m in ("exec", "auth-provider", "token", "tokenFile") if m in user), "")
    source = f"kubeconfig context {context['name']!r}" + (f" ({method})" if method else "")
    namespace = (context.get("context") or {}).get("namespace")
    # the expiry is set by exec plugins (expirationTimestamp) and the gcp auth-provider
    return connection_info(configuration, namespace, getattr(loader, "expiry", None)), source


def connection_info(
    configuration: Any, namespace: str | None = None, expiry: datetime.datetime | None = None
) -> kopf.ConnectionInfo:
    """Kopf's credentials from a `kubernetes.client.Configuration` the client's loaders filled in."""
    # Read as loaded: get_api_key_with_prefix() would run the refresh hook, which re-runs an exec plugin
    # whose token expires within 5 minutes. The value is the whole header: "Bearer x", "bearer x", "Basic x".
    header = configuration.api_key.get("BearerToken") or configuration.api_key.get("authorization")
    scheme, _, token = str(header or "").rpartition(" ")
    if scheme.lower() == "bearer":
        scheme = "Bearer"
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,  # the client writes inline data to temporary files
        insecure=not configuration.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
        default_namespace=namespace,
        proxy_url=configuration.proxy,
        expiration=expiry.astimezone(datetime.UTC) if expiry is not None else None,
    )


def expired(info: kopf.ConnectionInfo) -> bool:
    """Past its expiration (naive times are UTC, as for Kopf)."""
    if info.expiration is None:
        return False
    expiration = info.expiration
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=datetime.UTC)
    return datetime.datetime.now(datetime.UTC) >= expiration


class KubeLogin:
    """The latest login, shared by Kopf's login handler (`fresh`) and KubeApi (`current`)."""

    def __init__(self, login: Callable[[], kopf.ConnectionInfo] = login) -> None:
        self._login = login
        self._info: kopf.ConnectionInfo | None = None
        self._lock = asyncio.Lock()  # one login at a time; waiters get its result

    async def fresh(self) -> kopf.ConnectionInfo:
        """Log in again: Kopf calls this at start, when its credentials expire, and after a 401."""
        async with self._lock:
            return await self._renew()

    async def current(self, rejected: kopf.ConnectionInfo | None = None) -> kopf.ConnectionInfo:
        """The latest login; a new one if there is none yet, it has expired, or it is `rejected` (a 401)."""
        async with self._lock:
            info = self._info
            if info is None or info is rejected or expired(info):
                info = await self._renew()
            return info

    async def _renew(self) -> kopf.ConnectionInfo:
        self._info = await asyncio.to_thread(self._login)
        return self._info


def _service_account_namespace() -> str | None:
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as stream:
            return stream.read().strip() or None
    except OSError:
        return None

"""The Blaxel client honours the proxy environment (read once, not per request)."""

from __future__ import annotations

import pytest

from blaxel_operator.blaxel.client import BlaxelApi, proxy_for


def test_the_proxy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https://api.blaxel.ai/v0") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert proxy_for("https://api.blaxel.ai/v0") == "http://proxy.corp:3128"
    assert BlaxelApi("https://api.blaxel.ai/v0").proxy == "http://proxy.corp:3128"
    assert proxy_for("http://127.0.0.1:8080") is None  # no HTTP_PROXY
    monkeypatch.setenv("NO_PROXY", "blaxel.ai")
    assert proxy_for("https://api.blaxel.ai/v0") is None

"""The log redactor (issue 14, item 6): a log line that does carry a secret comes out redacted, through
every logger the operator configures, with the real logging set-up (`logs.configure`) in both formats."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import kopf
import pytest

from blaxel_operator import logs
from blaxel_operator.logs import REDACTOR, configure

SECRET = "tok-LEAK-3f9a8b7c6d"
OTHER = "sk-second-secret-55aa"  # contains no other secret; both registered


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`configure` changes process-wide logging: put it back as it was."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved = {name: logging.getLogger(name).level for name in ("httpx", "aiohttp.access", "asyncio")}
    yield
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _emit_all() -> None:
    """One line with a secret through each logger the operator's code or its libraries write to."""
    logging.getLogger().warning("root says %s", SECRET)
    logging.getLogger("kopf.objects").error("kopf objects: %s", SECRET)
    logging.getLogger("kopf._core.engines.peering").warning(f"kopf engine: {SECRET}")
    logging.getLogger("blaxel_operator.controller").error("controller: apiKey=%s", SECRET)
    logging.getLogger("blaxel_operator.blaxel.client").debug("client: Authorization: Bearer %s", SECRET)
    logging.getLogger("httpx").warning('HTTP Request: GET https://x/?key=%s "HTTP/1.1 401"', SECRET)
    logging.getLogger("aiohttp.client").warning("aiohttp: %s", SECRET)
    logging.getLogger("blaxel_operator.handlers").error("two: %s and %s", SECRET, OTHER)
    logging.getLogger("blaxel_operator.handlers").warning("extra field", extra={"detail": f"x {SECRET} y"})
    try:
        raise RuntimeError(f"the API refused key {SECRET}")
    except RuntimeError:
        logging.getLogger("blaxel_operator.controller").exception("failed")
    body = kopf.Body({"apiVersion": "blaxel.ai/v1alpha1", "kind": "BlaxelAgent", "metadata": {"name": "bot"}})
    kopf.LocalObjectLogger(body=body, settings=kopf.OperatorSettings()).error(f"object logger: {SECRET}")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_configured_logger_redacts_a_secret(fmt: str, capfd: pytest.CaptureFixture[str]) -> None:
    configure(fmt, "debug")
    REDACTOR.add(SECRET)
    REDACTOR.add(OTHER)
    _emit_all()
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    if fmt == "json":
        records = [json.loads(line) for line in lines]
        assert len(records) == 11, err  # every line came out (nothing redacted by dropping it)
        assert records[9]["exc_info"].endswith("RuntimeError: the API refused key <redacted>")
        assert records[8]["detail"] == "x <redacted> y"
    else:
        assert err.endswith("object logger: <redacted>\n"), err
        assert "RuntimeError: the API refused key <redacted>" in err
    assert err.count("<redacted>") == (12 if fmt == "json" else 11), err
    assert SECRET not in err and OTHER not in err, err


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_messages_without_secrets_are_left_alone(fmt: str, capfd: pytest.CaptureFixture[str]) -> None:
    configure(fmt, "info")
    REDACTOR.add(SECRET)
    logging.getLogger("blaxel_operator.controller").warning("created agent %s in %d s", "bot", 3)
    err = capfd.readouterr().err
    assert "created agent bot in 3 s" in err and "<redacted>" not in err


def test_short_values_are_not_registered() -> None:
    """A 1-3 character "secret" would redact half of every line; such values are not worth hiding."""
    redactor = logs.Redactor()
    redactor.add("ab")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "ab cd", None, None)
    assert redactor.filter(record) and record.getMessage() == "ab cd"

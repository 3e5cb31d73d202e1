"""Names that go into a Kubernetes URL are checked as what they are (issue 14, item 1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from blaxel_operator import kubenames
from blaxel_operator.kubenames import InvalidName

# Hostile or malformed names a BlaxelAgent author can write when the CRD pattern is missing.
HOSTILE = {
    "traversal": "../../kube-system/secrets/stolen",
    "slash": "kube-system/stolen",
    "encoded-slash": "..%2F..%2Fkube-system%2Fsecrets%2Fstolen",
    "encoded-dots": "%2e%2e",
    "dotdot": "..",
    "dot": ".",
    "empty": "",
    "over-long": "a" * 254,
    "unicode": "sécret",
    "unicode-digit": "app\u0663",  # ARABIC-INDIC DIGIT THREE: \d would take it, [0-9] must not
    "fullwidth": "\uff41\uff50\uff50",  # FULLWIDTH "app"
    "control-newline": "app\n",  # `$` would match before a trailing newline
    "control-nul": "app\x00x",
    "control-escape": "app\x1b[31m",
    "uppercase": "App",
    "leading-dash": "-app",
    "trailing-dot": "app.",
    "double-dot": "a..b",
    "query": "app?watch=true",
    "fragment": "app#x",
    "space": "my app",
    "percent": "a%20b",
}

VALID_SUBDOMAINS = [
    "a",
    "app",
    "app-1",
    "my.app.example",
    "0",
    "a" * 253,
    "a-b.c-d",
    ("a" * 63 + ".") * 3 + "a",
]


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize(
    "check",
    [kubenames.secret_name, kubenames.object_name, kubenames.namespace],
    ids=["secret", "object", "ns"],
)
def test_hostile_names_are_refused(check: Callable[..., str], value: str) -> None:
    with pytest.raises(InvalidName) as caught:
        check(value, "spec.credentialsRef.name")
    message = str(caught.value)
    assert message.startswith("spec.credentialsRef.name ")
    assert "DNS-1123" in message  # the rule is named
    assert "\n" not in message and "\x00" not in message and "\x1b" not in message  # escaped, not forged
    assert len(message) < 400  # a huge name is cut, not copied


@pytest.mark.parametrize("value", VALID_SUBDOMAINS)
def test_valid_subdomains_pass_unchanged(value: str) -> None:
    assert kubenames.secret_name(value) == value
    assert kubenames.object_name(value) == value


@pytest.mark.parametrize("value", ["default", "kube-system", "team-a", "a" * 63])
def test_valid_namespaces_pass(value: str) -> None:
    assert kubenames.namespace(value) == value


@pytest.mark.parametrize("value", ["my.ns", "a" * 64])
def test_a_namespace_is_a_label_not_a_subdomain(value: str) -> None:
    kubenames.subdomain(value, "x")  # fine as an object name
    with pytest.raises(InvalidName, match="DNS-1123 label"):
        kubenames.namespace(value)


@pytest.mark.parametrize("value", ["token", "API_KEY", "tls.crt", ".dockerconfigjson", "a-b_c.d", "k" * 253])
def test_valid_secret_keys(value: str) -> None:
    assert kubenames.secret_key(value) == value


@pytest.mark.parametrize(
    "value",
    ["", ".", "..", "..data", "a/b", "../x", "a%2Fb", "k" * 254, "clé", "a\n", "a b", "a:b"],
)
def test_invalid_secret_keys(value: str) -> None:
    with pytest.raises(InvalidName, match="letters, digits"):
        kubenames.secret_key(value, "secretKeyRef key")


@pytest.mark.parametrize("value", [None, 3, b"app", ["app"]])
def test_non_strings_are_refused_by_type(value: object) -> None:
    with pytest.raises(InvalidName, match="of type"):
        kubenames.secret_name(value)


def test_invalid_name_is_a_value_error_that_keeps_field_and_rule() -> None:
    with pytest.raises(ValueError) as caught:
        kubenames.secret_name("../x", "secretKeyRef name")
    error = caught.value
    assert isinstance(error, InvalidName)
    assert error.what == "secretKeyRef name"
    assert error.rule == kubenames.SUBDOMAIN_RULE
    assert "'../x'" in str(error)

"""Kubernetes names, checked as what they are before they go into an API URL (pure: no I/O).

A name taken from a resource's spec (a Secret name, say) is user input: `../../kube-system/secrets/x`
would otherwise address another namespace. The CRD refuses such names too; this is the operator's own
check (a CRD can be old or edited), with the apiserver's rules (k8s.io/apimachinery validation).
"""

from __future__ import annotations

import re

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL = re.compile(_LABEL)
DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253
SECRET_KEY_MAX = 253

SUBDOMAIN_RULE = (
    "a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or "
    f"digit, at most {SUBDOMAIN_MAX} characters"
)
LABEL_RULE = (
    "a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, "
    f"at most {LABEL_MAX} characters"
)
SECRET_KEY_RULE = (
    f"letters, digits, '-', '_' and '.' (not '.' or '..', not starting with '..'), at most {SECRET_KEY_MAX} "
    "characters"
)
_SHOWN = 64  # characters of a refused name quoted in the message


class InvalidName(ValueError):
    """A name that is not valid for what it names; the message names the field and the rule."""

    def __init__(self, what: str, value: object, rule: str) -> None:
        self.what = what
        self.rule = rule
        super().__init__(f"{what} {shown(value)} is not valid: it must be {rule}")


def shown(value: object) -> str:
    """The refused value, quoted with control characters escaped and cut to a readable length.

    Names are not secret; quoting them (repr) keeps a hostile one from forging log lines or status text.
    """
    if not isinstance(value, str):
        return f"of type {type(value).__name__}"
    if not value:
        return "'' (empty)"
    if len(value) > _SHOWN:
        return f"{value[:_SHOWN]!r}... ({len(value)} characters)"
    return repr(value)


def subdomain(value: object, what: str) -> str:
    """`value` if it is a DNS-1123 subdomain (names of Secrets and of most objects), else InvalidName."""
    if not isinstance(value, str) or len(value) > SUBDOMAIN_MAX or not DNS1123_SUBDOMAIN.fullmatch(value):
        raise InvalidName(what, value, SUBDOMAIN_RULE)
    return value


def label(value: object, what: str) -> str:
    """`value` if it is a DNS-1123 label (namespaces), else InvalidName."""
    if not isinstance(value, str) or len(value) > LABEL_MAX or not DNS1123_LABEL.fullmatch(value):
        raise InvalidName(what, value, LABEL_RULE)
    return value


def secret_key(value: object, what: str = "Secret key") -> str:
    """`value` if it is a valid key of a Secret's data, else InvalidName."""
    if (
        not isinstance(value, str)
        or len(value) > SECRET_KEY_MAX
        or not SECRET_KEY.fullmatch(value)
        or value.startswith("..")
        or value == "."
    ):
        raise InvalidName(what, value, SECRET_KEY_RULE)
    return value


def namespace(value: object, what: str = "namespace") -> str:
    return label(value, what)


def secret_name(value: object, what: str = "Secret name") -> str:
    return subdomain(value, what)


def object_name(value: object, what: str = "object name") -> str:
    return subdomain(value, what)

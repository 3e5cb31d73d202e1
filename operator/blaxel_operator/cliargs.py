"""What the CLI's commands share and `cli.py` needs before it runs one: the user-error type and the Blaxel API
options of the tools that call Blaxel (`diff`, `import`). Kept apart from `tools/` so that building the parser,
and so `blaxel-operator run`, loads none of the tools.
"""

from __future__ import annotations

import argparse
import os

from .config import API_URL_HELP, api_url_from_env, api_version_from_env

__all__ = ["CliError", "add_api_arguments", "api_settings"]


class CliError(Exception):
    """A user error: printed on stderr, exit code 2."""


def add_api_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-url", metavar="URL", help=API_URL_HELP)
    p.add_argument(
        "--workspace",
        default=os.environ.get("BL_WORKSPACE") or None,
        metavar="WS",
        help="Blaxel workspace (env BL_WORKSPACE; default: the API key's workspace when it has only one)",
    )
    p.add_argument(
        "--api-key-file",
        metavar="PATH",
        help="read the Blaxel API key from this file (default: env BL_API_KEY); "
        "a key is never accepted on the command line",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="timeout of one Blaxel call (default 30)",
    )
    p.add_argument(
        "--rate-limit",
        type=float,
        default=20.0,
        metavar="PER_SECOND",
        help="Blaxel calls per second (default 20; 0 = unlimited)",
    )


def api_settings(args: argparse.Namespace) -> tuple[str, str]:
    """(base URL, API version): --api-url, else BL_API_URL / BL_ENV; BL_API_VERSION."""
    try:
        return args.api_url or api_url_from_env(os.environ), api_version_from_env(os.environ)
    except ValueError as exc:
        raise CliError(str(exc)) from None

"""What the CLI's commands share and `cli.py` needs before it runs one: the user-error type and the Blaxel API
options of the tools that call Blaxel (`diff`, `import`). Kept apart from `tools/` so that building the parser,
and so `blaxel-operator run`, loads none of the tools.
"""

from __future__ import annotations

import argparse
import os

from .blaxel.client import DEFAULT_API_URL

__all__ = ["CliError", "add_api_arguments"]


class CliError(Exception):
    """A user error: printed on stderr, exit code 2."""


def add_api_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--api-url",
        default=os.environ.get("BL_API_URL", DEFAULT_API_URL),
        help=f"Blaxel API base URL (env BL_API_URL; default {DEFAULT_API_URL})",
    )
    p.add_argument(
        "--workspace",
        default=os.environ.get("BL_WORKSPACE") or None,
        metavar="WS",
        help="Blaxel workspace (env BL_WORKSPACE; default: the API key's own workspace)",
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

"""``python -m blaxel_operator.simulator --port 8787``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

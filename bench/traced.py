"""`blaxel-operator run` with tracemalloc on: each SIGUSR1 writes a snapshot of the heap.

    python bench/traced.py SNAPSHOT_PREFIX FRAMES run --all-namespaces ...

The n-th SIGUSR1 writes SNAPSHOT_PREFIX-<n>.tracemalloc (tracemalloc's own dump format, read back with
tracemalloc.Snapshot.load). Traces keep 25 frames, enough to tell who asked for each block: Kopf, the
runtime, the HTTP clients. Tracing slows the process and adds its own memory (not counted in the
snapshots), so the bench never measures time or RSS with it.
"""

from __future__ import annotations

import signal
import sys
import tracemalloc
from types import FrameType


def referrers(prefix: str) -> None:
    """Who keeps the live dicts allocated at TRACED_SITE ("file.py:line") that have the keys of
    TRACED_KEYS ("metadata,spec"): a few samples, two levels of referrers each, written to
    PREFIX-referrers.txt (a diagnostic for the memory breakdown)."""
    import gc
    import os

    site = os.environ.get("TRACED_SITE", "")
    keys = set(filter(None, os.environ.get("TRACED_KEYS", "").split(",")))
    found = []
    for obj in gc.get_objects():
        if type(obj) is not dict or not keys <= obj.keys():
            continue
        tb = tracemalloc.get_object_traceback(obj)
        if tb is not None and any(f"{f.filename}:{f.lineno}".endswith(site) for f in tb):
            found.append(obj)
    with open(f"{prefix}-referrers.txt", "w") as out:
        out.write(f"{len(found)} live dicts allocated at {site}\n")
        for obj in found[:: max(1, len(found) // 6)][:6]:
            out.write(f"== {str(obj)[:150]}\n")
            for ref in gc.get_referrers(obj)[:5]:
                if ref is found:
                    continue
                out.write(f"  <- {type(ref).__name__} {repr(ref)[:200]}\n")
                for ref2 in gc.get_referrers(ref)[:4]:
                    if ref2 is found:
                        continue
                    out.write(f"      <- {type(ref2).__name__} {repr(ref2)[:200]}\n")
    with open(f"{prefix}-referrers.done", "w") as done:
        done.write("ok\n")


def main() -> int:
    prefix, frames, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    tracemalloc.start(frames)
    count = 0

    def dump(signum: int, frame: FrameType | None) -> None:
        nonlocal count
        count += 1
        snapshot = tracemalloc.take_snapshot()
        snapshot.dump(f"{prefix}-{count}.tracemalloc")
        with open(f"{prefix}-{count}.done", "w") as done:
            done.write("ok\n")

    signal.signal(signal.SIGUSR1, dump)
    signal.signal(signal.SIGUSR2, lambda signum, frame: referrers(prefix))
    from blaxel_operator.cli import main as cli_main

    return int(cli_main(argv) or 0)


if __name__ == "__main__":
    raise SystemExit(main())

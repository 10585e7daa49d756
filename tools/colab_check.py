#!/usr/bin/env python
"""Run a notebook as a new Colab user would: a fresh Python ≥ 3.12 venv with only TensorFlow and a
Jupyter kernel preinstalled, no tfdpfair and no ../shared/data, executed from its install cell.

    python tools/colab_check.py [--python python3.12] [--notebook notebooks/dp_dcgan.ipynb] [--keep DIR]

The install cell gets tfdpfair from this checkout (``TFDPFAIR_SOURCE``) instead of the remote.
Exit 0 when every cell ran and the run wrote results.json; prints the seconds each phase took.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What a Colab runtime already has: TensorFlow (the version our current stack locks) and a kernel.
PREINSTALLED = ("tensorflow", "ipykernel", "nbclient", "nbformat")

RUNNER = """
import json, sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
first = nb.cells[1].get("outputs", [])
print(json.dumps({"errors": len(errors), "install_cell_output": "".join(o.get("text", "") for o in first)}))
"""


def _pins(names) -> list:
    """``name==version`` from the current stack's constraints, for the preinstalled packages."""
    pins = {}
    for line in (REPO / "constraints" / "current.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return [f"{n}=={pins[n]}" if n in pins else n for n in names]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", default="python3.12")
    p.add_argument("--notebook", type=Path, default=REPO / "notebooks" / "dp_dcgan.ipynb")
    p.add_argument("--keep", type=Path, help="build the venv and run here (default: a temporary folder)")
    args = p.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="colab-check-"))
    work.mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    py = venv / "bin" / "python"
    start = time.perf_counter()
    subprocess.run([args.python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", *_pins(PREINSTALLED)], check=True)
    preinstalled = time.perf_counter() - start
    run_dir = work / "run"  # no ../shared beside it: data comes from what the packages embed
    run_dir.mkdir(exist_ok=True)
    if subprocess.run([str(py), "-c", "import tfdpfair"], cwd=run_dir, capture_output=True).returncode == 0:
        print(f"{venv} already has tfdpfair: use a new --keep folder", file=sys.stderr)
        return 1
    env = {**os.environ, "TFDPFAIR_SOURCE": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.run([str(py), "-c", RUNNER, str(args.notebook), str(run_dir)], env=env, cwd=run_dir,
                          capture_output=True, text=True)
    executed = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
        return 1
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    results = sorted(run_dir.rglob("results.json"))
    print(f"preinstall (TensorFlow + kernel): {preinstalled:.0f} s; notebook from its install cell: {executed:.0f} s")
    print(f"install cell printed: {report['install_cell_output'].strip()}")
    print(f"cells with errors: {report['errors']}; results.json: {[str(r.relative_to(run_dir)) for r in results]}")
    return 0 if report["errors"] == 0 and results else 1


if __name__ == "__main__":
    sys.exit(main())

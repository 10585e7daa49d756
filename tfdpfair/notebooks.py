"""Notebooks generated from the reproduction scripts, which stay the source of truth.

A script is written in jupytext's "percent" format: ``# %% Title`` starts a cell (the
title becomes a markdown heading in the notebook), its module docstring becomes the
notebook's first markdown cell, and a cell tagged ``parameters`` holds ``ARGV``, the
command-line flags the script's last cell passes to ``experiment.run_script``. In a
shell ``ARGV = None`` means "read ``sys.argv``"; a notebook sets the flags it runs with.

    python -m tfdpfair.notebooks            # rewrite notebooks/<slug>.ipynb from reproductions/
    python -m tfdpfair.notebooks --check    # exit 1 if any notebook is out of date
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

#: Flags a generated notebook runs with (a cell the reader edits): the smoke preset, which
#: finishes in about a minute anywhere (Colab included) on whatever data ``tfdpfair.data.load``
#: finds; the reader switches to quick or paper (add "--data-dir", "<folder>" for local data).
DEFAULT_ARGV = ("--preset", "smoke")
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}
#: Where the install cell gets tfdpfair when it is not installed (override: TFDPFAIR_SOURCE, a
#: git URL or a local checkout).
REPOSITORY = "https://github.com/tfdpfair/tfdpfair"
TF_PRIVACY = ("tensorflow-privacy==0.9.0", "tensorflow-empirical-privacy==0.1.0")

INSTALL_CELL = f'''# Set-up. On Colab (or any Python >= 3.12 with pip) this installs tfdpfair with the current
# stack's constraints, once; where tfdpfair is already installed (make demo, pip install) it does nothing.
import importlib, importlib.util, os, subprocess, sys
from pathlib import Path

if importlib.util.find_spec("tfdpfair") is None:
    source = os.environ.get("TFDPFAIR_SOURCE", "{REPOSITORY}")
    checkout = Path(source).expanduser()
    if not checkout.is_dir():
        checkout = Path("tfdpfair-src")
        if not checkout.is_dir():
            subprocess.run(["git", "clone", "--depth", "1", source, str(checkout)], check=True)
    stack = "current" if sys.version_info >= (3, 12) else "pinned"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "-c", str(checkout / "constraints" / f"{{stack}}.txt")]
    subprocess.run(pip + [str(checkout)], check=True)
    if stack == "current":  # TF Privacy declares Requires-Python < 3.12: installed without its declared deps
        subprocess.run(pip + ["--no-deps", "--ignore-requires-python",
                              {", ".join(f'"{t}"' for t in TF_PRIVACY)}], check=True)
    importlib.invalidate_caches()
import tfdpfair.compat

print(tfdpfair.compat.describe())'''


class NotebookError(ValueError):
    """A script that does not follow the notebook conventions above."""


def _split_docstring(source: str) -> "tuple[Optional[str], str]":
    """(module docstring, the code after it) of a cell's source."""
    tree = ast.parse(source)
    if not (tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant)
            and isinstance(tree.body[0].value.value, str)):
        return None, source
    end = tree.body[0].end_lineno
    return tree.body[0].value.value, "\n".join(source.splitlines()[end:]).strip("\n")


def _docstring_markdown(doc: str) -> str:
    """The docstring as markdown: first line a title, ``code`` spans kept, the rest as written."""
    lines = doc.strip("\n").splitlines()
    title = lines[0].strip()
    body = "\n".join(lines[1:]).replace("``", "`")
    return f"# {title}\n{body}".rstrip()


def parameters_source(argv: Sequence[str]) -> str:
    return f"ARGV = {json.dumps(list(argv))}"


def notebook_from_script(script: Path, *, argv: Sequence[str] = DEFAULT_ARGV):
    """The notebook of one reproduction script (an ``nbformat`` v4 notebook; nothing is executed).

    Raises:
      NotebookError: the script has no ``parameters`` cell, or the docstring is missing.
    """
    import jupytext
    import nbformat

    script = Path(script)
    parsed = jupytext.read(script, fmt="py:percent")
    cells: List = []
    has_parameters = False
    install = nbformat.v4.new_code_cell(INSTALL_CELL)
    install.metadata["tags"] = ["install"]
    for i, cell in enumerate(parsed.cells):
        source = cell.source
        if i == 0:
            doc, source = _split_docstring(source)
            if doc is None:
                raise NotebookError(f"{script}: the first cell must start with the module docstring")
            cells.append(nbformat.v4.new_markdown_cell(_docstring_markdown(doc)))
            cells.append(install)
        title = cell.metadata.get("title")
        if title:
            cells.append(nbformat.v4.new_markdown_cell(f"## {title}"))
        tags = list(cell.metadata.get("tags", []))
        if "parameters" in tags:
            has_parameters = True
            cells.append(nbformat.v4.new_markdown_cell(
                "The flags this notebook runs with, as on the command line (`--preset smoke|quick|paper`, "
                "`--data-dir`, `--seed`, `--set key=value`, `--dry-run`, ...). `smoke` checks the pipeline in "
                "about a minute; `quick` shows the paper's findings on real data (a 2-core CPU, 15 to 45 minutes); "
                "`paper` uses the paper's hyper-parameters and wants a GPU."))
            source = parameters_source(argv)
        if cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(source))
        elif source.strip():
            code = nbformat.v4.new_code_cell(source)
            if tags:
                code.metadata["tags"] = tags
            cells.append(code)
    if not has_parameters:
        raise NotebookError(f'{script}: no cell tagged parameters (# %% tags=["parameters"] with ARGV = None)')
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNEL)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["tfdpfair"] = {"generated_from": f"reproductions/{script.name}",
                               "regenerate": "python -m tfdpfair.notebooks"}
    for n, cell in enumerate(nb.cells):  # stable ids: regenerating an unchanged script changes nothing
        cell["id"] = f"cell-{n}"
    return nb


def with_argv(nb, argv: Sequence[str]):
    """A copy of ``nb`` whose parameters cell holds ``argv`` (e.g. to execute it on ``smoke``)."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = parameters_source(argv)
            return nb
    raise NotebookError("the notebook has no cell tagged parameters")


def render(nb) -> str:
    import nbformat

    return nbformat.writes(nb) + "\n"


def build_all(*, scripts_dir: Path, notebooks_dir: Path, check: bool = False) -> Dict[str, bool]:
    """Write (or with ``check``, only compare) ``notebooks/<slug>.ipynb`` for every script.

    Returns {notebook file name: True if it was already up to date}.
    """
    status = {}
    for script in sorted(Path(scripts_dir).glob("*.py")):
        target = Path(notebooks_dir) / f"{script.stem}.ipynb"
        text = render(notebook_from_script(script))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        status[target.name] = current == text
        if not check and current != text:
            target.write_text(text, encoding="utf-8")
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(prog="python -m tfdpfair.notebooks", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only report notebooks that differ from their scripts")
    p.add_argument("--scripts", type=Path, default=root / "reproductions")
    p.add_argument("--notebooks", type=Path, default=root / "notebooks")
    args = p.parse_args(argv)
    try:
        status = build_all(scripts_dir=args.scripts, notebooks_dir=args.notebooks, check=args.check)
    except NotebookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    stale = [name for name, fresh in status.items() if not fresh]
    for name, fresh in status.items():
        print(f"{name}: {'up to date' if fresh else ('out of date' if args.check else 'written')}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Notebooks are generated from the scripts, kept up to date, and run on ``smoke`` in a real kernel."""
import json
from pathlib import Path

import nbformat
import pytest

from tfdpfair import notebooks
from tfdpfair.reporting import validate_results

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((REPO / "reproductions").glob("*.py"))
TOY = '''#!/usr/bin/env python
"""Toy (2024), *A title*.

Body with ``code``.

    python toy.py --preset quick
"""
import sys

X = 1

# %% Configuration
Y = 2

# %% tags=["parameters"]
ARGV = None

# %% Run
if __name__ == "__main__":
    print(ARGV)
'''


def _write(tmp_path, text, name="toy.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_docstring_becomes_markdown_titles_become_headings_argv_is_set(tmp_path):
    nb = notebooks.notebook_from_script(_write(tmp_path, TOY), argv=["--preset", "smoke"])
    kinds = [(c.cell_type, c.source.splitlines()[0]) for c in nb.cells]
    assert kinds[0] == ("markdown", "# Toy (2024), *A title*.")
    assert "Body with `code`." in nb.cells[0].source and '"""' not in nb.cells[1].source
    assert nb.cells[1].source == notebooks.INSTALL_CELL and nb.cells[1].metadata["tags"] == ["install"]
    assert nb.cells[2].source.startswith("import sys")
    assert ("markdown", "## Configuration") in kinds and ("markdown", "## Run") in kinds
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and params[0].source == 'ARGV = ["--preset", "smoke"]'
    nbformat.validate(nb)


def test_regenerating_an_unchanged_script_is_byte_identical(tmp_path):
    script = _write(tmp_path, TOY)
    assert notebooks.render(notebooks.notebook_from_script(script)) == notebooks.render(
        notebooks.notebook_from_script(script))


def test_scripts_without_parameters_or_docstring_are_refused(tmp_path):
    with pytest.raises(notebooks.NotebookError, match="tagged parameters"):
        notebooks.notebook_from_script(_write(tmp_path, TOY.replace(' tags=["parameters"]', "")))
    with pytest.raises(notebooks.NotebookError, match="docstring"):
        notebooks.notebook_from_script(_write(tmp_path, TOY[TOY.index("import sys"):]))


def test_with_argv_replaces_only_the_parameters_cell(tmp_path):
    nb = notebooks.notebook_from_script(_write(tmp_path, TOY))
    changed = notebooks.with_argv(nb, ["--preset", "quick", "--out", "x"])
    diff = [(a.source, b.source) for a, b in zip(nb.cells, changed.cells) if a.source != b.source]
    assert diff == [('ARGV = ["--preset", "smoke"]', 'ARGV = ["--preset", "quick", "--out", "x"]')]


def test_check_reports_stale_and_build_writes(tmp_path):
    scripts, nbs = tmp_path / "scripts", tmp_path / "nbs"
    scripts.mkdir(), nbs.mkdir()
    _write(scripts, TOY)
    assert notebooks.build_all(scripts_dir=scripts, notebooks_dir=nbs, check=True) == {"toy.ipynb": False}
    assert not (nbs / "toy.ipynb").exists()
    assert notebooks.main(["--scripts", str(scripts), "--notebooks", str(nbs), "--check"]) == 1
    assert notebooks.main(["--scripts", str(scripts), "--notebooks", str(nbs)]) == 0
    assert notebooks.build_all(scripts_dir=scripts, notebooks_dir=nbs, check=True) == {"toy.ipynb": True}


def test_the_committed_notebooks_are_up_to_date():
    status = notebooks.build_all(scripts_dir=REPO / "reproductions", notebooks_dir=REPO / "notebooks", check=True)
    assert set(status) == {f"{s.stem}.ipynb" for s in SCRIPTS}
    stale = [name for name, fresh in status.items() if not fresh]
    assert not stale, f"{stale} differ from their scripts: run `python -m tfdpfair.notebooks`"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_notebook_runs_on_smoke_in_a_kernel(script, uninterrupted):
    """The notebook, executed from its install cell in a Jupyter kernel on the smoke preset, shows the report and
    the figures. The execution is the shared smoke run (``uninterrupted`` in conftest.py), whose results
    tests/test_reproductions.py checks in full."""
    out, _, executed = uninterrupted(script)
    nb = nbformat.read(executed, as_version=4)
    results = json.loads((out / "results.json").read_text())
    validate_results(results)
    assert results["preset"] == "smoke" and results["rows"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "install" in code[0].metadata.get("tags", []) and " stack: Python " in "".join(
        o.get("text", "") for o in code[0].outputs), "the install cell ran first and printed the stack"
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if o.output_type == "display_data"]
    assert any("text/markdown" in o.data and "| ours | paper |" in o.data["text/markdown"] for o in shown)
    assert any("image/png" in o.data for o in shown), "the figures are displayed in the notebook"

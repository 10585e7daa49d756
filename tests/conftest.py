"""Shared fixtures: the offline datasets in ../shared/data (tests skip, with a reason, without them)."""
import fcntl
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Decoded JPEG datasets (tfdpfair.data.jpeg) are cached for all test processes and the scripts they start, in a
# private folder made by the first (controlling) process, inherited by the others through the environment, and
# removed when the session ends (pytest_sessionfinish below); the user's own cache is left alone.
if "TFDPFAIR_CACHE_DIR" not in os.environ:
    os.environ["TFDPFAIR_CACHE_DIR"] = tempfile.mkdtemp(prefix="tfdpfair-test-cache-")
    _OWN_CACHE = os.environ["TFDPFAIR_CACHE_DIR"]
else:
    _OWN_CACHE = None
# Under pytest-xdist each test process (and the scripts it starts) gets its share of the cores for TensorFlow's
# intra-op pool: by default each would use all of them, and their spinning threads slow one another (two DCGAN
# smoke runs side by side on 2 cores: 104 and 127 s with the default pools, 92 and 117 s with one intra-op and
# one inter-op thread each; the inter-op pool is left at its default, since one thread can hang collective ops).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(max(1, _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("TFDPFAIR_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()
# Scripts whose smoke preset needs real dataset files (there is no embedded CelebA or CIFAR-10).
NEEDS_DATA = {"neither_private_nor_fair": ("celeba.npz",), "generalization_tradeoffs": ("cifar10.npz", "celeba.npz")}


def _skip_without_data(script: Path) -> None:
    needed = [name for name in NEEDS_DATA.get(script.stem, ()) if not (SHARED_DATA / name).is_file()]
    if needed:
        pytest.skip(f"{script.stem} smoke needs {needed} in {SHARED_DATA} (set TFDPFAIR_SHARED_DATA)")


def _data_args() -> list:
    return ["--data-dir", str(SHARED_DATA)] if SHARED_DATA.is_dir() else []


@pytest.fixture(scope="session")
def load_script():
    """``load_script(slug)``: ``reproductions/<slug>.py`` imported as a module, once per process."""
    import importlib.util
    import sys

    def load(slug: str):
        name = f"_tfdpfair_test_{slug}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, REPO / "reproductions" / f"{slug}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        return sys.modules[name]

    return load


@pytest.fixture
def in_process(load_script, capsys):
    """``in_process(slug, argv)``: (exit status, stdout, stderr) of one invocation of ``reproductions/<slug>.py`` in
    this process (bad-input checks that fail before any training)."""
    from tfdpfair.experiment import run_script

    def invoke(slug, argv):
        module = load_script(slug)
        try:
            run_script(slug=module.SLUG, description=module.TITLE, presets=module.PRESETS, plan=module.plan,
                       run=module.run, argv=argv)
            code = 0
        except SystemExit as exit_:
            code = exit_.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real .npz datasets beside the repo (or $TFDPFAIR_SHARED_DATA)."""
    if not (SHARED_DATA / "mnist.npz").is_file():
        pytest.skip(f"real datasets not found in {SHARED_DATA} (set TFDPFAIR_SHARED_DATA to their folder)")
    return SHARED_DATA


# The slowest tests run first. `make test` hands tests out one at a time (--maxschedchunk=1; by default pytest-xdist
# sends each process an eighth of the suite as one consecutive block, which would give one process all of these):
# each process holds two tests, the one it runs and the next, and gets the next test in this order as it finishes
# one. So the two processes make the shared smoke runs (``uninterrupted`` below) side by side, the longest with the
# shortest, as each finishes one; the tests that read a smoke run usually start once it has finished, and the quick
# tests even out the end. This is only about time: in any other order (or with -n 0) a test that needs a smoke
# run another process is making waits for it, and the results are the same.
_SCRIPTS = ("generalization_tradeoffs", "dp_cgan", "neither_private_nor_fair", "dp_dcgan", "demem")
SLOWEST_FIRST = tuple(
    f"{test}[{script}]" for test in (
        "test_reproductions.py::test_smoke_run_writes_valid_results",
        "test_reproductions.py::test_a_run_killed_at_a_random_moment_resumes_to_the_uninterrupted_numbers",
    ) for script in _SCRIPTS) + (
    "test_reproductions.py::test_a_fresh_run_killed_at_a_random_moment_resumes_to_the_uninterrupted_numbers",
    "test_cli_property.py::test_random_overrides_exit_0_or_2_with_one_line[dp_dcgan]",
    "test_cli_attack.py::test_attack_prints_the_table_and_matches_the_library",
    "test_multi_device.py::test_two_replicas_compute_the_same_clipped_sum_as_one_device",
)


def pytest_collection_modifyitems(config, items):
    place = {suffix: i for i, suffix in enumerate(SLOWEST_FIRST)}

    def rank(item):
        return next((i for suffix, i in place.items() if item.nodeid.endswith(suffix)), len(place))

    items.sort(key=rank)  # stable: the rest keep their collection order


def pytest_sessionfinish(session, exitstatus):
    if _OWN_CACHE and not hasattr(session.config, "workerinput"):  # the controlling process, after all the others
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def computed_once(tmp_path_factory):
    """``get(name, compute)``: ``compute(folder)`` (JSON-serialisable result) run once per test session, shared by
    all test processes: the first to ask computes it under a file lock, the others wait and read it. A failure is
    reported to every test that asks, without computing again."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each process's own

    def get(name, compute):
        folder = root / f"once-{name}"
        folder.mkdir(exist_ok=True)
        value, failed = folder / "value.json", folder / "failed"
        with open(folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not value.is_file() and not failed.is_file():
                try:
                    value.write_text(json.dumps(compute(folder)))
                except Exception as err:  # noqa: BLE001 (reported to each test below)
                    failed.write_text(f"{type(err).__name__}: {err}"[-3000:])
        if failed.is_file():
            pytest.fail(f"{name} failed:\n{failed.read_text()}")
        return json.loads(value.read_text())

    return get


@pytest.fixture(scope="session")
def uninterrupted(computed_once):
    """``get(script)``: ``(out folder, wall seconds, executed notebook)`` of one uninterrupted ``--preset smoke`` run
    of the script, shared by all the tests that read one: read it, never change it (copy it first). Skips the
    test, saying why, when the smoke preset's datasets are not in SHARED_DATA.

    The run is made by executing the script's notebook (notebooks/<script>.ipynb, from its install cell) in a
    Jupyter kernel: it is the smoke run the script tests read (tests/test_reproductions.py, which also resume it
    from the command line and compare the numbers) and the notebook run the notebook test checks
    (tests/test_notebooks.py), made once. Made once per session for all test processes (``make test`` runs
    ``-n 2``; see ``computed_once``): the smoke runs are the slowest thing in the suite, and neither a
    module-scoped cache (dropped whenever the next test is from another module) nor pytest-xdist's ``loadgroup``
    (it silently stops grouping on pytest 9.2, pytest-xdist issue 1386) keeps them to one each.
    """
    def get(script: Path):
        _skip_without_data(script)

        def run(folder):
            import nbformat
            from nbclient import NotebookClient
            from nbclient.exceptions import CellExecutionError

            from tfdpfair import notebooks

            source = nbformat.read(REPO / "notebooks" / f"{script.stem}.ipynb", as_version=4)
            for attempt in (1, 2):  # a kernel that fails to start (a port taken by the other process's) gets a retry
                shutil.rmtree(folder / "out", ignore_errors=True)
                nb = notebooks.with_argv(source, ["--preset", "smoke", "--out", str(folder / "out"), *_data_args()])
                start = time.monotonic()
                try:
                    NotebookClient(nb, timeout=900, kernel_name="python3",
                                   resources={"metadata": {"path": str(folder)}}).execute()
                    break
                except CellExecutionError as err:  # the run failed: what it printed (stderr's `error: ...` line)
                    nbformat.write(nb, folder / "executed.ipynb")
                    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                                      for o in c.get("outputs", []) if o.get("output_type") == "stream")
                    raise RuntimeError(f"the smoke run of {script.stem} (its notebook, {folder / 'executed.ipynb'}) "
                                       f"failed:\n{printed[-2000:]}\n{str(err)[-1000:]}") from None
                except Exception:  # noqa: BLE001 - no cell failed: retried only if the kernel never ran a cell
                    if attempt == 2 or any(c.get("execution_count") for c in nb.cells if c.cell_type == "code"):
                        raise
            seconds = time.monotonic() - start
            nbformat.write(nb, folder / "executed.ipynb")
            return {"out": str(folder / "out"), "seconds": seconds, "notebook": str(folder / "executed.ipynb")}

        done = computed_once(f"uninterrupted-{script.stem}", run)
        return Path(done["out"]), done["seconds"], Path(done["notebook"])

    return get

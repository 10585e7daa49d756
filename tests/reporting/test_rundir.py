"""The run folder: claimed atomically, locked while in use, replaced only by a run that succeeded."""
import subprocess
from pathlib import Path
import sys
import textwrap

import pytest

from tfdpfair.reporting.rundir import MARKER, OutputDirError, RunDir, check_out_path, in_use, staging_path


def _finish(rundir, text="new"):
    (rundir.path / "config.json").write_text("{}")
    (rundir.path / "results.json").write_text(text)
    return rundir.finish({"ok": True})


def test_an_earlier_run_is_never_overwritten(tmp_path):
    out = tmp_path / "quick"
    first = _finish(RunDir.claim(out))
    second = RunDir.claim(out)
    assert second.path == tmp_path / "quick-run2"
    _finish(second)
    assert RunDir.claim(out).path == tmp_path / "quick-run3"
    assert (first / "results.json").read_text() == "new" and (first / MARKER).is_file()


def test_a_folder_in_use_is_not_claimed_and_an_empty_one_is(tmp_path):
    (tmp_path / "empty").mkdir()
    holder = RunDir.claim(tmp_path / "empty")
    assert holder.path == tmp_path / "empty" and not holder.created
    assert RunDir.claim(tmp_path / "empty").path == tmp_path / "empty-run2"  # the first holds the lock
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(OutputDirError, match="in use by process"):
        RunDir.claim(tmp_path / "empty", resume=True)
    assert in_use(tmp_path / "empty")
    holder.release()
    assert not in_use(tmp_path / "empty")
    RunDir.claim(tmp_path / "empty", resume=True).release()  # free again once the holder let go


def test_two_processes_started_together_get_two_folders(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from tfdpfair.reporting.rundir import RunDir
        d = RunDir.claim(r"{tmp_path / 'out'}")
        print(d.path, flush=True)
        time.sleep(2)
        d.release()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    paths = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert len(set(paths)) == 4, paths


def test_overwrite_replaces_the_old_run_only_on_success(tmp_path):
    out = tmp_path / "run"
    _finish(RunDir.claim(out), "old")
    (out / "model_stale.keras").write_text("stale")
    failing = RunDir.claim(out, overwrite=True)
    assert failing.path == staging_path(out) and failing.target == out
    failing.abandon()  # the new run failed before doing any work
    assert (out / "results.json").read_text() == "old" and not staging_path(out).exists()
    final = _finish(RunDir.claim(out, overwrite=True), "new")
    assert final == out and (out / "results.json").read_text() == "new"
    assert not (out / "model_stale.keras").exists() and not staging_path(out).exists()


def test_an_interrupted_overwrite_resumes_in_its_staging_folder(tmp_path):
    out = tmp_path / "run"
    _finish(RunDir.claim(out), "old")
    staged = RunDir.claim(out, overwrite=True)
    (staged.path / "config.json").write_text("{}")
    (staged.path / "units").mkdir()
    staged.release()  # killed with work done: kept for --resume --overwrite
    assert (out / "results.json").read_text() == "old"
    with pytest.raises(OutputDirError, match="no run to resume"):
        RunDir.claim(tmp_path / "other", resume=True)
    resumed = RunDir.claim(out, overwrite=True, resume=True)
    assert resumed.path == staging_path(out)
    _finish(resumed, "new")
    assert (out / "results.json").read_text() == "new"


def test_a_failed_start_removes_only_what_it_created(tmp_path):
    fresh = RunDir.claim(tmp_path / "a")
    (fresh.path / "config.json").write_text("{}")
    fresh.abandon()
    assert not (tmp_path / "a").exists()
    worked = RunDir.claim(tmp_path / "b")
    (worked.path / "checkpoints").mkdir()
    worked.abandon()
    assert (tmp_path / "b" / "checkpoints").is_dir()


@pytest.mark.parametrize("make", ["file", "under_file"])
def test_out_that_is_a_file_or_under_a_file_is_refused(tmp_path, make):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if make == "file" else tmp_path / "f" / "sub"
    with pytest.raises(OutputDirError, match="is a file|lies under"):
        check_out_path(out)
    with pytest.raises(OutputDirError):
        RunDir.claim(out)


def test_an_overwrite_is_not_swapped_in_while_the_old_run_is_being_resumed(tmp_path):
    out = tmp_path / "run"
    _finish(RunDir.claim(out), "old")
    staged = RunDir.claim(out, overwrite=True)
    resuming = RunDir.claim(out, resume=True)  # another process continues the old run meanwhile
    with pytest.raises(OutputDirError, match="was not swapped in"):
        _finish(staged, "new")
    assert (out / "results.json").read_text() == "old" and (staging_path(out) / "results.json").read_text() == "new"
    resuming.release()


def test_an_unwritable_out_is_one_error(tmp_path):
    with pytest.raises(OutputDirError, match="cannot"):
        RunDir.claim(Path("/proc/tfdpfair/out"))

"""Run folders (coral_lab.config.runs): only coral_lab's folders are written, one writer at a time, outputs
tied to the training and config that made them, and checkpoints that cannot run code."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from coral_lab.config import runs
from coral_lab.core.io import CheckpointError, load_checkpoint
from coral_lab.evaluation.protocol import run_unit
from coral_lab.training.pretrain import pretrain

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(ci_config):
    """The ci preset cut to one epoch of 128 pairs (seconds)."""
    return ci_config.replace(train={"epochs": 1, "num_threads": 1}, data={"n_train_pairs": 128})


# -- claim: only run folders are written ---------------------------------------------------------


def test_claim_marks_a_new_folder_and_accepts_it_again(tmp_path):
    folder = runs.claim(tmp_path / "a" / "run")
    marker = json.loads((folder / runs.MARKER).read_text())
    assert marker["coral_lab_run"] == runs.FORMAT and runs.is_run_folder(folder)
    assert runs.claim(folder) == folder  # a marked folder is claimed again


def test_claim_refuses_a_folder_coral_lab_did_not_make_and_touches_nothing(tmp_path):
    (tmp_path / "config.json").write_text('{"mine": true}')
    (tmp_path / "history.csv").write_text("a,b\n1,2\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(runs.RunFolderError, match="not a coral_lab run folder"):
        runs.claim(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("bad", ["", "  "])
def test_claim_refuses_an_empty_path(bad):
    with pytest.raises(runs.RunFolderError, match="empty path"):
        runs.claim(bad)


def test_claim_refuses_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(runs.RunFolderError, match="is a file"):
        runs.claim(tmp_path / "f")


def test_claim_adopts_a_run_of_an_older_coral_lab(tmp_path):
    (tmp_path / runs.CONFIG).write_text("{}")
    (tmp_path / runs.CHECKPOINT).write_bytes(b"")
    runs.claim(tmp_path)
    assert (tmp_path / runs.MARKER).is_file()


def test_pretrain_refuses_a_non_run_folder_before_writing(tiny, ci_benchmark, tmp_path):
    (tmp_path / "config.json").write_text('{"mine": true}')
    with pytest.raises(runs.RunFolderError):
        pretrain(tiny, tmp_path, benchmark=ci_benchmark, device="cpu", progress=False)
    assert json.loads((tmp_path / "config.json").read_text()) == {"mine": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_cli_pretrain_refuses_an_empty_out_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "coral_lab.cli", "pretrain", "--preset", "ci", "--device", "cpu",
                        "--no-progress", "--out", ""], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode != 0
    assert "empty path" in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written into the current folder


# -- the lock --------------------------------------------------------------------------------------

_HOLD = """
import sys, time
from coral_lab.config import runs
with runs.RunLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def _holder(folder: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder)], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.stdout.readline().strip() == "locked"
    return p


def test_a_second_writer_is_refused_while_the_first_lives_and_a_killed_one_leaves_no_lock(tmp_path, tiny,
                                                                                         ci_benchmark):
    folder = runs.claim(tmp_path / "run")
    holder = _holder(folder)
    try:
        with pytest.raises(runs.RunBusyError, match=f"pid {holder.pid}"):
            with runs.RunLock(folder):
                pass
        with pytest.raises(runs.RunBusyError):
            pretrain(tiny, folder, benchmark=ci_benchmark, device="cpu", progress=False)
        assert not (folder / runs.CHECKPOINT).exists()
    finally:
        holder.kill()
        holder.wait()
    with runs.RunLock(folder):  # the killed holder's lock went with it
        with runs.RunLock(folder):  # and this process may re-enter its own
            pass


# -- outputs tied to their training and config ---------------------------------------------------


def test_read_table_returns_rows_only_for_the_training_and_config_that_wrote_them(tmp_path, tiny):
    folder = runs.claim(tmp_path / "run")
    runs.new_run_id(folder)
    rows = pd.DataFrame({"task": ["share"], "balanced_accuracy": [42.0]})
    runs.write_table(folder, "t.csv", rows, tiny)
    pd.testing.assert_frame_equal(runs.read_table(folder, "t.csv", tiny), rows)
    assert runs.read_table(folder, "t.csv", tiny.replace(loss={"lambda_o": 3.0})) is None  # another config
    assert runs.read_table(folder, "t.csv", tiny.replace(train={"num_threads": 2})) is not None  # run-time field
    runs.new_run_id(folder)  # a fresh training of the folder
    assert runs.read_table(folder, "t.csv", tiny) is None


def test_a_probe_file_without_its_run_keys_is_stale(tmp_path, tiny):
    folder = runs.claim(tmp_path / "run")
    runs.new_run_id(folder)
    pd.DataFrame({"task": ["share"], "balanced_accuracy": [99.0]}).to_csv(folder / runs.PROBE, index=False)
    assert runs.read_table(folder, runs.PROBE, tiny) is None


def test_pretraining_over_a_probed_unit_makes_its_scores_stale(tiny, ci_benchmark, tmp_path):
    # issue: `pretrain --no-resume` with another lambda_o over a reproduce unit left the old probe.csv, and
    # the next reproduce with that lambda_o printed the old scores
    first = run_unit(tiny, 41, "unbiased", tmp_path, device="cpu", progress=False, benchmark=ci_benchmark)
    unit = runs.unit_dir(tmp_path, 41, "unbiased")
    old_id = runs.run_id(unit)
    changed = tiny.replace(loss={"lambda_o": 3.0})
    pretrain(changed.replace(train={"seed": 41, "train_set": "unbiased"}), unit, benchmark=ci_benchmark,
             device="cpu", progress=False, resume=False)
    assert runs.run_id(unit) != old_id
    assert runs.read_table(unit, runs.PROBE, tiny.replace(train={"seed": 41, "train_set": "unbiased"})) is None
    again = run_unit(changed, 41, "unbiased", tmp_path, device="cpu", progress=False, benchmark=ci_benchmark)
    saved = pd.read_csv(unit / runs.PROBE)
    assert (saved["run_id"] == runs.run_id(unit)).all()
    assert (saved["config_hash"] == runs.config_hash(changed.replace(train={"seed": 41, "train_set": "unbiased"}))).all()
    assert not first["balanced_accuracy"].reset_index(drop=True).equals(again["balanced_accuracy"].reset_index(drop=True))
    # and the finished unit is reused as it is, scores and all
    third = run_unit(changed, 41, "unbiased", tmp_path, device="cpu", progress=False, benchmark=ci_benchmark)
    pd.testing.assert_frame_equal(third.reset_index(drop=True), again.reset_index(drop=True), check_dtype=False)


def test_resuming_keeps_the_run_id(tiny, ci_benchmark, tmp_path):
    two = tiny.replace(train={"epochs": 2})
    pretrain(two, tmp_path / "r", benchmark=ci_benchmark, device="cpu", progress=False, max_epochs_this_call=1)
    rid = runs.run_id(tmp_path / "r")
    pretrain(two, tmp_path / "r", benchmark=ci_benchmark, device="cpu", progress=False)
    assert runs.run_id(tmp_path / "r") == rid
    assert load_checkpoint(tmp_path / "r" / runs.CHECKPOINT)["run_id"] == rid


def test_cli_probe_keeps_the_protocols_probe_file(tiny, ci_benchmark, tmp_path, capsys):
    from coral_lab.cli import main

    run_unit(tiny, 41, "biased", tmp_path, device="cpu", progress=False, benchmark=ci_benchmark)
    unit = runs.unit_dir(tmp_path, 41, "biased")
    before = (unit / runs.PROBE).read_bytes()
    assert main(["probe", "--run", str(unit), "--device", "cpu", "--features", "Z", "shared", "--protocol", "held_out"]) == 0
    assert (unit / runs.PROBE).read_bytes() == before
    rows = runs.read_table(unit, runs.PROBE_COMMAND, tiny.replace(train={"seed": 41, "train_set": "biased"}))
    assert rows is not None and set(rows["features"]) == {"Z", "shared"}


# -- checkpoints cannot run code -------------------------------------------------------------------


class _Payload:
    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __reduce__(self):
        return (os.system, (f"touch {self.flag}",))


def test_a_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path):
    flag = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": {}, "config": {}, "epoch": 1, "evil": _Payload(flag)}, path)
    with pytest.raises(CheckpointError, match="could not be read"):
        load_checkpoint(path)
    assert not flag.exists()
    with open(path, "wb") as f:  # a bare pickle too
        pickle.dump(_Payload(flag), f)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not flag.exists()


def test_a_checkpoint_of_an_earlier_version_still_loads(tmp_path):
    # earlier checkpoints stored torch.__version__ itself (a TorchVersion, not a str)
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": {"w": torch.ones(2)}, "config": {}, "epoch": 1, "torch_version": torch.__version__}, path)
    assert load_checkpoint(path)["torch_version"] == torch.__version__


# -- hygiene ---------------------------------------------------------------------------------------


def test_taking_the_lock_removes_temporaries_a_killed_writer_left(tmp_path):
    folder = runs.claim(tmp_path / "run")
    left = folder / ".checkpoint.pt.abc123.tmp"
    left.write_bytes(b"partial")
    keep = folder / "history.csv"
    keep.write_text("epoch\n1\n")
    with runs.RunLock(folder):
        pass
    assert not left.exists() and keep.read_text() == "epoch\n1\n"


def test_written_files_get_the_usual_mode_not_0600(tmp_path, tiny):
    from coral_lab.core.io import atomic_write_text

    mask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.csv", "x\n")
        tiny.to_json(tmp_path / "config.json")
    finally:
        os.umask(mask)
    import coral_lab.core.io as io

    expected = 0o666 & ~io._UMASK
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == expected
    assert (tmp_path / "config.json").stat().st_mode & 0o777 == expected
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


# -- the CLI: one line per failure, the traceback with --debug -------------------------------------


def test_cli_unwritable_out_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    from coral_lab.cli import main

    (tmp_path / "f").write_text("a file")
    argv = ["pretrain", "--preset", "ci", "--device", "cpu", "--no-progress", "--out", str(tmp_path / "f" / "sub")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    with pytest.raises(OSError):
        main(["--debug", *argv])


@pytest.mark.parametrize("exc, needle", [
    (FloatingPointError("the loss became nan in epoch 3"), "lower --lr"),
    (ModuleNotFoundError("No module named 'matplotlib'"), "install.sh notebooks"),
    (RuntimeError("Error(s) in loading state_dict for CoralModel: size mismatch for w"), "retrain it in a new folder"),
    (KeyboardInterrupt(), "run the same command again to resume"),
    (OSError(28, "No space left on device"), "free disk space"),
    (TypeError("something unexpected"), "--debug"),
])
def test_cli_error_lines_say_what_to_do(exc, needle):
    from coral_lab.cli import error_line

    line = error_line(exc)
    assert needle in line and "\n" not in line


def test_cli_interrupt_exits_130_with_a_resume_hint(monkeypatch, capsys):
    import coral_lab.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_data", interrupted)
    assert cli.main(["data", "--preset", "ci"]) == 130
    assert "resume" in capsys.readouterr().err


def test_a_flipped_bit_in_a_checkpoint_is_caught_by_its_checksum(tmp_path):
    from coral_lab.core.io import atomic_torch_save, checksum_path

    path = tmp_path / "checkpoint.pt"
    atomic_torch_save({"model": {"w": torch.arange(1000, dtype=torch.float32)}, "config": {}, "epoch": 1}, path)
    assert load_checkpoint(path)["epoch"] == 1
    assert checksum_path(path).is_file()
    data = bytearray(path.read_bytes())
    import struct

    data[data.find(struct.pack("<f", 500.0))] ^= 1  # torch.load alone would load this silently
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        load_checkpoint(path)


def test_feature_runs_are_claimed_locked_and_their_scores_tied_to_the_training(tmp_path):
    from coral_lab.config import get_preset
    from coral_lab.data.features import load_digits_halves
    from coral_lab.multibench.pretrain import pretrain_features
    from coral_lab.multibench.protocol import run_feature_unit

    cfg = get_preset("ci", "digits")
    data = load_digits_halves()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(runs.RunFolderError):
        pretrain_features(cfg, data, tmp_path / "mine")
    first = run_feature_unit(cfg, data, 41, tmp_path / "out")
    unit = tmp_path / "out" / "seed41"
    assert runs.read_table(unit, runs.PROBE, cfg.replace(train={"seed": 41})) is not None
    pretrain_features(cfg.replace(train={"seed": 41}), data, unit, resume=False)  # retrained: old scores stale
    assert runs.read_table(unit, runs.PROBE, cfg.replace(train={"seed": 41})) is None
    assert len(run_feature_unit(cfg, data, 41, tmp_path / "out")) == len(first)


def test_a_cache_write_sweeps_the_temporaries_of_a_killed_writer_but_not_a_live_ones(tmp_path):
    from coral_lab.data.cache import sweep_stale_temporaries

    cache = tmp_path / "trifeature-32px"
    old, young = tmp_path / ".trifeature-32px.tmp-dead", tmp_path / ".trifeature-32px.tmp-live"
    for folder in (old, young):
        folder.mkdir()
        (folder / "train_images.npy").write_bytes(b"x" * 10)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert sweep_stale_temporaries(cache) == [old]
    assert not old.exists() and young.is_dir()

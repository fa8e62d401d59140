"""A unit's files after a SIGKILL at every rename of a short run: the rerun repairs and resumes, never asks for
anything to be deleted, and ends where an uninterrupted run ends (same history, same weights)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import torch

from coral_lab.config import runs
from coral_lab.core.io import load_checkpoint

# a child process that SIGKILLs itself at its N-th os.replace (before that rename happens: every atomic write
# of coral_lab ends in one), then runs the coral-lab command of argv; N = 0 never kills
CHILD = textwrap.dedent("""
    import json, os, signal, sys
    kill_at, argv = int(sys.argv[1]), json.loads(sys.argv[2])
    real, seen = os.replace, [0]

    def replace(*args, **kwargs):
        seen[0] += 1
        if seen[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    os.replace = replace
    from coral_lab.cli import main
    code = main(argv)
    print("RENAMES", seen[0])
    sys.exit(code)
""")


def run_child(argv: list[str], kill_at: int = 0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, str(kill_at), json.dumps(argv)], capture_output=True,
                          text=True, timeout=600)


def renames(done: subprocess.CompletedProcess) -> int:
    return int(done.stdout.split("RENAMES")[-1].split()[0])


COMMON = ["--preset", "ci", "--device", "cpu", "--no-progress", "--set", "train.num_threads=1", "--epochs", "2"]
LOSSES = ["epoch", "mask_ratio", "loss"]


@pytest.fixture(scope="module")
def cache(ci_cache, ci_benchmark):
    return str(ci_cache)  # rendered (ci_benchmark), so a child's renames are the run's own


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache):
    out = tmp_path_factory.mktemp("ref") / "run"
    done = run_child(["pretrain", *COMMON, "--cache-dir", cache, "--out", str(out)])
    assert done.returncode == 0, done.stderr
    return out, renames(done)


def test_a_pretraining_killed_at_any_rename_resumes_to_the_uninterrupted_run(reference, cache, tmp_path):
    ref, n = reference
    assert n >= 8  # marker, run id, config, and per epoch the checksum (twice), checkpoint and history
    want_history = pd.read_csv(ref / runs.HISTORY)[LOSSES]
    want_weights = load_checkpoint(ref / runs.CHECKPOINT)["model"]
    for kill_at in range(1, n + 1):
        out = tmp_path / f"kill{kill_at}"
        argv = ["pretrain", *COMMON, "--cache-dir", cache, "--out", str(out)]
        killed = run_child(argv, kill_at)
        assert killed.returncode == -9, (kill_at, killed.stderr[-500:])
        again = run_child(argv)
        assert again.returncode == 0, f"rename {kill_at}: {again.stderr[-800:]}"
        assert "delete" not in again.stderr.lower()
        pd.testing.assert_frame_equal(pd.read_csv(out / runs.HISTORY)[LOSSES], want_history, obj=f"rename {kill_at}")
        got = load_checkpoint(out / runs.CHECKPOINT)
        assert got["epoch"] == 2 and all(torch.equal(got["model"][k], want_weights[k]) for k in want_weights), kill_at
        assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")], kill_at
        assert runs.run_id(out) == got["run_id"]


def test_a_checkpoint_is_read_whichever_side_of_its_checksum_a_kill_lands(tmp_path):
    from coral_lab.core.io import atomic_torch_save, checksum_path

    path = tmp_path / "checkpoint.pt"
    atomic_torch_save({"model": {"w": torch.zeros(3)}, "config": {}, "epoch": 1}, path)
    old = checksum_path(path).read_text().strip()
    # the moment between the checksum file listing the new digest and the new file's rename
    atomic_torch_save({"model": {"w": torch.ones(3)}, "config": {}, "epoch": 2}, tmp_path / "next.pt")
    new = checksum_path(tmp_path / "next.pt").read_text().strip()
    checksum_path(path).write_text(f"{new}\n{old}\n")
    assert load_checkpoint(path)["epoch"] == 1  # the old file, its digest still listed
    (tmp_path / "next.pt").replace(path)
    assert load_checkpoint(path)["epoch"] == 2  # the new file, listed first
    checksum_path(path).write_text(f"{old}\n")
    with pytest.raises(Exception, match="does not match its checksum"):
        load_checkpoint(path)  # a digest nobody wrote for this file: a real corruption is still caught


def test_a_study_killed_between_a_checkpoint_and_its_probe_never_labels_an_epoch_with_anothers_weights(cache, tmp_path):
    argv = ["study", "--name", "confirm", *COMMON, "--variants", "paper-schedule", "--seeds", "41", "--probe-every", "1",
            "--jobs", "1", "--protocol", "held_out", "--cache-dir", cache]
    ref = run_child([*argv, "--out", str(tmp_path / "ref")])
    assert ref.returncode == 0, ref.stderr[-800:]
    want = pd.read_csv(tmp_path / "ref" / "curves.csv")
    key = ["epoch", "task", "features", "balanced_accuracy"]
    # rename 6 of a fresh study is the history write after epoch 1's checkpoint (the issue's window)
    for kill_at in (5, 6, 7):
        out = tmp_path / f"kill{kill_at}"
        assert run_child([*argv, "--out", str(out)], kill_at).returncode == -9
        again = run_child([*argv, "--out", str(out)])
        assert again.returncode == 0, again.stderr[-800:]
        got = pd.read_csv(out / "curves.csv")
        # an epoch whose weights were passed before a probe could run is left out, never mislabelled
        merged = got[key].merge(want[key], on=["epoch", "task", "features"], suffixes=("", "_ref"))
        assert len(merged) == len(got) and (merged["balanced_accuracy"] == merged["balanced_accuracy_ref"]).all(), kill_at
        assert 2 in set(got["epoch"])


def test_a_folder_left_by_a_kill_at_the_first_rename_is_taken_as_new(cache, tmp_path):
    out = tmp_path / "fresh"
    argv = ["pretrain", *COMMON, "--cache-dir", cache, "--out", str(out)]
    assert run_child(argv, 1).returncode == -9
    assert [p.name for p in out.iterdir()] and not (out / runs.MARKER).exists()
    again = run_child(argv)
    assert again.returncode == 0, again.stderr[-800:]
    assert (out / runs.MARKER).is_file() and len(pd.read_csv(out / runs.HISTORY)) == 2

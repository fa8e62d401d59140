"""A unit's files after a SIGKILL at every rename of a short run: the rerun repairs and resumes, never asks for
anything to be deleted, and ends where an uninterrupted run ends (same history, same weights)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

from coral_lab.config import runs
from coral_lab.core.io import load_checkpoint

# One process imports coral_lab's command line once, then forks a child per run (a fresh interpreter's import
# costs seconds, and these tests start dozens of runs). The child SIGKILLs itself at its N-th os.replace (before
# that rename happens: every atomic write of coral_lab ends in one), else runs the coral-lab command to the end;
# N = 0 never kills. The forking process never computes anything, so each child starts as a fresh process would.
ZYGOTE = textwrap.dedent("""
    import json, os, signal, sys, time, traceback
    from coral_lab.cli import main
    real = os.replace
    for line in sys.stdin:
        kill_at, argv, out, err, timeout = json.loads(line)
        pid = os.fork()
        if pid == 0:
            for fd, path in ((1, out), (2, err)):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
            seen = [0]

            def replace(*args, **kwargs):
                seen[0] += 1
                if seen[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                return real(*args, **kwargs)

            os.replace = replace
            try:
                code = main(argv)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 1
            print("RENAMES", seen[0])
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code or 0)
        deadline = time.monotonic() + timeout
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if done[0] == 0:
            os.kill(pid, signal.SIGKILL)
            done = os.waitpid(pid, 0)
        status = done[1]
        print(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status), flush=True)
""")


class Runner:
    """The forking process: ``run(argv, kill_at)`` runs one coral-lab command in a fresh child."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.count = folder, 0
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def run(self, argv: list[str], kill_at: int = 0, timeout: float = 600) -> subprocess.CompletedProcess:
        self.count += 1
        out, err = self.folder / f"{self.count}.out", self.folder / f"{self.count}.err"
        self.proc.stdin.write(json.dumps([kill_at, argv, str(out), str(err), timeout]) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        assert reply, "the forking process ended"
        return subprocess.CompletedProcess(argv, int(reply), out.read_text(), err.read_text())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    r = Runner(tmp_path_factory.mktemp("children"))
    yield r
    r.close()


def renames(done: subprocess.CompletedProcess) -> int:
    return int(done.stdout.split("RENAMES")[-1].split()[0])


COMMON = ["--preset", "ci", "--device", "cpu", "--no-progress", "--set", "train.num_threads=1", "--epochs", "2"]
LOSSES = ["epoch", "mask_ratio", "loss"]


@pytest.fixture(scope="module")
def cache(ci_cache, ci_benchmark):
    return str(ci_cache)  # rendered (ci_benchmark), so a child's renames are the run's own


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache, runner):
    out = tmp_path_factory.mktemp("ref") / "run"
    done = runner.run(["pretrain", *COMMON, "--cache-dir", cache, "--out", str(out)])
    assert done.returncode == 0, done.stderr
    return out, renames(done)


def test_a_pretraining_killed_at_any_rename_resumes_to_the_uninterrupted_run(reference, cache, runner, tmp_path):
    ref, n = reference
    assert n >= 8  # marker, run id, config, and per epoch the checksum (twice), checkpoint and history
    want_history = pd.read_csv(ref / runs.HISTORY)[LOSSES]
    want_weights = load_checkpoint(ref / runs.CHECKPOINT)["model"]
    for kill_at in range(1, n + 1):
        out = tmp_path / f"kill{kill_at}"
        argv = ["pretrain", *COMMON, "--cache-dir", cache, "--out", str(out)]
        killed = runner.run(argv, kill_at)
        assert killed.returncode == -9, (kill_at, killed.stderr[-500:])
        again = runner.run(argv)
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


def test_a_study_killed_between_a_checkpoint_and_its_probe_never_labels_an_epoch_with_anothers_weights(cache, runner,
                                                                                                      tmp_path):
    argv = ["study", "--name", "confirm", *COMMON, "--variants", "paper-schedule", "--seeds", "41", "--probe-every", "1",
            "--jobs", "1", "--protocol", "held_out", "--cache-dir", cache]
    ref = runner.run([*argv, "--out", str(tmp_path / "ref")])
    assert ref.returncode == 0, ref.stderr[-800:]
    want = pd.read_csv(tmp_path / "ref" / "curves.csv")
    key = ["epoch", "task", "features", "balanced_accuracy"]
    # rename 6 of a fresh study is the history write after epoch 1's checkpoint (the issue's window)
    for kill_at in (5, 6, 7):
        out = tmp_path / f"kill{kill_at}"
        assert runner.run([*argv, "--out", str(out)], kill_at).returncode == -9
        again = runner.run([*argv, "--out", str(out)])
        assert again.returncode == 0, again.stderr[-800:]
        got = pd.read_csv(out / "curves.csv")
        # an epoch whose weights were passed before a probe could run is left out, never mislabelled
        merged = got[key].merge(want[key], on=["epoch", "task", "features"], suffixes=("", "_ref"))
        assert len(merged) == len(got) and (merged["balanced_accuracy"] == merged["balanced_accuracy_ref"]).all(), kill_at
        assert 2 in set(got["epoch"])


def test_a_folder_left_by_a_kill_at_the_first_rename_is_taken_as_new(cache, runner, tmp_path):
    out = tmp_path / "fresh"
    argv = ["pretrain", *COMMON, "--cache-dir", cache, "--out", str(out)]
    assert runner.run(argv, 1).returncode == -9
    assert [p.name for p in out.iterdir()] and not (out / runs.MARKER).exists()
    again = runner.run(argv)
    assert again.returncode == 0, again.stderr[-800:]
    assert (out / runs.MARKER).is_file() and len(pd.read_csv(out / runs.HISTORY)) == 2

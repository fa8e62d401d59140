"""What the environment and the operating system can do to a command: links planted in a run folder, a stray
RANK, a distributed launch that never comes together, kill -9 of a command with workers, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coral_lab.core import distributed
from coral_lab.config import runs
from coral_lab.training.pretrain import pretrain


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    run = runs.claim(tmp_path / "run")
    (run / runs.LOCK).symlink_to(target)
    with pytest.raises(runs.RunFolderError, match="symbolic link"):
        with runs.RunLock(run):
            pass
    assert target.read_text() == "keep me"


def test_a_stray_rank_is_one_process_that_claims_and_locks_its_folder(ci_config, ci_benchmark, tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")  # no WORLD_SIZE: not a distributed launch
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text("the user's own file")
    with pytest.raises(runs.RunFolderError, match="not a coral_lab run folder"):
        pretrain(ci_config, foreign, benchmark=ci_benchmark, device="cpu", progress=False)
    assert (foreign / "config.json").read_text() == "the user's own file"
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from coral_lab.config import runs; f = runs.claim(sys.argv[1]); "
        "lock = runs.RunLock(f).__enter__(); print('locked', flush=True); time.sleep(60)"), str(run)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(runs.RunBusyError):
            pretrain(ci_config, run, benchmark=ci_benchmark, device="cpu", progress=False)
    finally:
        holder.kill()
        holder.wait()


def test_a_launch_that_never_comes_together_stops_with_one_line_before_touching_the_folder(ci_config, tmp_path,
                                                                                           monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port), "CORAL_LAB_DIST_TIMEOUT": "3"}.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "run"
    t0 = time.perf_counter()
    with pytest.raises(distributed.LaunchError, match="did not come together within 3 s"):
        pretrain(ci_config, out, device="cpu", progress=False)
    assert time.perf_counter() - t0 < 60 and not out.exists()
    monkeypatch.delenv("MASTER_ADDR")
    with pytest.raises(distributed.LaunchError, match="MASTER_ADDR is not set"):
        pretrain(ci_config, out, device="cpu", progress=False)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found += [int(x) for x in text.split()]
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state not in ("Z", "X")


def _start_reproduce(ci_cache, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "coral_lab.launch", "reproduce", "--preset", "ci", "--device", "cpu", "--jobs", "2",
         "--seeds", "41", "42", "--protocol", "held_out", "--cache-dir", str(ci_cache), "--out", str(out),
         "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_workers(proc: subprocess.Popen, n: int = 2, timeout: float = 120) -> list[int]:
    t0 = time.time()
    while time.time() - t0 < timeout:
        workers = [c for c in _children(proc.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
        if len(workers) >= n:
            return workers
        time.sleep(0.2)
    raise AssertionError("the workers did not start")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_a_command_takes_its_workers_with_it(ci_cache, ci_benchmark, tmp_path):
    proc = _start_reproduce(ci_cache, tmp_path / "out")
    workers = _wait_for_workers(proc)
    proc.kill()
    proc.wait()
    t0 = time.time()
    while any(_alive(w) for w in workers) and time.time() - t0 < 20:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "orphan workers outlived the command"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_of_a_command_with_workers_prints_one_line(ci_cache, ci_benchmark, tmp_path):
    proc = _start_reproduce(ci_cache, tmp_path / "out")
    workers = _wait_for_workers(proc)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    text = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, text
    assert "Traceback" not in text and text.strip().splitlines() == [
        "error: interrupted; the finished epochs and units are saved: run the same command again to resume where "
        "it stopped"]
    time.sleep(1)
    assert not any(_alive(w) for w in workers)


def test_ctrl_c_while_the_command_starts_prints_one_line():
    # the guard is in place before anything heavy is imported: a Ctrl-C lands while coral_lab.cli is imported.
    # A terminal's Ctrl-C reaches a process whose SIGINT is not ignored, so the child restores Python's handler
    # first: a shell's background job (`cmd &` without job control) starts with SIGINT ignored, and Python keeps that
    guarded = ("import os, signal, sys, builtins\n"
               "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
               "from coral_lab import launch\n"
               "real = builtins.__import__\n"
               "def interrupted(name, *a, **k):\n"
               "    if name == 'coral_lab.cli':\n"
               "        os.kill(os.getpid(), signal.SIGINT)\n"
               "    return real(name, *a, **k)\n"
               "builtins.__import__ = interrupted\n"
               "sys.exit(launch.main(['--help']))\n")
    done = subprocess.run([sys.executable, "-c", guarded], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: interrupted while starting; nothing was written"


def test_a_checkpoint_write_cut_short_by_a_full_disk_says_so_and_keeps_the_last_one(ci_cache, tmp_path, monkeypatch,
                                                                                    capsys):
    import torch

    from coral_lab.cli import main

    argv = ["pretrain", "--preset", "ci", "--device", "cpu", "--cache-dir", str(ci_cache), "--epochs", "2",
            "--no-progress", "--out", str(tmp_path / "run")]
    real_save, calls = torch.save, []

    def full_disk(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) == 2:  # the second epoch's checkpoint: the disk fills up mid-write
            raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 1536 vs 1432")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is the disk full?" in err
    monkeypatch.setattr(torch, "save", real_save)
    from coral_lab.core.io import load_checkpoint

    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"] == 1  # the last complete one, readable
    assert main(argv) == 0  # and the same command resumes

"""Sidecars name the commit a run started from, even when the checkout moves on while it trains."""

from coral_lab import provenance as P


def test_sidecar_names_the_starting_commit_and_where_the_checkout_stood_at_write(monkeypatch):
    monkeypatch.setattr(P, "_START", {})
    commits = iter(["aaa", "bbb"])
    monkeypatch.setattr(P, "git_commit", lambda cwd=None: next(commits))
    P.mark_start()
    info = P.provenance(preset="quick", seeds=[41], device="cpu", command="coral-lab ablate")
    assert info["commit"] == "aaa" and info["commit_at_write"] == "bbb"
    assert info["started"] <= info["date"]


def test_without_a_start_mark_the_current_commit_is_named(monkeypatch):
    monkeypatch.setattr(P, "_START", {})
    monkeypatch.setattr(P, "git_commit", lambda cwd=None: "ccc")
    info = P.provenance(preset="ci", seeds=[0], device="cpu", command="pytest", extra={"study": "masking"})
    assert info["commit"] == "ccc" and "commit_at_write" not in info and "started" not in info
    assert info["study"] == "masking" and info["seeds"] == [0]


def test_the_real_commit_is_a_sha_or_unknown():
    commit = P.git_commit()
    assert commit == "unknown" or len(commit.split("+")[0]) == 40


def test_the_device_text_names_threads_and_parallel_processes():
    import torch

    from coral_lab.device import describe_device

    cpu = torch.device("cpu")
    assert describe_device(cpu, threads=1, jobs=2).endswith(", 1 torch thread each in 2 processes at once")
    assert describe_device(cpu, threads=4).endswith(", 4 torch threads")
    assert describe_device(cpu).endswith(f", {torch.get_num_threads()} torch thread" + ("s" if torch.get_num_threads() != 1 else ""))

"""Sidecars name the commit a run started from, even when the checkout moves on while it trains."""

import json

import pytest

from coral_lab.config import provenance as P


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

    from coral_lab.core.device import describe_device

    cpu = torch.device("cpu")
    assert describe_device(cpu, threads=1, jobs=2).endswith(", 1 torch thread each in 2 processes at once")
    assert describe_device(cpu, threads=4).endswith(", 4 torch threads")
    assert describe_device(cpu).endswith(f", {torch.get_num_threads()} torch thread" + ("s" if torch.get_num_threads() != 1 else ""))


def test_the_device_text_names_the_cpu_model_and_its_instruction_set(monkeypatch, tmp_path):
    """The same code and seed give other numbers on another CPU, so a sidecar names the CPU it ran on."""
    import builtins
    import platform

    import torch

    from coral_lab.core import device

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n")
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path, *a, **k))
    isa = torch.backends.cpu.get_cpu_capability()
    assert device.cpu_name() == f"AMD EPYC 9R14 96-Core Processor ({platform.machine()}, {isa})"
    assert device.describe_device(torch.device("cpu"), threads=1).startswith(
        f"cpu: AMD EPYC 9R14 96-Core Processor ({platform.machine()}, {isa}), 1 torch thread")
    # no /proc/cpuinfo (macOS, Windows): the platform's processor name, else the architecture alone
    monkeypatch.setattr(builtins, "open", lambda path, *a, **k: (_ for _ in ()).throw(OSError("no such file"))
                        if path == "/proc/cpuinfo" else real_open(path, *a, **k))
    monkeypatch.setattr(platform, "processor", lambda: "")
    assert device.cpu_name() == f"{platform.machine()}, {isa}"


def test_the_recorded_command_names_the_program_as_a_reader_types_it(monkeypatch):
    assert P.command_line(["/home/me/coral_lab/coral_lab/cli.py", "figures", "--out", "f"]) == "coral-lab figures --out f"
    assert P.command_line(["/usr/local/bin/coral-lab", "data"]) == "coral-lab data"
    assert P.command_line(["scripts/ship_models.py", "--preset", "quick"]) == "scripts/ship_models.py --preset quick"
    monkeypatch.setattr(P.sys, "argv", ["/x/coral_lab/cli.py", "probe"])
    assert P.provenance(preset="ci", seeds=[0], device="cpu")["command"] == "coral-lab probe"


def test_a_figure_names_a_result_file_of_the_checkout_by_its_path_in_the_checkout(tmp_path):
    from pathlib import Path

    from coral_lab.drawing import figures

    root = Path(__file__).resolve().parents[1]  # the checkout
    result = root / "results" / "quickstart-quick" / "table1.csv"
    info = figures.figure_provenance(P.provenance(preset="quick", seeds=[41], device="cpu", command="x"), result,
                                     command="coral-lab figures")
    assert info["figure"]["source"] == "results/quickstart-quick/table1.csv"
    outside = tmp_path / "t.csv"
    outside.write_text("a\n1\n")
    assert figures.figure_provenance(info, outside)["figure"]["source"] == str(outside)


def test_earlier_runs_reads_a_folder_history_and_refuses_a_damaged_one(tmp_path):
    side = tmp_path / "curves.provenance.json"
    assert P.earlier_runs(side) == []  # no sidecar yet: no earlier command
    legacy = P.provenance(preset="ci", seeds=[41], device="cpu", command="coral-lab study --seeds 41",
                          extra={"variants": ["a"], "config": {"x": 1}})
    P.write_sidecar(side, legacy)  # written before folders kept a runs list: one entry of its own keys
    (entry,) = P.earlier_runs(side)
    assert entry["command"] == "coral-lab study --seeds 41" and entry["seeds"] == [41] and entry["variants"] == ["a"]
    assert "config" not in entry and "preset" not in entry
    P.write_sidecar(side, {**legacy, "runs": [{"command": "one"}, {"command": "two"}]})
    assert [r["command"] for r in P.earlier_runs(side)] == ["one", "two"]
    for bad, says in (('{"runs": [', "not readable JSON"), ("[1, 2]", "must be a JSON object"),
                      ('{"command": "x"}', "lacks"), (json.dumps({**legacy, "runs": "two"}), "'runs' must be a list")):
        side.write_text(bad)
        with pytest.raises(ValueError, match=says):
            P.earlier_runs(side)
        assert side.read_text() == bad
    side.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="not readable JSON"):
        P.earlier_runs(side)

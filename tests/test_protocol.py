"""The Table 1 protocol: units run in worker processes give the same results as in-process, and resume."""

import pandas as pd
import pytest

from coral_lab.evaluation.protocol import run_table1, run_unit


def test_parallel_units_match_in_process_units_and_resume(ci_config, tmp_path):
    # channels_last off (the CPU default): oneDNN's channels_last conv kernels can sum in another (equally
    # valid) order in a process whose earlier work (the tests before this one) changed its state; two fresh
    # processes agree bit for bit with it on too (test_fresh_processes_train_bit_for_bit_alike)
    cfg = ci_config.replace(train={"epochs": 1, "num_threads": 1})
    par_rows, par_table = run_table1(cfg, tmp_path / "par", seeds=[41], device="cpu", progress=False, jobs=2)
    assert set(zip(par_rows["seed"], par_rows["train_set"])) == {(41, "unbiased"), (41, "biased")}
    assert set(par_table["column"]) == {"redundancy", "uniqueness", "synergy"}
    # the same unit run in this process (one torch thread, like the worker): the same history and scores
    seq = run_unit(cfg, 41, "biased", tmp_path / "seq", device="cpu", progress=False)
    h_par = pd.read_csv(tmp_path / "par" / "seed41-biased" / "history.csv")
    h_seq = pd.read_csv(tmp_path / "seq" / "seed41-biased" / "history.csv")
    pd.testing.assert_series_equal(h_par["loss"], h_seq["loss"], rtol=1e-5)
    par_biased = par_rows[par_rows["train_set"] == "biased"].reset_index(drop=True)
    pd.testing.assert_series_equal(par_biased["balanced_accuracy"], seq["balanced_accuracy"], rtol=1e-6)
    # finished units are read back, not trained again
    ckpt = tmp_path / "par" / "seed41-unbiased" / "checkpoint.pt"
    before = ckpt.stat().st_mtime_ns
    again, _ = run_table1(cfg, tmp_path / "par", seeds=[41], device="cpu", progress=False, jobs=2)
    assert ckpt.stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(again, par_rows)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_bad_jobs_is_rejected(ci_config, tmp_path, jobs):
    with pytest.raises(ValueError, match="jobs must be a positive int"):
        run_table1(ci_config, tmp_path, seeds=[41], device="cpu", progress=False, jobs=jobs)


def test_fresh_processes_train_bit_for_bit_alike(tmp_path):
    import subprocess
    import sys

    losses = []
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-m", "coral_lab.cli", "pretrain", "--preset", "ci", "--device", "cpu",
                        "--no-progress", "--epochs", "1", "--set", "train.num_threads=1",
                        "--set", "train.channels_last=true",
                        "--cache-dir", str(tmp_path / "data"), "--out", str(tmp_path / name)],
                       check=True, capture_output=True)
        losses.append(pd.read_csv(tmp_path / name / "history.csv")["loss"].tolist())
    assert losses[0] == losses[1]

"""End to end on synthetic MultiBench files (ci preset, CPU, seconds): pretrain, probe, fine-tune, CLI."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from coral_lab.config import get_preset
from coral_lab.cli import main
from coral_lab.data.features import load_dataset
from coral_lab.methods import check_config
from coral_lab.multibench.finetune import FINETUNE_CHECKPOINT, finetune
from coral_lab.multibench.pretrain import CHECKPOINT, load_feature_model, pretrain_features
from coral_lab.multibench.probe import probe_feature_model
from coral_lab.multibench.synthetic import write_synthetic


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def mosi(synthetic_mosi_folder):
    return synthetic_mosi_folder


def test_pretrain_resumes_exactly_and_probes(mosi, tmp_path):
    data = load_dataset("mosi", mosi)
    cfg = get_preset("ci", "mosi").replace(train={"epochs": 3})
    full = pretrain_features(cfg, data, tmp_path / "full")
    pretrain_features(cfg, data, tmp_path / "split", max_epochs_this_call=2)
    resumed = pretrain_features(cfg, data, tmp_path / "split")
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)
    assert list(resumed.history["epoch"]) == [1, 2, 3]
    assert {"loss", "shared", "unique", "orthogonal", "mask_ratio"} <= set(full.history.columns)
    model, _ = load_feature_model(tmp_path / "full", data)
    df = probe_feature_model(model, data, subspaces=("Z", "shared", "unique1", "unique2"), probe_cfg=cfg.probe)
    assert list(df["features"]) == ["Z", "shared", "unique1", "unique2"]
    assert df["accuracy"].between(0, 100).all() and df["C"].isin(cfg.probe.C_grid).all()
    with pytest.raises(Exception, match="different configuration"):
        pretrain_features(cfg.replace(loss={"lambda_o": 2.0}), data, tmp_path / "full")


def test_finetune_freezes_heads_keeps_the_best_epoch_and_checkpoints(mosi, tmp_path):
    data = load_dataset("mosi", mosi)
    cfg = get_preset("ci", "mosi").replace(finetune={"epochs": 3, "patience": 3, "positives": "self"})
    model = pretrain_features(cfg, data).model
    heads = {k: v.clone() for k, v in model.state_dict().items() if "head" in k}
    encoder = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("shared_encoders")}
    res = finetune(model, data, cfg, tmp_path)
    for k, v in heads.items():
        torch.testing.assert_close(model.state_dict()[k], v, msg=k)  # weights and BatchNorm statistics frozen
    assert list(res.history["epoch"])[0] == 0 and res.history["val_accuracy"].max() == pytest.approx(res.best_val_accuracy)
    assert res.best_epoch == int(res.history.loc[res.history["val_accuracy"].idxmax(), "epoch"])
    if res.best_epoch > 0:
        assert (tmp_path / FINETUNE_CHECKPOINT).exists()
        assert any(not torch.equal(model.state_dict()[k], v) for k, v in encoder.items())
    assert all(p.requires_grad for p in model.parameters())


def test_mimic_end_to_end(tmp_path):
    write_synthetic(tmp_path, "mimic", n=120)
    data = load_dataset("mimic", tmp_path)
    cfg = get_preset("ci", "mimic")
    model = pretrain_features(cfg, data).model
    df = probe_feature_model(model, data, probe_cfg=cfg.probe)
    assert 50 < df["accuracy"].iloc[0] <= 100  # the planted signal is linearly readable


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown method 'simclr'; valid methods: \['clip', 'comm', 'coral', 'factorcl', 'infmasking'\]"):
        check_config(get_preset("ci", "mosi").replace(method="simclr").validate())


def test_cli_reproduce_prints_table2_and_writes_results(mosi, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["reproduce", "--dataset", "mosi", "--data-path", str(mosi), "--preset", "ci", "--device", "cpu",
                 "--seeds", "1", "2", "--finetune", "--no-progress", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "Paper, Table 2" in text and "67.9 +- 0.70" in text and "75.3 +- 0.73" in text
    rows = pd.read_csv(out / "table2.csv")
    assert set(rows["stage"]) == {"pretrained", "finetuned"} and set(rows["seed"]) == {1, 2}
    side = json.loads((out / "table2.provenance.json").read_text())
    assert side["dataset"] == "mosi" and side["seeds"] == [1, 2] and side["preset"] == "ci"
    assert (out / "seed1" / CHECKPOINT).exists()
    again = main(["reproduce", "--dataset", "mosi", "--data-path", str(mosi), "--preset", "ci", "--device", "cpu",
                  "--seeds", "1", "2", "--finetune", "--no-progress", "--out", str(out)])
    assert again == 0
    np.testing.assert_allclose(pd.read_csv(out / "table2.csv")["accuracy"], rows["accuracy"])  # read back, not rerun


def test_cli_reproduce_without_files_stops_with_the_message(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CORAL_LAB_MULTIBENCH_DIR", raising=False)
    assert main(["reproduce", "--dataset", "humor", "--preset", "ci", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "UR-FUNNY" in err and "CORAL_LAB_MULTIBENCH_DIR" in err and "humor.pkl" in err
    with pytest.raises(SystemExit, match="Trifeature only"):
        main(["reproduce", "--dataset", "digits", "--preset", "ci", "--image-size", "32", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="feature data sets"):
        main(["reproduce", "--preset", "ci", "--finetune", "--out", str(tmp_path)])

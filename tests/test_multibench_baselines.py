"""The baselines (CLIP, CoMM, InfMasking, FactorCL) on feature data: the same classes and losses as on
Trifeature, with the feature encoders; end to end on a synthetic MultiBench file and on digits (ci, CPU)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from coral_lab.cli import main
from coral_lab.config import RunConfig, get_preset
from coral_lab.methods import METHODS, build_model, check_config
from coral_lab.methods.clip import CLIPModel, clip_loss
from coral_lab.methods.comm import CoMMModel
from coral_lab.methods.factorcl import FactorCLModel
from coral_lab.methods.infmasking import InfMaskingModel
from coral_lab.data.features import load_dataset
from coral_lab.multibench.finetune import finetune
from coral_lab.multibench.pretrain import build_feature_model, load_feature_model, pretrain_features
from coral_lab.multibench.probe import probe_feature_model
from coral_lab.multibench.protocol import compare_methods, run_feature_unit

BASELINES = {  # name -> (coral_lab.methods class it must be, its probe subspaces, a loss part it logs)
    "clip": (CLIPModel, ["modality1", "modality2"], "clip"),
    "comm": (CoMMModel, ["fused"], "only2"),
    "infmasking": (InfMaskingModel, ["fused"], "masked"),
    "factorcl": (FactorCLModel, ["shared", "unique1", "unique2"], "nce_cond"),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def mosi(synthetic_mosi_folder):
    return load_dataset("mosi", synthetic_mosi_folder), synthetic_mosi_folder


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_every_baseline_is_registered():
    assert sorted(METHODS) == ["clip", "comm", "coral", "factorcl", "infmasking"]


@pytest.mark.parametrize("name", ["coral", *BASELINES])
def test_one_class_per_method_takes_both_kinds_of_data(name, digits):
    cls = METHODS[name].model
    cfg = get_preset("ci", "digits").replace(method=name)
    on_features = build_model(cfg, digits.modalities)
    on_images = build_model(get_preset("ci").replace(method=name))
    assert type(on_features) is cls and type(on_images) is cls
    # the encoders follow the modalities' kinds: feature encoders here, the CNN on images
    assert on_features.modalities == digits.modalities
    assert [m.kind for m in on_images.modalities] == ["image", "image"]
    feature_encoders = {type(m).__name__ for m in on_features.modules()}
    image_encoders = {type(m).__name__ for m in on_images.modules()}
    assert "FeatureTokenEncoder" in feature_encoders and "TokenEncoder" not in feature_encoders
    assert "TokenEncoder" in image_encoders and "FeatureTokenEncoder" not in image_encoders
    with pytest.raises(ValueError, match="needs the data set's modalities"):
        build_model(cfg)
    with pytest.raises(ValueError, match="modalities are for feature data"):
        build_model(get_preset("ci").replace(method=name), digits.modalities)
    with pytest.raises(TypeError, match="expected a coral_lab RunConfig, got dict"):
        build_model({"method": name})


@pytest.mark.parametrize("name", list(BASELINES))
def test_baseline_pretrains_checkpoints_and_probes_on_a_multibench_file(name, mosi, tmp_path):
    data, _ = mosi
    cls, subspaces, part = BASELINES[name]
    cfg = get_preset("ci", "mosi").replace(method=name)
    torch.manual_seed(cfg.train.seed)
    initial = build_feature_model(cfg, data).state_dict()
    res = pretrain_features(cfg, data, tmp_path)
    assert isinstance(res.model, cls)  # the Trifeature class itself, not a copy of its code
    assert list(res.history["epoch"]) == [1, 2] and np.isfinite(res.history["loss"]).all()
    assert part in res.history.columns
    assert any(not torch.equal(v, initial[k]) for k, v in res.model.state_dict().items())  # it trained
    model, loaded_cfg = load_feature_model(tmp_path, data)
    assert loaded_cfg.method == name
    for k, v in res.model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, msg=k)
    df = probe_feature_model(model, data, subspaces=None, probe_cfg=cfg.probe)
    assert list(df["features"]) == ["Z", *subspaces]
    assert df["accuracy"].between(0, 100).all()


@pytest.mark.parametrize("name", list(BASELINES))
def test_baseline_on_digits_reads_the_digit_above_chance(name, digits):
    # one epoch of 8 batches of 128: seconds; the probe reads 10 classes from the frozen features
    cfg = get_preset("ci", "digits").replace(method=name, train={"epochs": 1, "batch_size": 128})
    model = pretrain_features(cfg, digits).model
    df = probe_feature_model(model, digits, subspaces=("Z",), probe_cfg=cfg.probe)
    assert df["accuracy"].iloc[0] > 30  # chance is 10 %


def test_infmasking_gets_the_training_progress(mosi):
    data, _ = mosi
    cfg = get_preset("ci", "mosi").replace(method="infmasking", train={"epochs": 3})
    hist = pretrain_features(cfg, data).history
    np.testing.assert_allclose(hist["lambda_e"], [0.0, 0.5, 1.0])  # lambda_e = lambda * epoch / (epochs - 1)
    np.testing.assert_allclose(hist["mask_ratio"], 0.7)  # its own ratio, not COrAL's schedule


def test_feature_clip_forward_is_clip_loss_of_its_encoders_and_heads(mosi):
    data, _ = mosi
    cfg = get_preset("ci", "mosi").replace(method="clip")
    model = CLIPModel(cfg, data.modalities).eval()
    xs = [torch.from_numpy(x[:8]) for x in data.train.x]
    loss, parts = model(xs, None)
    z = [head(enc(x)) for enc, head, x in zip(model.encoders, model.heads, xs)]  # g_i(f_i(x_i)), (8, P)
    # independently: cosine logits by hand, symmetric cross-entropy with the matching pairs as targets
    u = [zi / zi.norm(dim=1, keepdim=True) for zi in z]
    logits = model.logit_scale() * u[0] @ u[1].T
    t = torch.arange(8)
    expected = 0.5 * (torch.nn.functional.cross_entropy(logits, t) + torch.nn.functional.cross_entropy(logits.T, t))
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(loss, clip_loss(z[0], z[1], model.logit_scale()))
    assert model.embed(xs).parts()["modality1"].shape == (8, cfg.model.embed_dim)


def test_feature_baselines_reject_bad_input(mosi):
    data, _ = mosi
    cfg = get_preset("ci", "mosi")
    model = CoMMModel(cfg, data.modalities)
    xs = [torch.from_numpy(x[:4]) for x in data.train.x]
    name0 = data.modalities[0].name
    with pytest.raises(ValueError, match=f"one per modality: {name0}"):
        model(xs[:1], xs[:1])
    with pytest.raises(ValueError, match=rf"view1\[0\] \({name0}\) must have shape"):
        model([xs[0][:, :, :-1], xs[1]], xs)
    bad = xs[0].clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model([bad, xs[1]], xs)
    with pytest.raises(TypeError, match="modalities are for feature data"):
        CoMMModel(RunConfig(), data.modalities)  # a Trifeature config
    with pytest.raises(TypeError, match="expects a coral_lab.config.RunConfig, got dict"):
        CoMMModel({"method": "comm"}, data.modalities)
    with pytest.raises(ValueError, match="n >= 2"):
        FactorCLModel(cfg, data.modalities[:1])


def test_unknown_method_and_finetuning_a_baseline_stop_with_a_message(mosi, tmp_path):
    data, folder = mosi
    with pytest.raises(ValueError, match=r"unknown method 'simclr'; valid methods: \['clip', 'comm', 'coral'"):
        check_config(get_preset("ci", "mosi").replace(method="simclr").validate())
    cfg = get_preset("ci", "mosi").replace(method="comm")
    with pytest.raises(ValueError, match="COrAL-only"):
        run_feature_unit(cfg, data, 1, tmp_path, with_finetune=True)
    assert not (tmp_path / "seed1").exists()  # stopped before training
    with pytest.raises(ValueError, match="COrAL only"):
        finetune(CoMMModel(cfg, data.modalities), data, cfg)
    common = ["reproduce", "--dataset", "mosi", "--data-path", str(folder), "--preset", "ci", "--out", str(tmp_path)]
    with pytest.raises(SystemExit, match="COrAL-only; drop it for --method clip"):
        main([*common, "--method", "clip", "--finetune"])
    with pytest.raises(SystemExit, match=r"unknown field train.method"):  # the method is top-level: --method
        main([*common, "--set", "train.method=clip"])
    with pytest.raises(SystemExit):  # argparse lists the choices
        main([*common, "--method", "simclr"])


def test_cli_reproduce_a_baseline_on_feature_data(mosi, tmp_path, capsys):
    _, folder = mosi
    out = tmp_path / "run"
    code = main(["reproduce", "--dataset", "mosi", "--data-path", str(folder), "--method", "comm", "--preset", "ci",
                 "--device", "cpu", "--seeds", "1", "--no-progress", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "CoMM: linear probe" in text and "paper (CoMM)" in text and "66.0 +- 1.67" in text
    rows = pd.read_csv(out / "table2.csv")
    assert list(rows["features"]) == ["Z", "fused"] and set(rows["stage"]) == {"pretrained"}
    side = json.loads((out / "table2.provenance.json").read_text())
    assert side["method"] == "comm" and side["config"]["method"] == "comm"
    summary = pd.read_csv(out / "table2_summary.csv")
    assert summary.loc[summary["features"] == "Z", "paper_mean"].iloc[0] == pytest.approx(66.0)  # CoMM, MOSI


def test_compare_methods_reads_each_run_and_filters_seeds(tmp_path):
    for name, acc in (("coral", [90.0, 80.0]), ("clip", [70.0, 60.0])):
        folder = tmp_path / name
        folder.mkdir()
        pd.DataFrame({"seed": [41, 42], "stage": "pretrained", "features": "Z", "accuracy": acc}).to_csv(
            folder / "table2.csv", index=False)
    both = compare_methods({"COrAL": tmp_path / "coral", "CLIP": tmp_path / "clip", "none": tmp_path / "missing"})
    assert list(both["method"]) == ["COrAL", "CLIP"] and list(both["n_seeds"]) == [2, 2]
    np.testing.assert_allclose(both["accuracy_mean"], [85.0, 65.0])
    np.testing.assert_allclose(both["accuracy_std"], [5.0] * 2)  # np.std (ddof 0, as the paper) of two values 10 apart
    one = compare_methods({"COrAL": tmp_path / "coral"}, seeds=[42])
    assert one["accuracy_mean"].tolist() == [80.0] and one["accuracy_std"].isna().all() and one["seeds"].tolist() == ["42"]


def test_clip_trains_on_the_pairs_as_they_are(mosi, monkeypatch):
    data, _ = mosi

    def no_augmentation(*args, **kwargs):
        raise AssertionError("augment_modalities was called")

    monkeypatch.setattr("coral_lab.inputs.sources.augment_modalities", no_augmentation)
    cfg = get_preset("ci", "mosi").replace(train={"epochs": 1})
    pretrain_features(cfg.replace(method="clip"), data)  # uses_augmentation = False
    with pytest.raises(AssertionError, match="augment_modalities was called"):
        pretrain_features(cfg.replace(method="comm"), data)

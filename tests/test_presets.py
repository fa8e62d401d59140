"""One run config for every data source: its named presets, reading older files, and the command line."""

import argparse
import json

import pytest

from coral_lab.config import runs
from coral_lab.cli import build_parser, config_from_args
from coral_lab.config import (
    DATA_SOURCES,
    FEATURE_PRESETS,
    PRESETS,
    TRIFEATURE,
    DataConfig,
    FeatureDataConfig,
    FeatureModelConfig,
    ModelConfig,
    RunConfig,
    experiment_dict,
    get_preset,
    preset_names,
)


def test_every_source_and_its_presets():
    assert DATA_SOURCES == (TRIFEATURE, "mosi", "mosei", "humor", "sarcasm", "mimic", "digits")
    assert preset_names() == ("ci", "hour", "long", "paper", "quick")
    assert all(preset_names(d) == ("ci", "paper", "quick") for d in DATA_SOURCES[1:])


@pytest.mark.parametrize("dataset", DATA_SOURCES)
@pytest.mark.parametrize("preset", ["ci", "quick", "paper"])
def test_a_preset_has_its_sources_sections(dataset, preset):
    cfg = get_preset(preset, dataset).validate()
    assert type(cfg) is RunConfig and cfg.preset == preset and cfg.dataset == dataset and cfg.method == "coral"
    image = dataset == TRIFEATURE
    assert isinstance(cfg.data, DataConfig if image else FeatureDataConfig)
    assert isinstance(cfg.model, ModelConfig if image else FeatureModelConfig)
    assert ("finetune" in cfg.to_dict()) is not image  # fine-tuning is feature data's only
    factory = PRESETS[preset] if image else FEATURE_PRESETS[preset]
    assert cfg.to_dict() == (factory() if image else factory(dataset)).to_dict()
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg  # the JSON round trip


def test_unknown_names_stop_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown preset 'long' for digits; valid presets: \['ci', 'paper', 'quick'\]"):
        get_preset("long", "digits")
    with pytest.raises(ValueError, match=r"unknown data set 'cifar'; valid: \['trifeature', 'mosi'"):
        get_preset("quick", "cifar")
    with pytest.raises(ValueError, match=r"unknown data set 'cifar' in the config"):
        RunConfig.from_dict({"dataset": "cifar"})
    with pytest.raises(ValueError, match="the data section of a digits config is a FeatureDataConfig, got a DataConfig"):
        RunConfig(dataset="digits", data=DataConfig())


def test_a_trifeature_run_keeps_its_identity_and_takes_no_feature_sections():
    cfg = get_preset("quick")
    assert cfg.to_dict()["dataset"] == TRIFEATURE and "dataset" not in cfg.experiment_dict()
    # the identity a Trifeature run had before the one run config: no data-set field, no fine-tuning
    before = {k: v for k, v in cfg.to_dict().items() if k != "dataset"}
    assert runs.config_hash(cfg) == runs.config_hash(experiment_dict(before)) == runs.config_hash(RunConfig.from_dict(before))
    with pytest.raises(ValueError, match=r"unknown config section\(s\) \['finetune'\]"):
        RunConfig.from_dict({**cfg.to_dict(), "finetune": {}})
    with pytest.raises(ValueError, match="unknown config section 'finetune'"):
        cfg.replace(finetune={"epochs": 3})
    with pytest.raises(ValueError, match="cannot become a digits config"):
        cfg.replace(dataset="digits")
    assert get_preset("ci", "mosi").replace(dataset="mosei").dataset == "mosei"  # same kind: allowed


def test_a_feature_config_in_the_earlier_layout_is_read_in_todays():
    """Before the one run config, feature-data configs had the method in ``train``, the file and split
    at the top, and no autocast (LEGACY_MOVES, LEGACY_VALUES)."""
    cfg = get_preset("quick", "digits").replace(method="clip", data={"path": "here", "split_seed": 3})
    old = cfg.to_dict()
    old["train"] = {k: v for k, v in old["train"].items()
                    if k not in ("train_set", "lr_schedule", "amp", "compile", "channels_last")}
    old["train"]["method"] = old.pop("method")
    data = old.pop("data")
    old["data_path"], old["split_seed"] = data["path"], data["split_seed"]
    read = RunConfig.from_dict(old)
    assert read == cfg and read.method == "clip" and read.data.path == "here" and read.data.split_seed == 3
    assert read.train.amp is False and read.train.lr_schedule == "constant"
    with pytest.raises(ValueError, match="train.train_set is Trifeature's pair set"):
        cfg.replace(train={"train_set": "biased"}).validate()


def test_probe_and_finetune_settings_do_not_change_what_pretraining_reuses():
    cfg = get_preset("ci", "digits")
    other = cfg.replace(probe={"max_iter": 7}, finetune={"epochs": 9})
    assert cfg.pretrain_dict() == other.pretrain_dict() and cfg.experiment_dict() != other.experiment_dict()


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["reproduce", *argv])


def test_the_command_line_picks_the_source_with_dataset():
    image = config_from_args(_args("--preset", "ci", "--set", "loss.lambda_o=3"))
    assert image.is_trifeature and image.loss.lambda_o == 3
    feat = config_from_args(_args("--dataset", "digits", "--preset", "ci", "--method", "clip", "--lambda-o", "2",
                                  "--data-path", "somewhere", "--set", "model.encoder.layers=2"))
    assert type(feat) is RunConfig and feat.dataset == "digits" and not feat.is_trifeature
    assert feat.method == "clip" and feat.loss.lambda_o == 2 and feat.data.path == "somewhere"
    assert feat.model.encoder.layers == 2
    # --method at the paper preset takes the published Trifeature optimiser there only
    paper = config_from_args(_args("--dataset", "digits", "--preset", "paper", "--method", "clip"))
    assert (paper.train.lr, paper.train.weight_decay) == (get_preset("paper", "digits").train.lr, 1e-3)
    with pytest.raises(SystemExit, match="unknown preset 'long' for digits"):
        config_from_args(_args("--dataset", "digits", "--preset", "long"))
    with pytest.raises(SystemExit, match="--data-path and --finetune apply to feature data sets"):
        config_from_args(_args("--preset", "ci", "--finetune"))
    with pytest.raises(SystemExit, match="--image-size applies to Trifeature only"):
        config_from_args(_args("--dataset", "digits", "--preset", "ci", "--image-size", "32"))
    with pytest.raises(SystemExit, match="--finetune .* is COrAL-only; drop it for --method comm"):
        config_from_args(_args("--dataset", "digits", "--preset", "ci", "--method", "comm", "--finetune"))


def test_trifeature_only_entry_points_refuse_a_feature_config_with_one_line(tmp_path):
    from coral_lab.experiments.ablations import ablation_variants
    from coral_lab.evaluation.protocol import run_table1
    from coral_lab.experiments.study import run_study
    from coral_lab.training.pretrain import load_benchmark

    digits = get_preset("ci", "digits")
    calls = {
        "the Table 1 protocol": lambda: run_table1(digits, tmp_path / "t1", seeds=[1]),
        "a learning-curve study": lambda: run_study("screen", digits, tmp_path / "s", seeds=[1], every=1),
        "the Trifeature benchmark": lambda: load_benchmark(digits, progress=False),
        "an ablation study": lambda: ablation_variants("masking", digits),
    }
    for what, call in calls.items():
        with pytest.raises(ValueError, match=rf"^{what} runs on Trifeature images; got a digits config"):
            call()
    assert list(tmp_path.iterdir()) == []  # nothing written
    with pytest.raises(TypeError, match="cfg must be a coral_lab.config.RunConfig, got dict"):
        run_table1({"preset": "ci"}, tmp_path / "t1")

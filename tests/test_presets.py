"""coral_lab.presets: one table of every data source's named presets, and the command line built on it."""

import argparse

import pytest

from coral_lab.cli import build_parser, config_from_args
from coral_lab.config import RunConfig, get_preset
from coral_lab.multibench.config import FeatureRunConfig, feature_config
from coral_lab.presets import DATA_SOURCES, TRIFEATURE, preset_names, run_config


def test_every_source_and_its_presets():
    assert DATA_SOURCES == (TRIFEATURE, "mosi", "mosei", "humor", "sarcasm", "mimic", "digits")
    assert preset_names() == ("ci", "long", "paper", "quick")
    assert all(preset_names(d) == ("ci", "paper", "quick") for d in DATA_SOURCES[1:])


@pytest.mark.parametrize("dataset", DATA_SOURCES)
@pytest.mark.parametrize("preset", ["ci", "quick", "paper"])
def test_run_config_is_the_kinds_own_preset(dataset, preset):
    cfg = run_config(preset, dataset)
    if dataset == TRIFEATURE:
        assert isinstance(cfg, RunConfig) and cfg.to_dict() == get_preset(preset).to_dict()
    else:
        assert isinstance(cfg, FeatureRunConfig) and cfg.to_dict() == feature_config(dataset, preset).to_dict()
    assert cfg.preset == preset


def test_unknown_names_stop_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown preset 'long' for digits; valid presets: \['ci', 'paper', 'quick'\]"):
        run_config("long", "digits")
    with pytest.raises(ValueError, match=r"unknown data set 'cifar'; valid: \['trifeature', 'mosi'"):
        run_config("quick", "cifar")


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["reproduce", *argv])


def test_the_command_line_picks_the_source_with_dataset():
    image = config_from_args(_args("--preset", "ci", "--set", "loss.lambda_o=3"))
    assert isinstance(image, RunConfig) and image.loss.lambda_o == 3
    feat = config_from_args(_args("--dataset", "digits", "--preset", "ci", "--method", "clip", "--lambda-o", "2"))
    assert isinstance(feat, FeatureRunConfig) and feat.dataset == "digits"
    assert feat.train.method == "clip" and feat.loss.lambda_o == 2
    with pytest.raises(SystemExit, match="unknown preset 'long' for digits"):
        config_from_args(_args("--dataset", "digits", "--preset", "long"))
    with pytest.raises(SystemExit, match="--data-path and --finetune apply to feature data sets"):
        config_from_args(_args("--preset", "ci", "--finetune"))
    with pytest.raises(SystemExit, match="--image-size applies to Trifeature only"):
        config_from_args(_args("--dataset", "digits", "--preset", "ci", "--image-size", "32"))

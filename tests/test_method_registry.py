"""The method registry is the one source of what a method is: a method added in one file trains and is
probed through the command line, and the registry refuses a malformed entry in one line."""

import dataclasses
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from coral_lab import methods
from coral_lab.cli import main
from coral_lab.config import get_preset
from coral_lab.methods import METHODS, Method, check_config, display_name, get_method, register_method, subspaces
from coral_lab.models import CoralModel
from coral_lab.training.pretrain import load_model

sys.path.insert(0, str(Path(__file__).parent))
import toy_method  # noqa: E402


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(METHODS, "toy", toy_method.METHOD)
    return toy_method.METHOD


def test_a_method_added_in_one_file_trains_and_is_probed_through_the_cli(toy_registered, ci_cache, tmp_path):
    run = tmp_path / "toy"
    # its own setting, set on the command line like any field; a bad value stops before a file is written
    with pytest.raises(SystemExit, match="settings.temperature_scale must be > 0"):
        main(["pretrain", "--preset", "ci", "--method", "toy", "--set", "settings.temperature_scale=0",
              "--out", str(run)])
    with pytest.raises(SystemExit, match=r"no setting\(s\) \['settings.views'\]"):
        main(["pretrain", "--preset", "ci", "--method", "toy", "--set", "settings.views=4", "--out", str(run)])
    assert not run.exists()
    assert main(["pretrain", "--preset", "ci", "--method", "toy", "--device", "cpu", "--cache-dir", str(ci_cache),
                 "--out", str(run), "--no-progress", "--set", "settings.temperature_scale=2"]) == 0
    history = pd.read_csv(run / "history.csv")
    assert len(history) == get_preset("ci").train.epochs and "toy" in history.columns
    saved = json.loads((run / "config.json").read_text())
    assert saved["method"] == "toy" and saved["settings"] == {"temperature_scale": 2}
    model, _, _ = load_model(run, device="cpu")
    assert model.temperature == pytest.approx(2 * get_preset("ci").loss.temperature)
    assert main(["probe", "--run", str(run), "--device", "cpu", "--features", "Z", "joint",
                 "--protocol", "held_out"]) == 0
    probe = pd.read_csv(run / "probe_cli.csv")
    assert set(probe["features"]) == {"Z", "joint"}
    # everything else is derived from the entry
    cfg = methods.with_method(get_preset("ci"), "toy")
    assert subspaces(cfg) == ("joint",) and display_name("toy") == "Toy"
    assert methods.with_method(get_preset("paper"), "toy").train.lr == get_preset("paper").train.lr  # none published


def test_an_unregistered_method_stops_before_anything_is_written(tmp_path):
    with pytest.raises(SystemExit):  # argparse: --method's choices are the registry's names
        main(["pretrain", "--preset", "ci", "--method", "toy", "--out", str(tmp_path / "x")])
    from coral_lab.training.pretrain import pretrain

    with pytest.raises(ValueError, match="unknown method 'toy'; valid methods"):
        pretrain(get_preset("ci").replace(method="toy"), tmp_path / "y", device="cpu", progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_each_method_checks_its_own_settings():
    cfg = get_preset("ci")
    for method, changes, field in (("clip", {"logit_scale_max": 0.0}, "settings.logit_scale_max"),
                                   ("infmasking", {"views": 1}, "settings.views"),
                                   ("infmasking", {"views": 2.5}, "settings.views must be an int"),
                                   ("infmasking", {"ratio": 1.0}, "settings.ratio"),
                                   ("factorcl", {"critic_hidden": 0}, "settings.critic_hidden"),
                                   ("clip", {"views": 4}, "no setting"),
                                   ("comm", {"views": 4}, "it has no settings of its own")):
        with pytest.raises(ValueError, match=field):
            check_config(methods.with_method(cfg, method).replace(settings=changes))
    # a config's settings are exactly its method's, at their defaults unless changed; another method's go
    for name, method in METHODS.items():
        filled = methods.with_method(cfg, name).settings
        assert filled == method.default_settings() and tuple(filled) == method.setting_names()
    infm = methods.with_method(cfg, "infmasking").replace(settings={"views": 3})
    assert check_config(infm).settings["views"] == 3 and methods.settings_of(infm).views == 3
    assert methods.with_method(infm, "infmasking").settings["views"] == 3  # the same method keeps them
    assert methods.with_method(infm, "clip").settings == get_method("clip").default_settings()


def test_the_registry_refuses_malformed_entries():
    with pytest.raises(ValueError, match="lower case"):
        Method("Toy Method", "Toy", toy_method.ToyModel)
    with pytest.raises(TypeError, match="class"):
        Method("toy2", "Toy", object)
    with pytest.raises(TypeError, match="settings must be a dataclass"):
        Method("toy2", "Toy", toy_method.ToyModel, settings=("toy_width",))

    @dataclasses.dataclass
    class NoDefault:
        width: int

    @dataclasses.dataclass
    class ListDefault:
        widths: tuple = (1, 2)

    with pytest.raises(ValueError, match="needs a default"):
        Method("toy2", "Toy", toy_method.ToyModel, settings=NoDefault)
    with pytest.raises(ValueError, match=r"settings \['widths'\]"):
        Method("toy2", "Toy", toy_method.ToyModel, settings=ListDefault)
    with pytest.raises(ValueError, match="already registered"):
        register_method(Method("clip", "CLIP again", toy_method.ToyModel))
    with pytest.raises(ValueError, match="valid methods"):
        get_method("byol")


def test_coral_is_a_registry_entry_like_the_baselines():
    assert get_method("coral").model is CoralModel and display_name("coral") == "COrAL"
    assert subspaces(get_preset("ci")) == ("shared", "unique1", "unique2")
    assert get_method("coral").published_optimiser == (1e-4, 1e-3)

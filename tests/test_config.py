import json
import math

import re

import pytest

from coral_lab.config import PRESETS, RunConfig, get_preset, moved_fields, preset_from_env
from coral_lab.methods import check_config, settings_of, with_method


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_validate_and_round_trip_json(name, tmp_path):
    cfg = get_preset(name).validate()
    assert cfg.preset == name
    assert cfg.model.image_size == cfg.data.image_size
    cfg.to_json(tmp_path / "config.json")
    back = RunConfig.from_json(tmp_path / "config.json")
    assert back == cfg
    assert isinstance(back.augment.crop_scale, tuple)


def test_paper_preset_has_the_published_values():
    cfg = get_preset("paper")
    assert (cfg.train.lr, cfg.train.weight_decay, cfg.train.batch_size, cfg.train.epochs) == (1e-4, 1e-3, 64, 100)
    assert (cfg.loss.lambda_s, cfg.loss.lambda_u, cfg.loss.lambda_o, cfg.loss.temperature) == (1, 1, 1, 0.1)
    assert cfg.loss.ortho_kind == "hinge" and cfg.train.mask_schedule == "paper"
    assert (cfg.data.image_size, cfg.model.encoder, cfg.model.embed_dim, cfg.model.n_heads) == (224, "alexnet", 512, 8)
    assert (cfg.data.n_train_pairs, cfg.data.n_probe_test_pairs) == (10_000, 4_096)


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError, match="valid presets.*ci.*paper.*quick"):
        get_preset("fast")


def test_replace_rejects_unknown_fields_and_sections():
    cfg = get_preset("ci")
    with pytest.raises(ValueError, match="unknown field loss.lambda_x"):
        cfg.replace(loss={"lambda_x": 1})
    with pytest.raises(ValueError, match="unknown config section"):
        cfg.replace(optim={"lr": 1})
    assert cfg.replace(loss={"lambda_o": 3}).loss.lambda_o == 3
    assert cfg.loss.lambda_o == 1  # the original is untouched


def test_both_run_configs_share_one_config_tree():
    """Trifeature and feature data read, change and reject fields with the same machinery."""
    from coral_lab.config import ConfigTree

    trifeature, digits = get_preset("ci"), get_preset("ci", "digits")
    assert type(trifeature) is type(digits) is RunConfig and isinstance(digits, ConfigTree)
    assert trifeature.section_names() == ["data", "augment", "model", "loss", "train", "probe"]
    assert digits.section_names() == [*trifeature.section_names(), "finetune"]
    for cfg in (trifeature, digits):
        with pytest.raises(ValueError, match=r"^unknown config section 'optim'; valid: \[.*'loss'"):
            cfg.replace(optim={"lr": 1})
        with pytest.raises(ValueError, match=r"^unknown config section\(s\) \['optim'\]"):
            type(cfg).from_dict({**cfg.to_dict(), "optim": {}})
        with pytest.raises(ValueError, match=r"unknown field\(s\) \['lambda_x'\] in config section 'loss'"):
            type(cfg).from_dict({**cfg.to_dict(), "loss": {"lambda_x": 1}})
        changed = cfg.replace(probe={"C_grid": [0.5, 2.0]})  # a list for a tuple field becomes a tuple, as in JSON
        assert changed.probe.C_grid == (0.5, 2.0) and cfg.probe.C_grid != (0.5, 2.0)
        assert type(cfg).from_dict(changed.to_dict()) == changed
    nested = digits.replace(model={"encoder": {"layers": 3}})
    assert nested.model.encoder.layers == 3 and nested.model.encoder.width == digits.model.encoder.width
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['depth'\] in config section 'model.encoder'"):
        RunConfig.from_dict({**digits.to_dict(), "model": {"encoder": {"depth": 2}}})
    with pytest.raises(ValueError, match="unknown method 'simclr'"):
        check_config(trifeature.replace(method="simclr"))
    assert trifeature.replace(data={"image_size": 48}).model.image_size == 48  # the model follows the data


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"loss": {"lambda_o": -1}}, "lambda_o must be >= 0"),
        ({"loss": {"temperature": 0}}, "temperature must be > 0"),
        ({"loss": {"ortho_kind": "cubic"}}, "ortho_kind"),
        ({"train": {"mask_schedule": 1.0}}, "1"),
        ({"train": {"mask_schedule": "linear"}}, "linear"),
        ({"train": {"train_set": "mixed"}}, "train_set"),
        ({"train": {"batch_size": 1}}, "batch_size"),
        ({"model": {"n_modalities": 1}}, "n_modalities"),
        ({"model": {"embed_dim": 30, "n_heads": 8}}, "divisible"),
        ({"data": {"image_size": 8}}, "image_size"),
    ],
)
def test_validate_rejects_out_of_range_values(changes, match):
    with pytest.raises(ValueError, match=match):
        get_preset("ci").replace(**changes).validate()


def test_from_json_reports_broken_files(tmp_path):
    p = tmp_path / "config.json"
    p.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        RunConfig.from_json(p)
    p.write_text(json.dumps({"loss": {"lambda_q": 1}}))
    with pytest.raises(ValueError, match="lambda_q"):
        RunConfig.from_json(p)
    with pytest.raises(FileNotFoundError):
        RunConfig.from_json(tmp_path / "missing.json")


def test_preset_from_env(monkeypatch):
    monkeypatch.setenv("CORAL_LAB_PRESET", "ci")
    assert preset_from_env() == "ci"
    monkeypatch.setenv("CORAL_LAB_PRESET", "huge")
    with pytest.raises(ValueError, match="huge"):
        preset_from_env()


def test_method_round_trips_and_defaults_to_coral(tmp_path):
    cfg = get_preset("ci")
    assert cfg.method == "coral" and cfg.settings == {}
    infm = cfg.replace(method="infmasking", settings={"views": 4})
    infm.to_json(tmp_path / "c.json")
    back = RunConfig.from_json(tmp_path / "c.json")
    assert back == infm and back.method == "infmasking" and back.settings == {"views": 4}
    # a config.json written before methods existed is COrAL, with no settings of its own
    d = cfg.to_dict()
    del d["method"], d["settings"]
    assert RunConfig.from_dict(d) == cfg
    # the config checks a name's form; which names and settings are valid, the method registry says
    with pytest.raises(ValueError, match="method must be a method's name"):
        cfg.replace(method="BYOL 2")
    with pytest.raises(ValueError, match="valid methods"):
        check_config(cfg.replace(method="byol"))
    with pytest.raises(ValueError, match="settings.ratio"):
        check_config(cfg.replace(method="infmasking", settings={"ratio": 1.0}).validate())


def test_settings_is_a_mapping_of_plain_values_merged_by_replace(tmp_path):
    cfg = get_preset("ci").replace(method="infmasking", settings={"views": 4})
    assert cfg.replace(settings={"ratio": 0.5}).settings == {"views": 4, "ratio": 0.5}  # merged, not replaced
    for bad, match in (([1, 2], "settings must be a mapping"), ({"Views": 4}, "a setting's name"),
                       ({"views": [4]}, "settings.views must be a number")):
        with pytest.raises(ValueError, match=match):
            cfg.replace(settings=bad)
        d = cfg.to_dict()
        d["settings"] = bad
        with pytest.raises(ValueError, match=match):
            RunConfig.from_dict(d)
    broken = get_preset("ci")
    broken.settings = "views=4"  # set by hand, past replace: validate still stops it
    with pytest.raises(ValueError, match="settings must be"):
        broken.validate()


def test_published_code_choices_are_the_defaults():
    cfg = get_preset("paper")
    assert (cfg.model.init, cfg.model.fusion_activation, cfg.model.attention_pool) == ("published", "quick_gelu", "unscaled")
    assert cfg.probe.class_weight is None and settings_of(with_method(cfg, "infmasking")).total == "mean"
    for field, value in (("init", "xavier"), ("fusion_activation", "relu"), ("attention_pool", "mean")):
        with pytest.raises(ValueError, match=f"model.{field}"):
            cfg.replace(model={field: value}).validate()
    with pytest.raises(ValueError, match="settings.total"):
        check_config(with_method(cfg, "infmasking").replace(settings={"total": "sum"}).validate())


def _old_layout(d: dict, **baseline_changes) -> dict:
    """A config dict as coral_lab wrote it before the methods' own settings: one shared ``baseline``
    section with every method's settings, named ``<method>_<setting>``, at the defaults of that day."""
    old = {k: v for k, v in d.items() if k != "settings"}
    old["baseline"] = {"clip_logit_scale_init": math.log(1 / 0.07), "clip_logit_scale_max": math.log(100.0),
                       "infmasking_views": 6, "infmasking_ratio": 0.7, "infmasking_lambda": 1.0,
                       "infmasking_total": "mean", "factorcl_critic_hidden": None, **baseline_changes}
    return old


def test_a_saved_config_without_the_new_fields_reads_as_the_code_that_wrote_it(tmp_path):
    # a config.json written before init / fusion_activation / attention_pool / infmasking_total existed
    old = {**_old_layout(get_preset("quick").to_dict()), "method": "infmasking"}
    for section, name in (("model", "init"), ("model", "fusion_activation"), ("model", "attention_pool"),
                          ("baseline", "infmasking_total")):
        del old[section][name]
    (tmp_path / "config.json").write_text(json.dumps(old))
    cfg = RunConfig.from_json(tmp_path / "config.json")
    assert (cfg.model.init, cfg.model.fusion_activation, cfg.model.attention_pool) == ("independent", "gelu", "scaled")
    assert cfg.settings["total"] == "comm_plus_half"
    today = with_method(get_preset("quick"), "infmasking")
    assert cfg.experiment_dict() != today.experiment_dict()  # never mistaken for a new run
    # a section that is absent altogether takes today's defaults; a dict that is not a mapping is refused
    assert RunConfig.from_dict({"preset": "quick"}).model.init == "published"
    with pytest.raises(ValueError, match="mapping"):
        RunConfig.from_dict([1, 2])


def test_the_shared_baseline_section_of_older_files_becomes_the_run_s_own_settings():
    """Before 2026-12 every config had a ``baseline`` section with every method's prefixed settings; an old
    file reads with only its own method's, under their short names, and reads as today's config of it."""
    base = get_preset("quick")
    for method, changes, expected in (
            ("coral", {}, {}),
            ("clip", {"clip_logit_scale_max": 3.0}, {"logit_scale_init": math.log(1 / 0.07), "logit_scale_max": 3.0}),
            ("infmasking", {"infmasking_views": 4, "infmasking_lambda": 0.5},
             {"views": 4, "ratio": 0.7, "lam": 0.5, "total": "mean"}),
            ("factorcl", {"factorcl_critic_hidden": 64}, {"critic_hidden": 64}),
            ("comm", {"infmasking_views": 9}, {})):
        old = {**_old_layout(base.to_dict(), **changes), "method": method}
        cfg = RunConfig.from_dict(old)
        assert cfg.settings == expected, method
        assert cfg == check_config(with_method(base, method).replace(settings=expected)), method
        assert moved_fields(old) == [("baseline",)] and moved_fields(cfg.to_dict()) == []


def test_pretrain_identity_leaves_out_the_probe_section_and_the_preset_name():
    a = get_preset("ci")
    b = a.replace(probe={"C_grid": (0.5,), "class_weight": "balanced"})
    assert a.pretrain_dict() == b.pretrain_dict() and a.experiment_dict() != b.experiment_dict()
    assert a.pretrain_dict() != a.replace(train={"lr": 0.5}).pretrain_dict()
    # a preset is a name for the other sections' values: the name alone does not make another pretraining
    assert a.replace(preset="hour").pretrain_dict() == a.pretrain_dict()
    assert a.replace(preset="hour").experiment_dict() != a.experiment_dict()
    assert a.pretrain_dict() != a.replace(method="clip").pretrain_dict()


@pytest.mark.parametrize("change, field", [
    ({"train": {"epochs": "abc"}}, "train.epochs"),
    ({"loss": {"temperature": "abc"}}, "loss.temperature"),
    ({"train": {"batch_size": 32.0}}, "train.batch_size"),
    ({"train": {"seed": 1.5}}, "train.seed"),
    ({"train": {"seed": -5}}, "train.seed"),
    ({"model": {"n_heads": 0}}, "model.n_heads"),
    ({"data": {"cache_dir": 5}}, "data.cache_dir"),
    ({"train": {"amp": "maybe"}}, "train.amp"),
    ({"train": {"lr": float("nan")}}, "train.lr"),
    ({"augment": {"crop_scale": (0.2, "x")}}, "augment.crop_scale"),
    ({"augment": {"flip_p": 5.0}}, "augment.flip_p"),
    ({"probe": {"C_grid": ()}}, "probe.C_grid"),
    ({"probe": {"max_iter": -1}}, "probe.max_iter"),
])
def test_every_field_is_type_and_range_checked_when_the_config_is_validated(change, field):
    from coral_lab.config import get_preset

    with pytest.raises(ValueError, match=re.escape(field)):
        get_preset("ci").replace(**change).validate()


def test_feature_configs_are_type_and_range_checked_too():
    from coral_lab.config import get_preset

    with pytest.raises(ValueError, match=r"augment\.drop_p is a probability"):
        get_preset("ci", "digits").replace(augment={"drop_p": 5.0}).validate()
    with pytest.raises(ValueError, match=r"train\.epochs must be an int"):
        get_preset("ci", "digits").replace(train={"epochs": "abc"}).validate()


def test_every_preset_passes_the_type_checks():
    from coral_lab.config import PRESETS, get_preset

    for name in PRESETS:
        get_preset(name).validate()
    for dataset in ("mosi", "digits"):
        for name in ("ci", "quick", "paper"):
            get_preset(name, dataset).validate()


def test_cli_bad_set_value_and_bad_seed_stop_before_any_training(tmp_path, capsys):
    from coral_lab.cli import main

    def message(argv):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse-style exit with the message
            return str(e.code)
        assert code == 2
        return capsys.readouterr().err

    out = tmp_path / "r"
    common = ["--preset", "ci", "--device", "cpu", "--no-progress", "--out", str(out)]
    assert "train.epochs must be an int" in message(["pretrain", *common, "--set", "train.epochs=abc"])
    assert "train.seed must be >= 0" in message(["reproduce", *common, "--seeds", "-5"])
    assert not out.exists()


def test_one_override_builder_serves_both_command_lines():
    import argparse

    from coral_lab.config import CLI_FLAGS, overrides_from_args, parse_mask_schedule

    args = argparse.Namespace(set=["train.epochs=5", "model.encoder.width=8", "train.lr=1e-3"], epochs=3,
                              mask_schedule="none", lr=None)
    flat = overrides_from_args(args, CLI_FLAGS)
    assert flat["train"] == {"epochs": 3, "lr": 1e-3, "mask_schedule": None}  # the flag wins over --set
    assert flat["model"] == {"encoder.width": 8}  # one level: RunConfig.replace rejects the unknown field
    nested = overrides_from_args(args, {"epochs": ("train", "epochs")}, nested=True)
    assert nested["model"] == {"encoder": {"width": 8}}
    assert [parse_mask_schedule(t) for t in ("paper", "PAPER", "none", "0.5", "(0.1, 0.9)")] == \
        ["paper", "paper", None, 0.5, (0.1, 0.9)]
    with pytest.raises(SystemExit, match="section.field=value"):
        overrides_from_args(argparse.Namespace(set=["epochs=3"]), CLI_FLAGS)


@pytest.mark.parametrize("item, message", [
    ("finetune.lambda_s=-5", "finetune.lambda_s must be >= 0"),
    ("finetune.lambda_u=-5", "finetune.lambda_u must be >= 0"),
    ("finetune.weight_decay=-1", "finetune.weight_decay must be >= 0"),
    ("finetune.temperature=0", "finetune.temperature must be > 0"),
    ("augment.drop_max=5", "augment.drop_max must be in [0, 1]"),
    ("augment.noise_std=-1", "augment.noise_std must be >= 0"),
    ("augment.corrupt_rate=2", "augment.corrupt_rate must be in [0, 1]"),
    ("augment.drop_p=-0.1", "augment.drop_p is a probability and must be in [0, 1]"),
])
def test_feature_data_values_are_range_checked_before_anything_runs(item, message, tmp_path):
    from coral_lab.cli import main

    with pytest.raises(SystemExit, match=re.escape(message)):
        main(["reproduce", "--dataset", "digits", "--preset", "ci", "--set", item, "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()

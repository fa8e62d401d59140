"""Reading config files written by older versions in today's layout: fields that moved (``LEGACY_MOVES``),
the values a field had before it existed (``LEGACY_VALUES``) and the shared ``baseline`` section that the
methods' own settings replaced (``LEGACY_BASELINE``)."""

from __future__ import annotations

import copy
from typing import Any


# Fields that moved, old place -> new place (a path of keys; one key is a top-level field). A saved config
# in the old layout is read in the new one. Feature-data configs written before the one run config had
# the method in their train section and the data file and split at the top.
LEGACY_MOVES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("train", "method"): ("method",),
    ("data_path",): ("data", "path"),
    ("split_seed",): ("data", "split_seed"),
}

# Fields added after results were committed, with the value every run written before them used. A saved
# config (config.json, a checkpoint) whose section lacks one of them is read with that value, so an old
# run is never mistaken for one trained with today's default.
LEGACY_VALUES: dict[tuple[str, str], Any] = {
    ("model", "init"): "independent",
    ("model", "fusion_activation"): "gelu",
    ("model", "attention_pool"): "scaled",
    ("baseline", "infmasking_total"): "comm_plus_half",  # read before the baseline section becomes settings
    ("train", "amp"): False,  # feature-data pretraining had no autocast before it shared TrainConfig
}


# Until 2026-12 every config had one shared ``baseline`` section holding every method's settings, each field
# named by its method: ``<method>_<setting>`` (``clip_logit_scale_init``, ``infmasking_views``,
# ``factorcl_critic_hidden``). A saved config with it is read with ``settings`` = its own method's fields under
# their short names (``LEGACY_SETTING_NAMES``: where the short name is not the rest of the old one); the
# other methods' fields go.
LEGACY_BASELINE = "baseline"
LEGACY_SETTING_NAMES: dict[str, str] = {"infmasking_lambda": "lam"}  # ``lambda`` is a Python keyword


def field_holder(d: Any, path: tuple[str, ...]) -> dict[str, Any] | None:
    """The dict that holds ``path[-1]`` under ``d`` (``d`` itself for a one-key path) if it holds it, else None."""
    for key in path[:-1]:
        d = d.get(key) if isinstance(d, dict) else None
    return d if isinstance(d, dict) and path[-1] in d else None


def moved_fields(d: dict[str, Any]) -> list[tuple[str, ...]]:
    """The ``LEGACY_MOVES`` fields a saved config dict still has at their old place (empty: today's layout)."""
    old_layout = [old for old in LEGACY_MOVES if field_holder(d, old) is not None]
    return old_layout + ([(LEGACY_BASELINE,)] if isinstance(d, dict) and LEGACY_BASELINE in d else [])


def with_legacy_values(d: dict[str, Any]) -> dict[str, Any]:
    """A copy of a saved config dict in today's layout: each ``LEGACY_MOVES`` field at its new place, and
    each section that lacks a ``LEGACY_VALUES`` field given that value."""
    out = copy.deepcopy(d)
    for old, new in LEGACY_MOVES.items():
        holder = field_holder(out, old)
        if holder is None:
            continue
        value = holder.pop(old[-1])
        target = out
        for key in new[:-1]:
            target = target.setdefault(key, {})
        if isinstance(target, dict):
            target.setdefault(new[-1], value)
    for (section, name), value in LEGACY_VALUES.items():
        if isinstance(out.get(section), dict) and name not in out[section]:
            out[section][name] = value
    if LEGACY_BASELINE in out:
        shared = out.pop(LEGACY_BASELINE)
        prefix = f"{out.get('method', 'coral')}_"
        if isinstance(shared, dict) and "settings" not in out:
            out["settings"] = {LEGACY_SETTING_NAMES.get(k, k[len(prefix):]): v
                               for k, v in shared.items() if k.startswith(prefix)}
    return out

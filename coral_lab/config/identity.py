"""A run's identity: the part of a config that decides what a run trains (``experiment_dict``), without
the run-time settings (``RUNTIME_FIELDS``) and the fields whose default keeps older identities
(``NEUTRAL_DEFAULTS``). ``coral_lab.config.runs.config_hash`` hashes it."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from coral_lab.config.sections import HELD_OUT
from coral_lab.config.data_sources import TRIFEATURE
from coral_lab.config.legacy import field_holder


# fields (paths of keys) that change how a run is executed but not what it computes
RUNTIME_FIELDS: tuple[tuple[str, ...], ...] = (
    ("train", "num_threads"), ("train", "compile"), ("train", "channels_last"),
    ("data", "cache_dir"),  # where the (checksummed) rendered images are kept, not what they are
)


# Fields added after runs were committed whose default leaves the experiment exactly as it was before the
# field existed: at that default they are left out of the experiment dict, so the identity (and the
# config_hash) of every earlier run stays the same; any other value is part of it.
NEUTRAL_DEFAULTS: dict[tuple[str, ...], Any] = {
    ("data", "n_textures"): 10,
    ("dataset",): TRIFEATURE,  # a Trifeature run's identity from before the one run config
    ("probe", "protocol"): HELD_OUT,  # a probe's identity from before the published replica
    ("data", "sha256"): None,  # a feature-data run's identity from before its data file's digest was recorded
}


def _pop_path(d: dict[str, Any], path: tuple[str, ...], only_if: Any = dataclasses.MISSING) -> None:
    """Delete ``d[path[0]]...[path[-1]]`` if it is there (and equals ``only_if`` when that is given)."""
    holder = field_holder(d, path)
    if holder is not None and (only_if is dataclasses.MISSING or holder[path[-1]] == only_if):
        del holder[path[-1]]


def experiment_dict(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config dict without ``RUNTIME_FIELDS`` and without ``NEUTRAL_DEFAULTS`` fields at their
    default (see ``RunConfig.experiment_dict``)."""
    out = copy.deepcopy(config)
    for path in RUNTIME_FIELDS:
        _pop_path(out, path)
    for path, default in NEUTRAL_DEFAULTS.items():
        _pop_path(out, path, only_if=default)
    return out

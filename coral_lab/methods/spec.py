"""What the toolkit knows of a pretraining method, kept beside the method's class: one ``Method`` entry.

Each method module (``coral_lab.methods.coral``, ``clip``, ``comm``, ``infmasking``, ``factorcl``) ends
with its ``METHOD``; ``coral_lab.methods.METHODS`` collects them, and everything else is derived from
that registry: the command line's ``--method`` choices, the names tables print, the optimiser applied
at the paper preset, the probe's subspace names and the method's own settings.

A method's own settings are a small dataclass of its module (``Settings``: each field a setting, its
default the method's default, a ``check()`` of the values' ranges). A run config holds the run's method's
settings as a mapping, ``RunConfig.settings`` (``--set settings.views=4``); ``Method.read_settings``
turns it into the method's ``Settings``, refusing a name the method does not have.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import nn

from coral_lab.config import NAME_PATTERN, SETTING_VALUE_TYPES, RunConfig, check_types

__all__ = ["Method"]



@dataclass(frozen=True)
class Method:
    """One pretraining method.

    Attributes:
        name: the key ``RunConfig.method`` and ``--method`` use (lower case, a Python identifier).
        display_name: the name tables print; the paper's tables use the same (``coral_lab.core.paper``).
        model: the class, following the method contract of ``coral_lab.objectives.contract``
            (``from_config(cfg, modalities=None)``, ``training_loss``, ``subspace_names(n_modalities)``).
        published_optimiser: (lr, weight decay) of the method's published Trifeature runs, which
            ``coral_lab.methods.with_method`` applies at the paper preset; None keeps the preset's.
        settings: the method's own settings, a dataclass whose fields (each with a default: a number, a
            string, a bool or None) are the names ``RunConfig.settings`` may hold and whose ``check()``
            raises ValueError for a value out of range; None for a method without settings of its own
            (COrAL, CoMM: the shared ``model``, ``loss`` and ``train`` sections are theirs).
    """

    name: str
    display_name: str
    model: type[nn.Module]
    published_optimiser: tuple[float, float] | None = None
    settings: type | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name):
            raise ValueError(f"a method's name must be lower case letters, digits and _, got {self.name!r}")
        if not isinstance(self.display_name, str) or not self.display_name:
            raise ValueError(f"method {self.name!r} needs a display name")
        missing = [a for a in ("from_config", "training_loss", "subspace_names") if not hasattr(self.model, a)]
        if not isinstance(self.model, type) or missing:
            raise TypeError(f"method {self.name!r}: the model must be a class with {missing or 'from_config'}")
        if self.published_optimiser is not None and len(self.published_optimiser) != 2:
            raise ValueError(f"method {self.name!r}: published_optimiser is (lr, weight decay)")
        if self.settings is not None:
            if not (isinstance(self.settings, type) and dataclasses.is_dataclass(self.settings)):
                raise TypeError(f"method {self.name!r}: settings must be a dataclass (its Settings), "
                                f"got {self.settings!r}")
            try:
                defaults = self.settings()
            except TypeError:
                raise ValueError(f"method {self.name!r}: every field of its Settings needs a default") from None
            bad = [f.name for f in dataclasses.fields(defaults)
                   if not NAME_PATTERN.fullmatch(f.name) or not isinstance(getattr(defaults, f.name), SETTING_VALUE_TYPES)]
            if bad:
                raise ValueError(f"method {self.name!r}: settings {bad} need a lower-case name and a number, "
                                 "string, bool or None as default")

    def setting_names(self) -> tuple[str, ...]:
        """The names of the method's own settings (empty for a method without any)."""
        return tuple(f.name for f in dataclasses.fields(self.settings)) if self.settings is not None else ()

    def default_settings(self) -> dict[str, Any]:
        """The method's settings at their defaults, as ``RunConfig.settings`` holds them."""
        return dataclasses.asdict(self.settings()) if self.settings is not None else {}

    def read_settings(self, cfg: RunConfig) -> Any:
        """The method's ``Settings`` of a config (``cfg.settings`` over the defaults), types and ranges
        checked; None for a method without settings. ValueError naming the setting otherwise."""
        values = cfg.settings if isinstance(cfg, RunConfig) else None
        if not isinstance(values, dict):
            raise TypeError(f"read_settings expects a coral_lab RunConfig, got {type(cfg).__name__}")
        unknown = sorted(set(values) - set(self.setting_names()))
        if unknown:
            valid = list(self.setting_names())
            raise ValueError(f"method {self.name!r} has no setting(s) {['settings.' + k for k in unknown]}; "
                             + (f"its settings: {valid}" if valid else "it has no settings of its own")
                             + " (a config's settings are its method's: set the method first, then them)")
        if self.settings is None:
            return None
        settings = self.settings(**values)
        check_types(settings, "settings.")
        check = getattr(settings, "check", None)
        if check is not None:
            check()
        return settings

"""What the toolkit knows of a pretraining method, kept beside the method's class: one ``Method`` entry.

Each method module (``coral_lab.methods.coral``, ``clip``, ``comm``, ``infmasking``, ``factorcl``) ends
with its ``METHOD``; ``coral_lab.methods.METHODS`` collects them, and everything else is derived from
that registry: the command line's ``--method`` choices, the names tables print, the optimiser applied
at the paper preset, the probe's subspace names and the checks of the method's own settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields

from torch import nn

from coral_lab.config.sections import BaselineConfig

__all__ = ["Method"]

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_BASELINE_FIELDS = frozenset(f.name for f in fields(BaselineConfig))


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
        settings: the fields of the config's ``baseline`` section this method reads (its own settings).
        check_settings: range checks of those fields; raises ValueError naming the field.
    """

    name: str
    display_name: str
    model: type[nn.Module]
    published_optimiser: tuple[float, float] | None = None
    settings: tuple[str, ...] = ()
    check_settings: Callable[[BaselineConfig], None] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"a method's name must be lower case letters, digits and _, got {self.name!r}")
        if not isinstance(self.display_name, str) or not self.display_name:
            raise ValueError(f"method {self.name!r} needs a display name")
        missing = [a for a in ("from_config", "training_loss", "subspace_names") if not hasattr(self.model, a)]
        if not isinstance(self.model, type) or missing:
            raise TypeError(f"method {self.name!r}: the model must be a class with {missing or 'from_config'}")
        unknown = sorted(set(self.settings) - _BASELINE_FIELDS)
        if unknown:
            raise ValueError(f"method {self.name!r} names settings {unknown} that the baseline section lacks")
        if self.published_optimiser is not None and len(self.published_optimiser) != 2:
            raise ValueError(f"method {self.name!r}: published_optimiser is (lr, weight decay)")

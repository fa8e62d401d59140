"""The type checker of config trees: every field's value against its annotation (``check_types``)."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any


def _type_text(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a) for a in args)
    if hint is type(None):
        return "None"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of {_type_text(args[0])}"
        return f"a tuple of {len(args)} ({', '.join(_type_text(a) for a in args)})"
    if hint is float:
        return "a finite number"
    return {int: "an int", bool: "true or false", str: "a string", dict: "a mapping"}.get(origin or hint, str(hint))


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True  # a type this check does not know: left to the range checks


def check_types(obj: Any, where: str = "") -> None:
    """Every field of a config dataclass (and of its nested sections) has its annotated type.

    Raises ``ValueError`` naming the field, the type it needs and the value it got, e.g.
    ``train.epochs must be an int, got 'abc'``. Fields named ``*_p`` are probabilities: also in [0, 1].
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value, name = getattr(obj, f.name), f"{where}{f.name}"
        if dataclasses.is_dataclass(value):
            check_types(value, name + ".")
            continue
        hint = hints[f.name]
        if not _matches(value, hint):
            raise ValueError(f"{name} must be {_type_text(hint)}, got {value!r}; fix it with --set {name}=<value> "
                             "or in the config file")
        if f.name.endswith("_p") and not 0 <= value <= 1:
            raise ValueError(f"{name} is a probability and must be in [0, 1], got {value!r}")

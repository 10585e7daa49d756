"""Ablation ladders over frozen config dataclasses: each rung changes exactly one field.

``ladder(base, steps)`` gives the cumulative sequence an ablation table reads down
(Hassanpour et al.'s BL → +GN → +OBS → +WS → +AM → +PA → +SAT): rung k is rung k − 1
with one field changed. ``one_at_a_time(base, steps)`` gives each change applied to
``base`` alone (their Table 8). A step that changes no field, several fields, or a field the
config does not have is an error, so a table row's label cannot lie about what it changed.
"""
from __future__ import annotations

import dataclasses
from typing import Any, List, Sequence, Tuple, TypeVar

from tfdpfair.errors import InputError

Config = TypeVar("Config")
Step = Tuple[str, str, Any]  # (label, field name, new value)


def _check_base(base: Any) -> None:
    if not dataclasses.is_dataclass(base) or isinstance(base, type):
        raise InputError(f"an ablation needs a dataclass instance as its base, got {type(base).__name__}")


def _apply(config: Config, step: Step) -> Config:
    label, field, value = step
    names = {f.name for f in dataclasses.fields(config)}
    if field not in names:
        raise InputError(f"ablation step {label!r} changes {field!r}, which {type(config).__name__} does not have; "
                         f"fields: {', '.join(sorted(names))}")
    if getattr(config, field) == value:
        raise InputError(f"ablation step {label!r} sets {field} to {value!r}, which it already is: the step would "
                         "change nothing")
    return dataclasses.replace(config, **{field: value})


def _check_labels(base_label: str, steps: Sequence[Step]) -> None:
    labels = [base_label] + [s[0] for s in steps]
    if len(set(labels)) != len(labels):
        raise InputError(f"ablation labels must be distinct, got {labels}")


def ladder(base: Config, steps: Sequence[Step], *, base_label: str = "BL") -> List[Tuple[str, Config]]:
    """[(base_label, base), (label_1, base + change_1), (label_2, base + change_1 + change_2), …]."""
    _check_base(base)
    _check_labels(base_label, steps)
    rungs = [(base_label, base)]
    for step in steps:
        rungs.append((step[0], _apply(rungs[-1][1], step)))
    return rungs


def one_at_a_time(base: Config, steps: Sequence[Step], *, base_label: str = "BL") -> List[Tuple[str, Config]]:
    """[(base_label, base), (label_1, base + change_1), (label_2, base + change_2), …]."""
    _check_base(base)
    _check_labels(base_label, steps)
    return [(base_label, base)] + [(step[0], _apply(base, step)) for step in steps]


def changed_fields(before: Any, after: Any) -> List[str]:
    """Names of the fields whose values differ between two instances of one dataclass."""
    if type(before) is not type(after):
        raise InputError(f"cannot compare a {type(before).__name__} with a {type(after).__name__}")
    return [f.name for f in dataclasses.fields(before) if getattr(before, f.name) != getattr(after, f.name)]

"""Ablation ladders: one field per rung, cumulative or alone, and loud errors."""
import dataclasses
from typing import Optional

import pytest

from tfdpfair.ablation import changed_fields, ladder, one_at_a_time
from tfdpfair.errors import InputError


@dataclasses.dataclass(frozen=True)
class Recipe:
    norm: str = "batch"
    batch_size: int = 32
    ema_decay: Optional[float] = None


STEPS = [("+GN", "norm", "group"), ("+OBS", "batch_size", 4096), ("+PA", "ema_decay", 0.999)]


def test_each_rung_changes_exactly_one_field_and_keeps_the_earlier_ones():
    rungs = ladder(Recipe(), STEPS)
    assert [label for label, _ in rungs] == ["BL", "+GN", "+OBS", "+PA"]
    assert [changed_fields(a, b) for (_, a), (_, b) in zip(rungs, rungs[1:])] == [["norm"], ["batch_size"],
                                                                                  ["ema_decay"]]
    assert rungs[-1][1] == Recipe(norm="group", batch_size=4096, ema_decay=0.999)


def test_one_at_a_time_applies_each_change_to_the_base_alone():
    rungs = one_at_a_time(Recipe(), STEPS)
    assert [changed_fields(Recipe(), c) for _, c in rungs] == [[], ["norm"], ["batch_size"], ["ema_decay"]]


def test_loud_errors():
    with pytest.raises(InputError, match="does not have; fields: batch_size, ema_decay, norm"):
        ladder(Recipe(), [("+WS", "weight_standardization", True)])
    with pytest.raises(InputError, match="would change nothing"):
        ladder(Recipe(), [("+GN", "norm", "group"), ("+GN again", "norm", "group")])
    with pytest.raises(InputError, match="distinct"):
        ladder(Recipe(), [("BL", "norm", "group")])
    with pytest.raises(InputError, match="dataclass instance"):
        ladder(Recipe, STEPS)

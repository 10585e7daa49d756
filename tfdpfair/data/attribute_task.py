"""CelebA as a multi-attribute task with gender as the protected attribute (Wang et al. 2020; Hassanpour et al. §5).

Targets: every binary attribute except the gender one (``Male``), minus those that the
validation or the test set cannot score: an attribute is kept when, in *both* sets, each
gender has at least ``min_per_gender`` positive and as many negative images (the
gender-weighted AP needs positives of both genders; an attribute with none cannot be
ranked). On the full CelebA this keeps 34 of 39 in the papers; on smaller sets it keeps
fewer, and ``AttributeTask.dropped`` says which and why.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

import numpy as np

from tfdpfair.data.dataset import Dataset
from tfdpfair.errors import InputError

GENDER = "Male"


@dataclasses.dataclass(frozen=True)
class AttributeTask:
    """Which attributes a CelebA model predicts, and why the others are left out.

    Attributes:
      attributes: the kept attribute names, in the dataset's order.
      dropped: attribute name → reason, for every non-gender attribute left out.
    """

    attributes: Tuple[str, ...]
    dropped: Dict[str, str]

    def targets(self, data: Dataset) -> np.ndarray:
        """(N, attributes) 0/1 float32 targets of ``data``."""
        return np.stack([data.attribute(a) for a in self.attributes], axis=1).astype(np.float32)


def is_woman(data: Dataset) -> np.ndarray:
    """(N,) 1 for images labelled not ``Male``, else 0 (CelebA's only gender annotation)."""
    return (1 - data.attribute(GENDER)).astype(np.int8)


def _shortfall(data: Dataset, name: str, min_per_gender: int) -> str:
    column, women = data.attribute(name), is_woman(data).astype(bool)
    for gender, mask in (("women", women), ("men", ~women)):
        for label, value in (("positive", 1), ("negative", 0)):
            n = int(np.sum(column[mask] == value))
            if n < min_per_gender:
                return f"{n} {label} {gender} in {data.split} (< {min_per_gender})"
    return ""


def attribute_task(*, validation: Dataset, test: Dataset, min_per_gender: int = 1) -> AttributeTask:
    """The attributes both ``validation`` and ``test`` can score (see the module docstring)."""
    if min_per_gender < 1:
        raise InputError(f"min_per_gender must be >= 1, got {min_per_gender}")
    if GENDER not in validation.attr_names or GENDER not in test.attr_names:
        raise InputError(f"the datasets need a {GENDER!r} attribute (CelebA's gender label)")
    kept, dropped = [], {}
    for name in validation.attr_names:
        if name == GENDER:
            continue
        reason = _shortfall(validation, name, min_per_gender) or _shortfall(test, name, min_per_gender)
        if reason:
            dropped[name] = reason
        else:
            kept.append(name)
    if not kept:
        raise InputError("no attribute has enough images of both genders in the validation and test sets")
    return AttributeTask(tuple(kept), dropped)

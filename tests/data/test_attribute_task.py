"""CelebA's multi-attribute task: which attributes are kept, and why the others are dropped."""
import numpy as np
import pytest

from tfdpfair.data import Dataset
from tfdpfair.data.attribute_task import attribute_task, is_woman
from tfdpfair.errors import InputError

NAMES = ("Bald", "Male", "Smiling", "Wearing_Lipstick")


def _split(split, rows):
    attrs = np.array(rows, np.int8)
    return Dataset("celeb_a", split, np.zeros((len(attrs), 2, 2, 3), np.uint8), None, "test", attrs=attrs,
                   attr_names=NAMES)


# columns: Bald, Male, Smiling, Wearing_Lipstick
VALIDATION = _split("validation", [[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 1, 1]])
TEST = _split("test", [[0, 1, 1, 0], [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0], [1, 1, 0, 1]])


def test_keeps_what_both_sets_can_score_and_says_why_not():
    task = attribute_task(validation=VALIDATION, test=TEST)
    # Bald: no bald women in either set; Lipstick: in validation, one man with lipstick and two without,
    # women 2 with and 1 without → kept; Smiling: both genders both ways in both sets → kept
    assert task.attributes == ("Smiling", "Wearing_Lipstick")
    assert set(task.dropped) == {"Bald"} and "0 positive women in validation" in task.dropped["Bald"]
    np.testing.assert_array_equal(task.targets(VALIDATION), VALIDATION.attrs[:, [2, 3]].astype(np.float32))


def test_a_higher_minimum_drops_more():
    # test has one smiling man and one woman without lipstick: at 2 per gender nothing is left
    with pytest.raises(InputError, match="no attribute has enough images"):
        attribute_task(validation=VALIDATION, test=TEST, min_per_gender=2)


def test_gender_is_the_male_attribute_negated():
    np.testing.assert_array_equal(is_woman(VALIDATION), [0, 0, 1, 1, 1, 0])


def test_errors():
    with pytest.raises(InputError, match="min_per_gender"):
        attribute_task(validation=VALIDATION, test=TEST, min_per_gender=0)
    no_gender = Dataset("celeb_a", "test", np.zeros((1, 2, 2, 3), np.uint8), None, "t", attrs=np.zeros((1, 1), np.int8),
                        attr_names=("Bald",))
    with pytest.raises(InputError, match="'Male'"):
        attribute_task(validation=no_gender, test=no_gender)

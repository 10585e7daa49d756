"""The imbalanced-subset builder: exact counts, disjointness, determinism, clear errors."""
import numpy as np
import pytest

from tfdpfair.data import Dataset, SubsetError, cell_counts, imbalanced_split

ATTRS = ("Male", "Smiling", "Young")


def _pool(n=4000, seed=0, male_rate=0.45):
    rng = np.random.default_rng(seed)
    attrs = np.stack([rng.random(n) < male_rate, rng.random(n) < 0.5, rng.random(n) < 0.7], axis=1).astype(np.int8)
    x = np.arange(n, dtype=np.int64).reshape(n, 1, 1, 1)  # each image encodes its pool index
    x = np.concatenate([x % 256, (x // 256) % 256, x * 0], axis=-1).astype(np.uint8)
    return Dataset("celeb_a", "train", x, None, "test:pool", attrs=attrs, attr_names=ATTRS)


def _index(ds):
    return ds.x[:, 0, 0, 0].astype(np.int64) + 256 * ds.x[:, 0, 0, 1].astype(np.int64)


@pytest.mark.parametrize("share,n,expected", [
    (0.999, 30_000, {(0, 1): 14_985, (0, 0): 14_985, (1, 1): 15, (1, 0): 15}),
    (0.99, 30_000, {(0, 1): 14_850, (0, 0): 14_850, (1, 1): 150, (1, 0): 150}),
    (0.9, 30_000, {(0, 1): 13_500, (0, 0): 13_500, (1, 1): 1_500, (1, 0): 1_500}),
    (0.7, 30_000, {(0, 1): 10_500, (0, 0): 10_500, (1, 1): 4_500, (1, 0): 4_500}),
    (0.999, 3_600, {(0, 1): 1_798, (0, 0): 1_798, (1, 1): 2, (1, 0): 2}),
    (0.7, 101, {(0, 1): 36, (0, 0): 35, (1, 1): 15, (1, 0): 15}),
    (0.9, 35, {(0, 1): 16, (0, 0): 16, (1, 1): 2, (1, 0): 1}),
])
def test_cell_counts_are_exact_and_match_the_papers_splits(share, n, expected):
    counts = cell_counts(train_size=n, majority_share=share)
    assert counts == expected
    assert sum(counts.values()) == n


def test_cell_counts_keep_the_target_balanced_overall():
    for n in range(2, 200, 7):
        for share in (0.5, 0.7, 0.9, 0.999, 1.0):
            c = cell_counts(train_size=n, majority_share=share)
            assert sum(c.values()) == n and min(c.values()) >= 0
            assert c[(0, 1)] + c[(1, 1)] == (n + 1) // 2
            assert abs(c[(1, 1)] - c[(1, 0)]) <= 1 and abs(c[(0, 1)] - c[(0, 0)]) <= 1


def test_split_has_the_requested_counts_disjoint_and_balanced_eval():
    pool = _pool()
    split = imbalanced_split(pool, target="Smiling", group="Male", train_size=1000, majority_share=0.9,
                             eval_size=400, seed=3)
    assert len(split.train) == 1000 and len(split.eval) == 400
    for ds, expected in ((split.train, split.train_counts), (split.eval, split.eval_counts)):
        male, smile = ds.attribute("Male"), ds.attribute("Smiling")
        got = {(g, t): int(np.sum((male == g) & (smile == t))) for g in (0, 1) for t in (0, 1)}
        assert got == expected
        np.testing.assert_array_equal(ds.y, smile)
    assert split.eval_counts == {(g, t): 100 for g in (0, 1) for t in (0, 1)}
    assert split.minority_share() == pytest.approx(0.1)
    train_idx, eval_idx = _index(split.train), _index(split.eval)
    assert len(set(train_idx)) == 1000 and not set(train_idx) & set(eval_idx)
    # the rows carry their own attributes (no misalignment between x and attrs)
    np.testing.assert_array_equal(pool.attrs[train_idx], split.train.attrs)
    assert split.train.num_classes == 2 and split.train.class_names == ("not Smiling", "Smiling")


def test_same_seed_same_split_and_eval_set_shared_across_imbalance_levels():
    pool = _pool()
    kw = dict(target="Smiling", group="Male", train_size=800, eval_size=200)
    a = imbalanced_split(pool, majority_share=0.9, seed=1, **kw)
    b = imbalanced_split(pool, majority_share=0.9, seed=1, **kw)
    np.testing.assert_array_equal(_index(a.train), _index(b.train))
    c = imbalanced_split(pool, majority_share=0.7, seed=1, **kw)
    assert set(_index(a.eval)) == set(_index(c.eval))
    d = imbalanced_split(pool, majority_share=0.9, seed=2, **kw)
    assert set(_index(a.train)) != set(_index(d.train))


def test_generic_over_attributes_and_majority_value():
    split = imbalanced_split(_pool(), target="Young", group="Smiling", train_size=500, majority_share=0.8,
                             majority_value=1, eval_size=100)
    assert int(np.sum(split.train.attribute("Smiling") == 1)) == 400
    np.testing.assert_array_equal(split.train.y, split.train.attribute("Young"))


def test_errors_say_what_is_missing():
    pool = _pool(n=1000)
    with pytest.raises(SubsetError, match=r"Male=1, Smiling=1: has 224, needs 248 \(10 evaluation \+ 238 training\)"):
        imbalanced_split(pool, target="Smiling", group="Male", train_size=950, majority_share=0.5, eval_size=40)
    with pytest.raises(SubsetError, match="no attribute 'Smile'; known: Male, Smiling, Young"):
        imbalanced_split(pool, target="Smile", group="Male", train_size=10, majority_share=0.9, eval_size=8)
    with pytest.raises(SubsetError, match="multiple of 4"):
        imbalanced_split(pool, target="Smiling", group="Male", train_size=10, majority_share=0.9, eval_size=10)
    with pytest.raises(SubsetError, match=r"majority_share must be in \[0.5, 1\]"):
        imbalanced_split(pool, target="Smiling", group="Male", train_size=10, majority_share=0.3, eval_size=8)
    with pytest.raises(SubsetError, match="different attributes"):
        imbalanced_split(pool, target="Male", group="Male", train_size=10, majority_share=0.9, eval_size=8)


def test_the_offline_celeba_subset_supports_the_quick_preset(shared_data):
    from tfdpfair.data import load

    pool = load("celeb_a", "train", data_dir=str(shared_data), source="npz")
    for share in (0.999, 0.99, 0.9, 0.8, 0.7):
        split = imbalanced_split(pool, target="Smiling", group="Male", train_size=3600, majority_share=share,
                                 eval_size=1000)
        assert len(split.train) == 3600
    with pytest.raises(SubsetError, match="Male=0, Smiling=0: has 2121, needs 2248"):
        imbalanced_split(pool, target="Smiling", group="Male", train_size=4000, majority_share=0.999, eval_size=1000)

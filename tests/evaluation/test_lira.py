import dataclasses
import time
import warnings

import numpy as np
import pytest
from scipy.special import softmax

from tfdpfair import data, models
from tfdpfair.errors import InputError
from tfdpfair.evaluation import lira
from tfdpfair.evaluation.lira import (ShadowModels, classifier_trainer, keep_matrix, lira_scores, memorization,
                                      memorization_bins, query_views, run_lira, statistic, tpr_at_fpr,
                                      tpr_by_memorization, train_shadow_models)
from tfdpfair.evaluation.membership import tf_privacy_tests
from tfdpfair.privacy import DPConfig
from tfdpfair.training import TrainConfig


def test_keep_matrix_is_balanced_and_seeded():
    keep = keep_matrix(models=8, examples=500, seed=3)
    assert keep.shape == (8, 500) and keep.dtype == bool
    np.testing.assert_array_equal(keep.sum(axis=0), 4)  # every example IN for exactly half of the models
    np.testing.assert_array_equal(keep, keep_matrix(models=8, examples=500, seed=3))
    assert not np.array_equal(keep, keep_matrix(models=8, examples=500, seed=4))
    assert 200 < keep[0].sum() < 300  # each model sees about half of the pool


@pytest.mark.parametrize("models_", [1, 3, 0, 2.0, True])
def test_keep_matrix_needs_an_even_number_of_models(models_):
    with pytest.raises(InputError, match="even integer"):
        keep_matrix(models=models_, examples=10, seed=0)


def test_query_views_flip_and_shift():
    x = np.arange(2 * 4 * 4).reshape(2, 4, 4, 1).astype(np.float32)
    original, flip = query_views(x, ("original", "flip"))
    np.testing.assert_array_equal(flip[0, :, 0, 0], x[0, :, 3, 0])
    views = query_views(x, ("original", "flip", "shift"))
    assert len(views) == 4
    np.testing.assert_array_equal(views[2][0, 2:, 2:, 0], x[0, :2, :2, 0])
    with pytest.raises(InputError):
        query_views(x, ("flip",))


def test_crops_are_demems_ten_queries_with_original_and_flip():
    # pad 4 with zeros, the four corner crops and their mirrors; the centre crop is the original itself
    x = np.arange(2 * 10 * 12 * 3).reshape(2, 10, 12, 3).astype(np.float32) + 1  # no pixel is 0
    views = query_views(x, ("original", "flip", "crops"))
    assert len(views) == 10 and all(v.shape == x.shape for v in views)
    top_left, top_left_flipped, top_right = views[2], views[3], views[4]
    assert (top_left[:, :4] == 0).all() and (top_left[:, :, :4] == 0).all()  # padding above and to the left
    np.testing.assert_array_equal(top_left[:, 4:, 4:], x[:, :6, :8])
    np.testing.assert_array_equal(top_left_flipped, top_left[:, :, ::-1])
    np.testing.assert_array_equal(top_right[:, 4:, :8], x[:, :6, 4:])  # moved left: padding on the right
    bottom_right = views[8]
    np.testing.assert_array_equal(bottom_right[:, :6, :8], x[:, 4:, 4:])
    assert len(query_views(x, ("original", "crops"))) == 5  # without flip: the original and four crops
    with pytest.raises(InputError, match="crops"):
        query_views(np.zeros((2, 10, 12)), ("original", "crops"))


def test_statistic_is_the_logit_of_the_true_class_probability():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 4, 3))
    labels = rng.integers(0, 3, 5)
    p = softmax(logits, axis=-1)[np.arange(5)[:, None], np.arange(4)[None, :], labels[:, None]]
    np.testing.assert_allclose(statistic(logits, labels[:, None]), np.log(p) - np.log(1 - p), rtol=1e-6)


def test_tpr_at_fpr_counts_by_hand_and_refuses_below_resolution():
    non_members = np.arange(100.0)  # 100 non-members: the smallest non-zero FPR is 1 %
    members = np.array([99.5, 98.5, 50.0])
    assert tpr_at_fpr(member_scores=members, non_member_scores=non_members, fpr=0.01) == pytest.approx(2 / 3)
    assert tpr_at_fpr(member_scores=members, non_member_scores=non_members, fpr=0.02) == pytest.approx(2 / 3)
    assert tpr_at_fpr(member_scores=members, non_member_scores=non_members, fpr=0.5) == pytest.approx(1.0)
    assert tpr_at_fpr(member_scores=members, non_member_scores=non_members, fpr=0.001) is None


def _synthetic_shadows(models=16, examples=300, *, shift=1.5, seed=0):
    keep = keep_matrix(models=models, examples=examples, seed=seed)
    rng = np.random.default_rng(seed)
    base = rng.normal(size=examples)[None, :, None]  # every example has its own difficulty
    stats = base + shift * keep[:, :, None] + 0.3 * rng.normal(size=(models, examples, 2))
    correct = rng.random((models, examples)) < np.where(keep, 0.9, 0.6)
    return ShadowModels(keep=keep, finished=np.arange(models), stats=stats.astype(np.float32), correct=correct,
                        queries=("original", "flip"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stacked_scores_equal_tf_privacy_on_ragged_lists_with_empty_and_nan_ones(dtype):
    """compute_score_lira_stacked = TF Privacy's compute_score_lira, exactly: shadow counts 0-6 per example
    (so several stacks, and empty lists filled in by TF Privacy's column mean), NaN statistics, all-NaN lists, every
    option, per-example and fixed variance."""
    rng = np.random.default_rng(7)
    n, k = 120, 3

    def lists():
        made = [rng.normal(size=(rng.integers(0, 7), k)).astype(dtype) for _ in range(n)]
        made[3][:] = np.nan  # an all-NaN list (or an empty one)
        for values in made[10:20]:
            values[rng.random(values.shape) < 0.3] = np.nan
        return made

    target, stat_in, stat_out = rng.normal(size=(n, k)).astype(dtype), lists(), lists()
    assert {len(v) for v in stat_in} == set(range(7))
    advanced_mia = tf_privacy_tests().advanced_mia
    for option in ("both", "in", "out"):
        for fixed in (False, True):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                direct = advanced_mia.compute_score_lira(target, stat_in, stat_out, option=option,
                                                         fix_variance=fixed)
            ours = lira.compute_score_lira_stacked(target, stat_in, stat_out, option=option, fix_variance=fixed)
            assert ours.dtype == direct.dtype and np.isfinite(ours).all()
            np.testing.assert_array_equal(ours, direct, err_msg=f"{option}, fix_variance={fixed}")
    with pytest.raises(ValueError, match="option"):
        lira.compute_score_lira_stacked(target, stat_in, stat_out, option="median")
    with pytest.raises(ValueError, match="2-d array with 3 columns"):  # as TF Privacy refuses them
        lira.compute_score_lira_stacked(target, [values.ravel() for values in stat_in], stat_out)


def test_lira_scores_equal_a_direct_tf_privacy_call():
    shadows = _synthetic_shadows()
    target = 5
    others = [k for k in range(16) if k != target]
    stat_in = [shadows.stats[others][shadows.keep[others, i], i] for i in range(300)]
    stat_out = [shadows.stats[others][~shadows.keep[others, i], i] for i in range(300)]
    advanced_mia = tf_privacy_tests().advanced_mia
    for online, option in ((True, "both"), (False, "out")):
        for fixed in (False, True):
            direct = advanced_mia.compute_score_lira(shadows.stats[target], stat_in, stat_out, option=option,
                                                     fix_variance=fixed)
            np.testing.assert_allclose(lira_scores(shadows, target=target, online=online, fix_variance=fixed,
                                                   equal_counts=False), -direct)
    auto = advanced_mia.compute_score_lira(shadows.stats[target], stat_in, stat_out, fix_variance=True)
    np.testing.assert_allclose(lira_scores(shadows, target=target, equal_counts=False), -auto)  # 15 shadows: fixed variance
    # the default: TF Privacy's score on equally many IN and OUT shadows per example (7 and 7 of the 15)
    rng = np.random.default_rng([lira.EQUAL_COUNT_SEED, target])
    equal_in, equal_out = lira.equal_count_shadows(stat_in, stat_out, rng=rng)
    assert {len(v) for v in equal_in} == {len(v) for v in equal_out} == {7}
    equal = advanced_mia.compute_score_lira(shadows.stats[target], equal_in, equal_out, fix_variance=True)
    np.testing.assert_allclose(lira_scores(shadows, target=target), -equal)
    assert not np.allclose(equal, auto)


def test_equal_count_shadows_keep_a_random_subset_of_the_larger_side():
    stat_in = [np.arange(3.0)[:, None], np.arange(5.0)[:, None], np.zeros((0, 1)), np.arange(2.0)[:, None]]
    stat_out = [np.arange(10.0, 15.0)[:, None], np.arange(10.0, 12.0)[:, None], np.ones((4, 1)),
                np.arange(10.0, 12.0)[:, None]]
    new_in, new_out = lira.equal_count_shadows(stat_in, stat_out, rng=np.random.default_rng(0))
    assert [len(v) for v in new_in] == [3, 2, 0, 2] and [len(v) for v in new_out] == [3, 2, 4, 2]
    assert new_in[0] is stat_in[0] and new_out[1] is stat_out[1] and new_out[2] is stat_out[2]  # untouched sides
    assert set(new_out[0].ravel()) < set(stat_out[0].ravel()) and set(new_in[1].ravel()) < set(stat_in[1].ravel())
    draws = {tuple(lira.equal_count_shadows(stat_in, stat_out, rng=np.random.default_rng(s))[1][0].ravel())
             for s in range(20)}
    assert len(draws) > 1  # which shadows are dropped is random
    offline_in, offline_out = lira.equal_count_shadows(stat_in, stat_out, rng=np.random.default_rng(0), online=False)
    assert [len(v) for v in offline_out] == [2, 2, 2, 2] and all(a is b for a, b in zip(offline_in, stat_in))


def test_lira_without_a_membership_signal_is_at_chance_only_on_equal_counts():
    """8 models, statistics independent of membership; 4 targets × 2,000 examples (std of the mean AUC ≈ 0.007)."""
    models, examples, targets = 8, 2000, [0, 1, 2, 3]
    keep = keep_matrix(models=models, examples=examples, seed=1)
    rng = np.random.default_rng(1)
    stats = (rng.normal(size=(1, examples, 1)) + 0.3 * rng.normal(size=(models, 1, 1))  # examples', models' levels
             + 0.3 * rng.normal(size=(models, examples, 2)))
    shadows = ShadowModels(keep=keep, finished=np.arange(models), stats=stats.astype(np.float32),
                           correct=np.ones((models, examples), bool), queries=("original", "flip"))
    for online in (True, False):
        assert abs(run_lira(shadows, targets=targets, online=online).auc - 0.5) < 0.025  # 3.5 std
        # on every shadow a member has 3 IN and 4 OUT (a non-member 4 and 3): biased against members
        assert run_lira(shadows, targets=targets, online=online, equal_counts=False).auc < 0.48


def test_lira_separates_members_when_in_and_out_differ():
    result = run_lira(_synthetic_shadows(), targets=[0, 1, 2])
    assert result.auc > 0.9
    assert len(result.per_target) == 3 and result.scores.shape == (3, 300)
    assert result.tpr_at_fpr[0.01] is not None and result.tpr_at_fpr[0.01] > 0.2
    assert result.tpr_at_fpr[0.001] is None and result.tpr_at_fpr[0.00001] is None  # ≈150 non-members per target
    assert result.pooled_tpr_at_fpr[0.001] is None  # 450 pooled non-member scores: 1/450 > 0.1 %
    assert result.pooled_tpr_at_fpr[0.01] is not None
    offline = run_lira(_synthetic_shadows(), targets=[0, 1, 2], online=False)
    assert offline.variant == "offline" and offline.auc > 0.8
    null = run_lira(_synthetic_shadows(shift=0.0), targets=[0, 1, 2, 3])
    assert abs(null.auc - 0.5) < 0.06  # nothing to find: chance (4 targets × 300 examples)
    grid, tpr = result.roc
    assert grid[0] == pytest.approx(1 / min((~_synthetic_shadows().keep[:3]).sum(axis=1))) and grid[-1] == 1
    assert np.all(np.diff(tpr) >= -1e-12)


def test_memorization_by_hand_and_its_bins():
    keep = np.array([[True, True, True, False], [False, False, True, True]])
    correct = np.array([[True, True, True, True], [False, True, True, False]])
    shadows = ShadowModels(keep=keep, finished=np.arange(2), stats=np.zeros((2, 4, 1)), correct=correct,
                           queries=("original",))
    mem = memorization(shadows)
    # example 0: IN model 0 (correct), OUT model 1 (wrong) → 1; example 1: correct either way → 0;
    # example 2: IN for both → no OUT estimate; example 3: IN model 1 (wrong), OUT model 0 (correct) → −1
    np.testing.assert_array_equal(mem[[0, 1, 3]], [1.0, 0.0, -1.0])
    assert np.isnan(mem[2])
    index, labels = memorization_bins(np.array([1.0, 0.0, np.nan, -0.3, 0.03, 0.05, 0.051]))
    np.testing.assert_array_equal(index, [20, 0, -1, 0, 1, 1, 2])
    assert len(labels) == 21 and labels[0] == "≤ 0" and labels[20] == "(0.95, 1.00]"


def test_tpr_by_memorization_bins_sum_to_the_members():
    shadows = _synthetic_shadows()
    result = run_lira(shadows, targets=[0, 1])
    table = tpr_by_memorization(shadows, result, fpr=0.01)
    assert len(table) == 21 and table["examples"].sum() == 300
    assert table["members"].sum() == shadows.keep[[0, 1]].sum()
    below = tpr_by_memorization(shadows, result, fpr=0.0001)
    assert below["tpr"].isna().all()


def test_tpr_by_memorization_by_hand():
    """4 models, 4 examples; target 0 (members: examples 0 and 1). Memorization without model 0: example 0 is right
    only when IN (mem 1, bin 20), example 1 always right (mem 0, bin 0). Non-member scores of target 0: 0.0 and
    0.5; at FPR 0.5 one false positive is allowed, so the threshold is 0.0: member 0 (score 1.0) is a hit,
    member 1 (score −1.0) is not."""
    keep = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]], bool)
    correct = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]], bool)
    shadows = ShadowModels(keep=keep, finished=np.arange(4), stats=np.zeros((4, 4, 1)), correct=correct,
                           queries=("original",))
    import pandas as pd

    from tfdpfair.evaluation.lira import LiraResult

    result = LiraResult(variant="online", per_target=pd.DataFrame({"target": [0]}), auc=1.0, auc_std=0.0,
                        tpr_at_fpr={}, pooled_tpr_at_fpr={}, roc=(np.ones(1), np.ones(1)),
                        scores=np.array([[1.0, -1.0, 0.0, 0.5]]))
    table = tpr_by_memorization(shadows, result, fpr=0.5)
    assert table.loc[20, "members"] == 1 and table.loc[20, "tpr"] == 1.0
    assert table.loc[0, "members"] == 1 and table.loc[0, "tpr"] == 0.0
    assert table["members"].sum() == 2
    assert table.loc[0, "examples"] == 3 and table.loc[20, "examples"] == 1


def test_bins_from_another_pool_and_accuracy_by_memorization_by_hand():
    """The hand case above, binned instead by a reference pool where example 1 is memorized (right only when IN):
    target 0's member example 1 moves to bin 20. Accuracy per bin: target 0's non-members are examples 2 and 3."""
    keep = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]], bool)
    correct = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]], bool)
    shadows = ShadowModels(keep=keep, finished=np.arange(4), stats=np.zeros((4, 4, 1)), correct=correct,
                           queries=("original",))
    reference_correct = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]], bool)  # right iff IN
    reference = dataclasses.replace(shadows, correct=reference_correct)
    import pandas as pd

    from tfdpfair.evaluation.lira import LiraResult, accuracy_by_memorization

    result = LiraResult(variant="online", per_target=pd.DataFrame({"target": [0]}), auc=1.0, auc_std=0.0,
                        tpr_at_fpr={}, pooled_tpr_at_fpr={}, roc=(np.ones(1), np.ones(1)),
                        scores=np.array([[1.0, -1.0, 0.0, 0.5]]))
    table = tpr_by_memorization(shadows, result, fpr=0.5, bins_from=reference)
    assert table.loc[20, "members"] == 2 and table.loc[20, "tpr"] == 0.5 and table.loc[0, "members"] == 0
    accuracy = accuracy_by_memorization(shadows, targets=[2], bins_from=reference)
    # target 2 (model 2) did not train on examples 0 and 2, both memorized in the reference (bin 20); it gets 2 right
    assert accuracy.loc[20, "examples"] == 2 and accuracy.loc[20, "accuracy"] == 0.5
    own = accuracy_by_memorization(shadows, targets=[0])  # bins from the other models of this pool
    assert own["examples"].sum() == 2 and own.loc[own["examples"] > 0, "accuracy"].tolist() == [1.0]
    with pytest.raises(InputError, match="same examples"):
        tpr_by_memorization(shadows, result, bins_from=dataclasses.replace(shadows, keep=keep[::-1]))


def test_flip_is_refused_for_inputs_that_are_not_images():
    with pytest.raises(InputError, match="not images"):
        query_views(np.zeros((5, 3)), ("original", "flip"))


# --- end to end on tiny Keras models ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def pool():
    train = data.load("digits", "train")
    return train.as_float()[:300], train.y[:300]


def _trainer():
    return classifier_trainer(build=lambda: models.get("mlp", input_shape=(8, 8, 1), num_classes=10,
                                                       hidden_units=(64,)),
                              dp=DPConfig().disabled(), train=TrainConfig(batch_size=25, epochs=20, learning_rate=0.5),
                              seed=0)


def test_lira_smoke_run_end_to_end(pool, tmp_path):
    x, y = pool
    start = time.perf_counter()
    shadows = train_shadow_models(x=x, y=y, train_fn=_trainer(), directory=tmp_path, models=4, seed=0, progress=None)
    seconds = time.perf_counter() - start
    assert shadows.finished.tolist() == [0, 1, 2, 3] and shadows.stats.shape == (4, 300, 2)
    result = run_lira(shadows)
    assert result.auc > 0.55  # over-fitted models leak membership even with 3 shadows
    mem = memorization(shadows)
    assert np.nanmean(mem) > 0  # being IN helps on average
    print(f"4 shadow models on 300 digits: {seconds:.1f} s")


def test_resume_after_a_crash_between_models_recomputes_nothing(pool, tmp_path):
    x, y = pool
    calls = []
    trainer = _trainer()

    def crashing(x_in, y_in, *, index):
        calls.append(index)
        if index == 2:
            raise RuntimeError("killed")
        return trainer(x_in, y_in, index=index)

    with pytest.raises(RuntimeError, match="killed"):
        train_shadow_models(x=x, y=y, train_fn=crashing, directory=tmp_path, models=4, seed=0, progress=None)
    stored = {k: (tmp_path / f"model_{k:04d}.npz").read_bytes() for k in (0, 1)}
    calls.clear()

    def counting(x_in, y_in, *, index):
        calls.append(index)
        return trainer(x_in, y_in, index=index)

    shadows = train_shadow_models(x=x, y=y, train_fn=counting, directory=tmp_path, models=4, seed=0, progress=None)
    assert calls == [2, 3]
    assert shadows.finished.tolist() == [0, 1, 2, 3]
    for k, content in stored.items():
        assert (tmp_path / f"model_{k:04d}.npz").read_bytes() == content
    # models addressable one by one (a cluster's job array): nothing left to do
    train_shadow_models(x=x, y=y, train_fn=counting, directory=tmp_path, models=4, seed=0, indices=[1],
                        progress=None)
    assert calls == [2, 3]


def test_a_folder_of_another_pool_or_setting_is_refused(pool, tmp_path):
    x, y = pool

    def never(*args, **kwargs):
        raise AssertionError("must not train")

    train_shadow_models(x=x, y=y, train_fn=never, directory=tmp_path, models=4, seed=0, indices=[], progress=None)
    with pytest.raises(InputError, match="another setting"):
        train_shadow_models(x=x, y=y, train_fn=never, directory=tmp_path, models=4, seed=1, indices=[], progress=None)
    with pytest.raises(InputError, match="pool"):
        train_shadow_models(x=x[::-1], y=y[::-1], train_fn=never, directory=tmp_path, models=4, seed=0, indices=[],
                            progress=None)
    with pytest.raises(InputError, match="outside"):
        train_shadow_models(x=x, y=y, train_fn=never, directory=tmp_path, models=4, seed=0, indices=[4],
                            progress=None)
    with pytest.raises(InputError, match="another setting"):
        train_shadow_models(x=x, y=y, train_fn=never, directory=tmp_path, models=4, seed=0, indices=[],
                            setting={"epochs": 3}, progress=None)


def test_a_truncated_model_file_is_named_and_a_stray_temporary_file_ignored(pool, tmp_path):
    x, y = pool
    trainer = _trainer()
    train_shadow_models(x=x, y=y, train_fn=trainer, directory=tmp_path, models=4, seed=0, indices=[0, 1])
    (tmp_path / ".model_0002.npz.tmp-1234").write_bytes(b"half")  # a writer killed before its rename
    shadows = train_shadow_models(x=x, y=y, train_fn=trainer, directory=tmp_path, models=4, seed=0, indices=[])
    assert shadows.finished.tolist() == [0, 1]
    content = (tmp_path / "model_0001.npz").read_bytes()
    (tmp_path / "model_0001.npz").write_bytes(content[: len(content) // 2])
    with pytest.raises(InputError, match="model_0001.npz is corrupt"):
        train_shadow_models(x=x, y=y, train_fn=trainer, directory=tmp_path, models=4, seed=0, indices=[])


def test_stored_logits_give_the_stored_statistics(pool, tmp_path):
    x, y = pool
    train_shadow_models(x=x, y=y, train_fn=_trainer(), directory=tmp_path, models=4, seed=0, indices=[0])
    with np.load(tmp_path / "model_0000.npz") as f:
        logits, stats, correct = f["logits"], f["stats"], f["correct"]
    assert logits.shape == (300, 2, 10) and logits.dtype == np.float16
    np.testing.assert_allclose(statistic(logits.astype(np.float64), y[:, None]), stats, atol=0.05)
    np.testing.assert_array_equal(np.argmax(logits[:, 0], axis=-1) == y, correct)
    train_shadow_models(x=x, y=y, train_fn=_trainer(), directory=tmp_path / "lean", models=4, seed=0, indices=[0],
                        keep_logits=False)
    with np.load(tmp_path / "lean" / "model_0000.npz") as f:
        assert "logits" not in f.files and f["stats"].shape == (300, 2)


def test_a_folder_stored_before_a_training_field_existed_is_reused(pool, tmp_path):
    import json

    x, y = pool

    def never(*args, **kwargs):
        raise AssertionError("must not train")

    never.setting = _trainer().setting
    train_shadow_models(x=x, y=y, train_fn=never, directory=tmp_path, models=4, seed=0, indices=[], progress=None)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    del manifest["setting"]["train"]["momentum"]  # as an older version of TrainConfig stored it
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    train_shadow_models(x=x, y=y, train_fn=never, directory=tmp_path, models=4, seed=0, indices=[], progress=None)
    manifest["setting"]["train"]["epochs"] = 3
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="another setting"):
        train_shadow_models(x=x, y=y, train_fn=never, directory=tmp_path, models=4, seed=0, indices=[], progress=None)


@pytest.mark.parametrize("secure", [False, True])
def test_classifier_trainer_draws_secure_noise_when_asked(secure, monkeypatch):
    # --secure-noise reaches each shadow model's streams (OS entropy for DP noise and sampling), and says so in the
    # stored setting, so that a pool trained without it is not resumed as if it had been
    import tfdpfair.training

    seen = []
    monkeypatch.setattr(tfdpfair.training, "train_classifier", lambda model, x, y, **kw: seen.append(kw["streams"]))
    trainer = classifier_trainer(build=lambda: models.get("mlp", input_shape=(8, 8, 1), num_classes=10,
                                                          hidden_units=(4,)),
                                 dp=DPConfig(), train=TrainConfig(batch_size=5, epochs=1), seed=3, name="pool",
                                 secure=secure)
    trainer(np.zeros((10, 8, 8, 1), np.float32), np.zeros(10, np.int64), index=7)
    (streams,) = seen
    assert streams.secure is secure and streams.name == "pool/7" and streams.seed == 3
    assert trainer.setting.get("secure", False) is secure
    draws = [streams.numpy_rng("noise", 0).standard_normal(4) for _ in range(2)]
    assert np.array_equal(*draws) is (not secure)


def _targets(separations, *, examples=2000, seed=0):
    """(scores, members): one row a target, members' scores shifted up by that target's separation."""
    rng = np.random.default_rng(seed)
    members = np.zeros((len(separations), examples), bool)
    members[:, : examples // 2] = True
    scores = rng.normal(size=members.shape) + np.asarray(separations, float)[:, None] * members
    return scores, members


def test_pooled_tpr_interval_collapses_for_identical_targets_and_widens_with_their_spread():
    from tfdpfair.evaluation.lira import pooled_tpr_intervals, tpr_at_fpr

    scores, members = _targets([1.5])
    same = pooled_tpr_intervals(scores=np.repeat(scores, 5, 0), members=np.repeat(members, 5, 0), fprs=[0.01])[0.01]
    point = tpr_at_fpr(member_scores=scores[members], non_member_scores=scores[~members], fpr=0.01)
    assert same == pytest.approx((point, point))  # every resample pools the same scores
    scores, members = _targets([1.5] * 6)
    alike = pooled_tpr_intervals(scores=scores, members=members, fprs=[0.01])[0.01]
    scores, members = _targets([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    apart = pooled_tpr_intervals(scores=scores, members=members, fprs=[0.01])[0.01]
    assert apart[0] < tpr_at_fpr(member_scores=scores[members], non_member_scores=scores[~members], fpr=0.01) < apart[1]
    assert apart[1] - apart[0] > 3 * (alike[1] - alike[0])


def test_pooled_tpr_interval_is_none_below_resolution_or_with_one_target_and_checks_its_input():
    from tfdpfair.evaluation.lira import pooled_tpr_intervals

    scores, members = _targets([1.0, 2.0], examples=200)  # 100 non-members a target: 200 pooled
    got = pooled_tpr_intervals(scores=scores, members=members, fprs=[0.1, 0.005, 0.001])
    assert got[0.001] is None and got[0.1][0] <= got[0.1][1] and got[0.005] is not None  # 1/200 resolves 0.5 %
    members[1, :30] = False  # target 1 has 130 non-members, target 0 still 100: a resample of target 0 twice has 200
    assert pooled_tpr_intervals(scores=scores, members=members, fprs=[0.005])[0.005] is not None
    members[0, 100:110] = True  # target 0 now 90: two draws of it pool 180 < 1/0.5 %, whatever the seed
    assert all(pooled_tpr_intervals(scores=scores, members=members, fprs=[0.005], seed=seed)[0.005] is None
               for seed in range(5))
    assert pooled_tpr_intervals(scores=scores[:1], members=members[:1], fprs=[0.1]) == {0.1: None}
    assert (pooled_tpr_intervals(scores=scores, members=members, fprs=[0.1], seed=3)
            == pooled_tpr_intervals(scores=scores, members=members, fprs=[0.1], seed=3))
    with pytest.raises(ValueError, match="same"):
        pooled_tpr_intervals(scores=scores, members=members[:, :10], fprs=[0.1])
    with pytest.raises(ValueError, match="confidence"):
        pooled_tpr_intervals(scores=scores, members=members, fprs=[0.1], confidence=1.0)


def test_pooled_tpr_difference_is_paired_by_target():
    from tfdpfair.evaluation.lira import pooled_tpr_difference, pooled_tpr_intervals

    # targets differ a lot from each other, and the treated setting is each target's scores with members lowered
    # a little: unpaired intervals overlap, the paired difference excludes 0
    base, members = _targets([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 1.2, 2.2])
    treated = base - 0.3 * members
    (diff, low, high), = pooled_tpr_difference(scores=treated, baseline_scores=base, members=members,
                                               fprs=[0.01]).values()
    assert low <= diff <= high < 0
    a = pooled_tpr_intervals(scores=treated, members=members, fprs=[0.01])[0.01]
    b = pooled_tpr_intervals(scores=base, members=members, fprs=[0.01])[0.01]
    assert a[1] > b[0]  # the unpaired intervals overlap
    same = pooled_tpr_difference(scores=base, baseline_scores=base, members=members, fprs=[0.01, 1e-5])
    assert same == {0.01: (0.0, 0.0, 0.0), 1e-5: None}


def test_run_lira_keeps_the_pooled_intervals():
    result = run_lira(_synthetic_shadows(), targets=[0, 1, 2])
    assert result.pooled_tpr_interval[0.001] is None  # as the pooled TPR: 450 scores do not resolve 0.1 %
    low, high = result.pooled_tpr_interval[0.01]
    assert 0 <= low <= high <= 1 and low - 0.05 < result.pooled_tpr_at_fpr[0.01] < high + 0.05

import numpy as np
import pytest

from tfdpfair import data
from tfdpfair.errors import InputError
from hypothesis import given, settings, strategies as st

from tfdpfair.evaluation.synthetic import (classifier_fid, confident_share, fid_from_features, frechet_distance,
                                           judge_classifier, label_kl, label_shares, real_vs_fake, tstr_auroc)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    mean_a, mean_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum(var_a + var_b - 2 * np.sqrt(var_a * var_b))
    got = frechet_distance(mean_a=mean_a, cov_a=np.diag(var_a), mean_b=mean_b, cov_b=np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_rotation_invariant_and_zero_for_equal():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    cov = a @ a.T
    assert frechet_distance(mean_a=np.ones(4), cov_a=cov, mean_b=np.ones(4), cov_b=cov) == pytest.approx(0, abs=1e-6)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    b = rng.normal(size=(4, 4))
    cov_b = b @ b.T
    d1 = frechet_distance(mean_a=np.zeros(4), cov_a=cov, mean_b=np.ones(4), cov_b=cov_b)
    d2 = frechet_distance(mean_a=np.zeros(4), cov_a=q @ cov @ q.T, mean_b=q @ np.ones(4), cov_b=q @ cov_b @ q.T)
    assert d1 == pytest.approx(d2, rel=1e-6)


def test_fid_from_samples_approaches_the_gaussian_value():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(20000, 2))
    fake = rng.normal(loc=[3.0, 0.0], scale=[1.0, 2.0], size=(20000, 2))
    assert fid_from_features(real=real, fake=fake) == pytest.approx(9.0 + (1 + 4 - 2 * 2), rel=0.03)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", "train"), data.load("digits", "test")


@pytest.mark.parametrize("classifier", ["logistic", "mlp"])
def test_tstr_auroc_on_real_digits_is_high_and_on_shuffled_labels_is_chance(classifier, digits):
    train, test = digits
    kw = dict(x_test=test.as_float(), y_test=test.y, classifier=classifier)
    assert tstr_auroc(x_train=train.as_float(), y_train=train.y, **kw) > 0.97
    shuffled = np.random.default_rng(0).permutation(train.y)
    assert tstr_auroc(x_train=train.as_float(), y_train=shuffled, **kw) < 0.65  # no signal: near chance
    with pytest.raises(ValueError, match="unknown classifier"):
        tstr_auroc(x_train=train.as_float(), y_train=train.y, x_test=test.as_float(), y_test=test.y,
                   classifier="svm")


def test_real_vs_fake_tells_noise_from_digits_but_not_digits_from_digits(digits):
    train, test = digits
    real, other = train.as_float()[:700], train.as_float()[700:1400]
    noise = np.random.default_rng(0).uniform(size=real.shape).astype(np.float32)
    obvious = real_vs_fake(real_train=real, fake_train=noise, real_test=test.as_float(),
                           fake_test=noise[: len(test)], epochs=10)
    same = real_vs_fake(real_train=real, fake_train=other, real_test=test.as_float()[:150],
                        fake_test=test.as_float()[150:300], epochs=10)
    assert obvious.accuracy > 0.95 and same.accuracy < 0.7
    assert obvious.fid > 10 * same.fid


@pytest.fixture(scope="module")
def judge(digits, tmp_path_factory):
    train, test = digits
    path = tmp_path_factory.mktemp("judge") / "judge.keras"
    kw = dict(x_train=train.as_float(), y_train=train.y, x_test=test.as_float(), y_test=test.y, model="mlp",
              epochs=10, learning_rate=0.5)
    return judge_classifier(path=path, **kw), path, kw


def test_the_judge_is_trained_once_and_refuses_other_data(judge):
    first, path, kw = judge
    assert first.accuracy > 0.85 and path.exists()
    again = judge_classifier(path=path, **kw)  # loaded, not retrained: the same weights
    assert again.accuracy == first.accuracy
    for a, b in zip(first.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="another setting"):
        judge_classifier(path=path, **{**kw, "y_train": np.roll(kw["y_train"], 1)})


def test_classifier_fid_is_small_for_real_digits_and_large_for_noise(judge, digits):
    model = judge[0].model
    train, test = digits
    real, other = train.as_float()[:700], train.as_float()[700:1400]
    noise = np.random.default_rng(0).uniform(size=real.shape).astype(np.float32)
    assert classifier_fid(judge=model, real=real, fake=real) == pytest.approx(0.0, abs=1e-6)
    same = classifier_fid(judge=model, real=real, fake=other)
    assert classifier_fid(judge=model, real=real, fake=noise) > 10 * same


def test_confident_share_counts_top_probabilities_above_the_threshold():
    from tfdpfair.compat import keras

    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(2, use_bias=False)(inputs))
    model.set_weights([np.array([[1.0, -1.0]])])  # logits (x, −x): top probability sigmoid(2|x|)
    x = np.array([[0.0], [0.5], [-1.0], [2.0]])  # top probabilities 0.5, 0.731, 0.881, 0.982
    assert confident_share(judge=model, images=x, threshold=0.9) == 0.25
    assert confident_share(judge=model, images=x, threshold=0.7) == 0.75
    with pytest.raises(ValueError, match="threshold"):
        confident_share(judge=model, images=x, threshold=1.0)


def test_real_digits_are_labelled_confidently_and_noise_is_not(judge, digits):
    model = judge[0].model
    noise = np.random.default_rng(1).uniform(size=(300, 8, 8, 1)).astype(np.float32)
    assert confident_share(judge=model, images=digits[1].as_float()) > 0.6
    assert confident_share(judge=model, images=noise) < confident_share(judge=model, images=digits[1].as_float()) - 0.3


def test_label_shares_are_the_judges_arg_max_labels_counted():
    from tfdpfair.compat import keras

    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(2, use_bias=False)(inputs))
    model.set_weights([np.array([[1.0, -1.0]])])  # logits (x, −x): class 0 for x > 0, class 1 for x < 0
    shares = label_shares(judge=model, images=np.array([[0.5], [-1.0], [2.0], [3.0]]))
    np.testing.assert_allclose(shares, [0.75, 0.25])
    np.testing.assert_allclose(label_shares(judge=model, images=np.array([[1.0], [2.0]])), [1.0, 0.0])


def test_label_kl_known_values_and_bad_input():
    assert label_kl(generated=np.array([0.1, 0.2, 0.7]), real=np.array([0.1, 0.2, 0.7])) == pytest.approx(0.0, abs=1e-12)
    # a generator of one class out of two equally common ones: KL = log 2; a dropped class keeps it finite
    assert label_kl(generated=np.array([1.0, 0.0]), real=np.array([0.5, 0.5])) == pytest.approx(np.log(2))
    # KL(p || q) = Σ p log(p / q), not symmetric
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    assert label_kl(generated=p, real=q) == pytest.approx(0.5 * np.log(2.5) + 0.2 * np.log(0.4))
    with pytest.raises(ValueError, match="every class present"):
        label_kl(generated=np.array([0.5, 0.5]), real=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="one length"):
        label_kl(generated=np.array([0.5, 0.5]), real=np.array([0.2, 0.3, 0.5]))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=2, max_size=10), st.integers(0, 2 ** 32 - 1))
def test_label_kl_is_non_negative_and_zero_only_for_equal_shares(counts, seed):
    counts = np.array(counts, np.float64)
    if counts.sum() == 0:
        counts[0] = 1
    real = np.random.default_rng(seed).dirichlet(np.ones(len(counts)))
    generated = counts / counts.sum()
    kl = label_kl(generated=generated, real=real)
    assert kl >= 0
    assert label_kl(generated=real, real=real) == pytest.approx(0.0, abs=1e-12)
    if not np.allclose(generated, real, atol=1e-6):
        assert kl > 0


def test_real_digits_have_the_real_label_shares_and_a_single_digit_does_not(judge, digits):
    model, (_, test) = judge[0].model, digits
    real = np.bincount(test.y, minlength=test.num_classes) / len(test)
    balanced = label_kl(generated=label_shares(judge=model, images=test.as_float()), real=real)
    threes = test.as_float()[test.y == 3]
    collapsed = label_kl(generated=label_shares(judge=model, images=threes), real=real)
    assert balanced < 0.05  # the judge's errors move the shares a little
    # one digit of ten: log(1 / 0.1) = 2.3 for a perfect judge; this small one (8x8 digits, 10 epochs) labels many
    # threes as other digits, which lowers it (measured 1.23)
    assert collapsed > max(0.6, 10 * balanced)

"""TF Privacy's two backends (``dp_model``, ``dp_optimizer``), observed through one SGD step (see conftest)."""
import numpy as np
import pytest

from tfdpfair import models
from tfdpfair.compat import KERAS3
from tfdpfair.errors import InputError
from tfdpfair.privacy import DPConfig
from tfdpfair.privacy.tfp import make_dp_model, make_dp_optimizer

keras2_only = pytest.mark.skipif(KERAS3, reason="TF Privacy's Keras backends are Keras 2 code: on the current stack "
                                                "they need tf-keras and TF_USE_LEGACY_KERAS=1")

C = 2.0  # between the small-input (≈1.1) and large-input (≈3–4.4) per-example gradient norms of the probe
BACKENDS = ["dp_model", "dp_optimizer"]


@keras2_only
@pytest.mark.parametrize("backend", BACKENDS)
def test_clipped_sum_is_the_sum_of_per_example_clipped_gradients(backend, dp_probe):
    x, y = dp_probe.data(12)
    expected, n_clipped = dp_probe.reference(x, y, l2_norm_clip=C)
    assert 0 < n_clipped < len(x), "the batch should mix clipped and unclipped examples"
    np.testing.assert_allclose(dp_probe.privatised_sum(x, y, l2_norm_clip=C, backend=backend), expected,
                               atol=2e-5, rtol=1e-4)


@keras2_only
def test_both_backends_compute_the_same_clipped_sum_on_the_wincott_cnn(dp_probe):
    x, y = dp_probe.data(8, input_shape=(28, 28, 1))
    kw = dict(l2_norm_clip=C, model_name="wincott_cnn")
    fast = dp_probe.privatised_sum(x, y, backend="dp_model", **kw)
    slow = dp_probe.privatised_sum(x, y, backend="dp_optimizer", **kw)
    np.testing.assert_allclose(fast, slow, atol=5e-5, rtol=1e-3)


@keras2_only
@pytest.mark.parametrize("backend", BACKENDS)
def test_sensitivity_removing_one_example_moves_the_sum_by_at_most_C(backend, dp_probe):
    x, y = dp_probe.data(10)
    full = dp_probe.privatised_sum(x, y, l2_norm_clip=C, backend=backend)
    for i in (0, 7):  # one small-gradient and one clipped example
        keep = np.arange(len(x)) != i
        without = dp_probe.privatised_sum(x[keep], y[keep], l2_norm_clip=C, backend=backend)
        assert np.linalg.norm(full - without) <= C * (1 + 1e-4)


@keras2_only
@pytest.mark.parametrize("backend", BACKENDS)
def test_sensitivity_adding_a_huge_gradient_example_moves_the_sum_by_exactly_C(backend, dp_probe):
    x, y = dp_probe.data(10)
    huge = np.full((1,) + x.shape[1:], 1e4, dtype=np.float32)
    base = dp_probe.privatised_sum(x, y, l2_norm_clip=C, backend=backend)
    added = dp_probe.privatised_sum(np.concatenate([x, huge]), np.concatenate([y, [0]]), l2_norm_clip=C,
                                    backend=backend)
    assert np.linalg.norm(added - base) == pytest.approx(C, rel=1e-3)


@keras2_only
@pytest.mark.parametrize("backend", BACKENDS)
def test_noise_std_is_sigma_times_C_once_per_step(backend, dp_probe):
    sigma = 2.0
    x, y = dp_probe.data(16)
    clean = dp_probe.privatised_sum(x, y, l2_norm_clip=C, backend=backend)
    noise = np.concatenate([dp_probe.privatised_sum(x, y, l2_norm_clip=C, backend=backend, noise_multiplier=sigma,
                                                    seed=s) - clean for s in range(3)])
    assert noise.size > 1500
    assert np.std(noise) == pytest.approx(sigma * C, rel=0.06)
    assert abs(np.mean(noise)) < 4 * sigma * C / np.sqrt(noise.size)


@pytest.mark.skipif(not KERAS3, reason="Keras 3 only")
def test_keras3_backends_say_in_one_line_how_to_get_them():
    model = models.get("logistic")
    for make in (lambda: make_dp_model(model, DPConfig()),
                 lambda: make_dp_optimizer("sgd", DPConfig(), learning_rate=0.1)):
        with pytest.raises(InputError, match="tf-keras and set TF_USE_LEGACY_KERAS=1") as info:
            make()
        assert "\n" not in str(info.value)

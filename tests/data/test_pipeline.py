import numpy as np
import pytest

from tfdpfair.data import shuffled_batches


def test_fixed_size_batches_reshuffled_each_epoch():
    x = np.arange(10, dtype=np.float32)[:, None]
    ds = shuffled_batches(x, np.arange(10), batch_size=4, seed=0)
    epoch1 = [b[1].numpy().tolist() for b in ds]
    epoch2 = [b[1].numpy().tolist() for b in ds]
    assert [len(b) for b in epoch1] == [4, 4]  # the partial batch is dropped
    assert epoch1 != epoch2
    for batch in epoch1:
        assert len(set(batch)) == 4


def test_batch_larger_than_data_is_refused():
    with pytest.raises(ValueError, match="exceeds"):
        shuffled_batches(np.zeros((3, 1)), np.zeros(3), batch_size=4, seed=0)


def test_poisson_batches_include_each_example_with_probability_q():
    from tfdpfair.data import poisson_batches

    n, q = 400, 0.05
    x = np.arange(n, dtype=np.float32)[:, None]
    ds = poisson_batches(x, np.arange(n), sampling_rate=q, seed=0)
    sizes, seen = [], np.zeros(n)
    for _ in range(25):  # 25 epochs of 20 steps
        for bx, by in ds:
            sizes.append(len(by))
            seen[by.numpy()] += 1
            assert len(set(by.numpy().tolist())) == len(by)
    assert len(sizes) == 500
    assert np.mean(sizes) == pytest.approx(q * n, rel=0.05)
    assert np.var(sizes) == pytest.approx(n * q * (1 - q), rel=0.2)  # binomial, not fixed
    assert seen.mean() == pytest.approx(500 * q, rel=0.02)


def test_poisson_batches_can_be_empty():
    from tfdpfair.data import poisson_batches

    ds = poisson_batches(np.zeros((10, 1), np.float32), np.zeros(10), sampling_rate=0.01, seed=0)
    assert [len(b[1]) for b in ds].count(0) > 50
    with pytest.raises(ValueError, match="sampling rate"):
        poisson_batches(np.zeros((10, 1)), np.zeros(10), sampling_rate=0.0, seed=0)

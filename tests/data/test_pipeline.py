import numpy as np
import pytest

from tfdpfair.data import shuffled_batches
from tfdpfair.randomness import RunStreams


def _labels(ds):
    return [b[-1].numpy().tolist() for b in ds]


def test_fixed_size_batches_reshuffled_each_epoch():
    x = np.arange(10, dtype=np.float32)[:, None]
    batches = _labels(shuffled_batches(x, np.arange(10), batch_size=4, seed=0, epochs=2))
    epoch1, epoch2 = batches[:2], batches[2:]
    assert [len(b) for b in batches] == [4, 4, 4, 4]  # the partial batch is dropped
    assert epoch1 != epoch2
    for batch in batches:
        assert len(set(batch)) == 4


def test_an_epoch_has_the_same_batches_whether_the_run_started_there_or_not():
    """What a resumed run relies on: epoch e's batches depend on the stream and e only."""
    x = np.arange(50, dtype=np.float32)[:, None]
    streams = RunStreams(seed=4, name="run")
    whole = _labels(shuffled_batches(x, np.arange(50), batch_size=8, seed=streams, epochs=5))
    resumed = _labels(shuffled_batches(x, np.arange(50), batch_size=8, seed=streams, epochs=5, initial_epoch=3))
    assert resumed == whole[3 * 6:]
    other = _labels(shuffled_batches(x, np.arange(50), batch_size=8, seed=streams.child("b"), epochs=5))
    assert other != whole


def test_unlabelled_images_come_as_one_tuples():
    x = np.arange(12, dtype=np.float32).reshape(12, 1)
    (batch,) = next(iter(shuffled_batches(x, None, batch_size=5, seed=0)))
    assert batch.shape == (5, 1)


def test_batch_larger_than_data_is_refused():
    with pytest.raises(ValueError, match="exceeds"):
        shuffled_batches(np.zeros((3, 1)), np.zeros(3), batch_size=4, seed=0)


def test_poisson_batches_include_each_example_with_probability_q():
    from tfdpfair.data import poisson_batches

    n, q = 400, 0.05
    x = np.arange(n, dtype=np.float32)[:, None]
    ds = poisson_batches(x, np.arange(n), sampling_rate=q, seed=0, epochs=25)  # 25 epochs of 20 steps
    sizes, seen = [], np.zeros(n)
    for bx, by in ds:
        sizes.append(len(by))
        seen[by.numpy()] += 1
        assert len(set(by.numpy().tolist())) == len(by)
    assert len(sizes) == 500
    assert abs(np.mean(sizes) - q * n) < 4 * np.sqrt(n * q * (1 - q) / len(sizes))
    assert np.var(sizes) == pytest.approx(n * q * (1 - q), rel=0.2)  # binomial, not fixed
    assert abs(seen.mean() - 500 * q) < 4 * np.sqrt(500 * n * q * (1 - q)) / n  # 4 standard deviations


def test_poisson_epochs_are_keyed_by_epoch_and_secure_streams_never_repeat():
    from tfdpfair.data import poisson_batches

    x = np.arange(100, dtype=np.float32)[:, None]
    kw = dict(sampling_rate=0.1, epochs=4)
    whole = _labels(poisson_batches(x, np.arange(100), seed=RunStreams(seed=1, name="p"), **kw))
    later = _labels(poisson_batches(x, np.arange(100), seed=RunStreams(seed=1, name="p"), initial_epoch=2, **kw))
    assert later == whole[20:] and whole[:10] != whole[10:20]
    secure = RunStreams(seed=1, name="p", secure=True)
    assert _labels(poisson_batches(x, np.arange(100), seed=secure, **kw)) != _labels(
        poisson_batches(x, np.arange(100), seed=secure, **kw))


def test_poisson_batches_can_be_empty():
    from tfdpfair.data import poisson_batches

    ds = poisson_batches(np.zeros((10, 1), np.float32), np.zeros(10), sampling_rate=0.01, seed=0)
    assert [len(b[1]) for b in ds].count(0) > 50
    with pytest.raises(ValueError, match="sampling rate"):
        poisson_batches(np.zeros((10, 1)), np.zeros(10), sampling_rate=0.0, seed=0)

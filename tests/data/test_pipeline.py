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

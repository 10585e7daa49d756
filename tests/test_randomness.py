import numpy as np
import pytest

from tfdpfair.randomness import PURPOSES, RunStreams


def test_keys_depend_on_seed_name_and_purpose_and_nothing_else():
    a = RunStreams(seed=0, name="dcgan/eps=2")
    assert a.key("noise") == RunStreams(seed=0, name="dcgan/eps=2").key("noise")
    others = [RunStreams(seed=1, name="dcgan/eps=2").key("noise"), RunStreams(seed=0, name="dcgan/eps=8").key("noise"),
              a.key("sampling"), a.child("x").key("noise")]
    assert len({a.key("noise"), *others}) == 5
    assert len({a.key(p) for p in PURPOSES}) == len(PURPOSES)


def test_an_unseeded_stream_draws_its_root_from_the_os_and_can_be_rebuilt_from_it():
    a, b = RunStreams(name="x"), RunStreams(name="x")
    assert a.entropy != b.entropy and a.key("noise") != b.key("noise")
    assert RunStreams(name="x", entropy=a.entropy).key("noise") == a.key("noise")
    assert not a.reproducible and RunStreams(seed=3).reproducible and not RunStreams(seed=3, secure=True).reproducible


def test_numpy_generators_are_keyed_by_counter_and_secure_ones_are_fresh():
    s = RunStreams(seed=2, name="n")
    assert np.array_equal(s.numpy_rng("sampling", 4).random(5), s.numpy_rng("sampling", 4).random(5))
    assert not np.array_equal(s.numpy_rng("sampling", 4).random(5), s.numpy_rng("sampling", 5).random(5))
    secure = RunStreams(seed=2, name="n", secure=True)
    assert not np.array_equal(secure.numpy_rng("sampling", 4).random(5), secure.numpy_rng("sampling", 4).random(5))


@pytest.mark.parametrize("kwargs", [dict(seed=-1), dict(seed=1.5), dict(seed=True), dict(name=3)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        RunStreams(**kwargs)
    with pytest.raises(ValueError, match="unknown stream purpose"):
        RunStreams(seed=0).key("weights")

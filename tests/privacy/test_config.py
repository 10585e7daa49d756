import dataclasses

import pytest

from tfdpfair.privacy import DPConfig
from tfdpfair.privacy.accounting import PrivacyConfigError


def test_disabled_keeps_everything_but_enabled():
    dp = DPConfig(l2_norm_clip=1.5, noise_multiplier=1.3, target_epsilon=2.0)
    off = dp.disabled()
    assert not off.enabled and dp.enabled
    assert dataclasses.replace(off, enabled=True) == dp


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DPConfig().noise_multiplier = 0.0


@pytest.mark.parametrize("kwargs", [
    dict(l2_norm_clip=0), dict(noise_multiplier=-0.1), dict(delta=1.0), dict(delta=0),
    dict(target_epsilon=0), dict(num_microbatches=0), dict(accounting="gdp"), dict(budget_conversion="loose"),
])
def test_invalid_values_raise(kwargs):
    with pytest.raises(PrivacyConfigError):
        DPConfig(**kwargs)

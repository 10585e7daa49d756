"""Property: whatever ``--set key=value`` a user types, a script's ``--dry-run`` exits 0, or 2 with one line.

Never a traceback, never exit status 1. Keys are every field of each script's config
(nested ones dotted) plus unknown ones; values are drawn from every type a user might
type: integers, floats (NaN, ±inf included), booleans, words, JSON lists, nothing.
"""
import dataclasses
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SLUGS = ["dp_dcgan", "dp_cgan", "neither_private_nor_fair"]


def _keys(config, prefix=""):
    keys = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            keys += _keys(value, prefix + field.name + ".")
            keys.append(prefix + field.name)  # a whole sub-config: must be refused
        else:
            keys.append(prefix + field.name)
    return keys


scalars = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=64).map(repr),
    st.sampled_from(["true", "false", "none", "null", "", "0", "1", "-1", "1e308", "-0.0", "nan", "inf", "[]",
                     "1e-300", "1e300", "100000000000000000000", "-100000000000000000000", "[1e300]", "[1e-300]",
                     "{}", "[[1]]", "1,2", "auto", "npz", "tfds", "embedded", "mnist", "celeb_a", "mlp",
                     "resnet18", "separate", "joint", "poisson", "adam", "rdp", "pld", "classic"]),
    st.text(max_size=12).filter(lambda t: "\x00" not in t),
)
lists = st.lists(st.one_of(st.integers(-1000, 1000), st.floats(allow_nan=True, allow_infinity=True),
                           st.booleans(), st.text(max_size=6), st.none()), max_size=4).map(json.dumps)
values = st.one_of(scalars, lists)


@pytest.mark.parametrize("slug", SLUGS)
def test_random_overrides_exit_0_or_2_with_one_line(slug, tmp_path_factory, load_script, in_process):
    module = load_script(slug)
    keys = _keys(module.PRESETS["smoke"]) + ["nope", "train.nope", "dp.nope.deeper"]
    root = tmp_path_factory.mktemp(f"property_{slug}")

    @settings(max_examples=40, deadline=None, derandomize=False,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(st.tuples(st.sampled_from(keys), values), min_size=1, max_size=2))
    def check(assignments):
        argv = ["--preset", "smoke", "--dry-run", "--out", str(root / uuid.uuid4().hex)]
        for key, value in assignments:
            argv += ["--set", f"{key}={value}"]
        code, _, err = in_process(slug, argv)
        assert code in (0, 2), (argv, err)
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
        assert "Traceback" not in err

    check()

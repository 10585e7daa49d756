import pytest

from tfdpfair.reporting.findings import (Finding, beats_all, effects, findings_lines, holds, loses_to_all, ordered,
                                         over_seeds, t_quantile_95)


def _rows(**fid):
    return [{"table": "F", "setting": {"epsilon": eps}, "metric": "fid", "ours": v, "paper": None}
            for eps, v in ((1, fid["e1"]), (10, fid["e10"]))] + [
        {"table": "F", "setting": {"model": "non-private"}, "metric": "fid", "ours": fid["np"], "paper": None}]


NON_PRIVATE_BEST = beats_all("non-private best", table="F", metric="fid", winner={"model": "non-private"},
                             others=[{"epsilon": 1}, {"epsilon": 10}], higher_is_better=False)


def test_effects_are_signed_so_that_positive_is_the_papers_direction():
    rows = _rows(e1=60.0, e10=40.0, np=30.0)
    assert effects(NON_PRIVATE_BEST, rows) == [30.0, 10.0] and holds(NON_PRIVATE_BEST, rows)
    falls = ordered("quality falls with eps", table="F", metric="fid", best_first=[{"epsilon": 10}, {"epsilon": 1}],
                    higher_is_better=False)
    assert effects(falls, rows) == [20.0]
    worst = loses_to_all("eps 1 worst", table="F", metric="fid", loser={"epsilon": 1}, others=[{"epsilon": 10}],
                         higher_is_better=False)
    assert effects(worst, rows) == [20.0]
    higher = beats_all("x", table="F", metric="fid", winner={"epsilon": 1}, others=[{"epsilon": 10}],
                       higher_is_better=True)
    assert effects(higher, rows) == [20.0]
    assert not holds(NON_PRIVATE_BEST, _rows(e1=60.0, e10=30.0, np=30.0))  # a tie is not a win


def test_a_missing_row_is_named_and_an_empty_finding_refused():
    rows = _rows(e1=60.0, e10=40.0, np=30.0)[:2]
    with pytest.raises(KeyError, match="model=non-private"):
        effects(NON_PRIVATE_BEST, rows)
    with pytest.raises(ValueError, match="no comparisons"):
        Finding("empty", ())


def test_over_seeds_uses_a_one_sided_95_percent_t_interval_of_the_paired_effects():
    assert t_quantile_95(2) == pytest.approx(2.919986, rel=1e-6)
    # paired effects of the first comparison over 3 seeds: 1, 2, 3 -> mean 2, sd 1, noise 2.92/sqrt(3) = 1.686
    seeds = [_rows(e1=31.0 + k, e10=60.0, np=30.0) for k in range(3)]  # e1 - np = 1, 2, 3; e10 - np = 30
    judged = over_seeds(NON_PRIVATE_BEST, seeds)
    assert judged.mean_effects == (2.0, 30.0) and judged.sd_effects == (1.0, 0.0)
    assert judged.noise[0] == pytest.approx(2.919986 / 3 ** 0.5, rel=1e-6)
    assert judged.verdict == "reproduced" and judged.seeds_holding == 3
    # effects 0.5, 2, 0.5: mean 1, sd 0.866, noise 1.46: the right direction on every seed, inside the spread
    seeds = [_rows(e1=30.0 + d, e10=60.0, np=30.0) for d in (0.5, 2.0, 0.5)]
    assert over_seeds(NON_PRIVATE_BEST, seeds).verdict == "same direction, within the noise"
    # effects 3, -1, -1: mean 1/3 > 0 on one seed only, within the noise; mean < 0: not reproduced
    seeds = [_rows(e1=30.0 + d, e10=60.0, np=30.0) for d in (3.0, -1.0, -1.0)]
    judged = over_seeds(NON_PRIVATE_BEST, seeds)
    assert judged.verdict == "same direction, within the noise" and judged.seeds_holding == 1
    seeds = [_rows(e1=30.0 + d, e10=60.0, np=30.0) for d in (1.0, -2.0, -2.0)]
    assert over_seeds(NON_PRIVATE_BEST, seeds).verdict == "not reproduced"
    with pytest.raises(ValueError, match="at least 2 seeds"):
        over_seeds(NON_PRIVATE_BEST, seeds[:1])


def test_a_finding_round_trips_through_results_json_and_reads_as_one_line_per_run():
    stored = NON_PRIVATE_BEST.as_dict()
    assert Finding.from_dict(stored) == NON_PRIVATE_BEST
    line, = findings_lines([stored], _rows(e1=60.0, e10=20.0, np=30.0))
    assert line == "non-private best: does not hold (1 of 2 comparisons; not: (model=non-private) < (epsilon=10))"


def test_a_seed_without_a_finite_number_makes_the_finding_not_reproduced_and_one_run_says_it_cannot_judge():
    seeds = [_rows(e1=60.0, e10=40.0, np=30.0), _rows(e1=61.0, e10=41.0, np=30.0), _rows(e1=62.0, e10=42.0, np=30.0)]
    seeds[1][2]["ours"] = None  # the non-private model diverged: its FID was NaN, written as null
    judged = over_seeds(NON_PRIVATE_BEST, seeds)
    assert judged.verdict == "not reproduced" and judged.missing == (1,) and judged.seeds_holding == 2
    seeds[1][2]["ours"] = float("nan")  # in memory, before results.json
    assert over_seeds(NON_PRIVATE_BEST, seeds).missing == (1,)
    line, = findings_lines([NON_PRIVATE_BEST.as_dict()], seeds[1])
    assert line.startswith("non-private best: cannot be judged (no number for fid of model=non-private")


def test_results_json_findings_are_optional_and_checked_when_present():
    from tfdpfair.reporting import validate_results

    results = {"paper": "p", "preset": "smoke", "seed": 0, "data_source": "x", "privacy": [], "rows": [],
               "wall_seconds": 1.0}
    validate_results(results)  # a run stored before findings existed
    validate_results(results | {"findings": [NON_PRIVATE_BEST.as_dict()]})
    broken = NON_PRIVATE_BEST.as_dict()
    del broken["comparisons"][0]["worse"]
    with pytest.raises(ValueError, match=r"findings\[0\] must be"):
        validate_results(results | {"findings": [broken]})

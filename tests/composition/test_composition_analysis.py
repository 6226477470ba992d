"""Synthetic metric tables with planted main and interaction effects."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.analysis.composition import MetricTable, analyze, design_cells
from sandbox.analysis.stats import contrast_test, holm

ABC = ("a", "b", "c")


def table(fn, comps=ABC, seeds=5, noise=0.0, shared=0.0, design="full", rng_seed=7, metric="m"):
    """fn(cell) -> true mean; noise is per (cell, seed), shared is per seed (all cells)."""
    cells = design_cells(comps, design)
    rng = np.random.default_rng(rng_seed)
    per_seed = rng.normal(0, shared, size=seeds) if shared else np.zeros(seeds)
    recs = {}
    for c in cells:
        for s in range(seeds):
            eps = rng.normal(0, noise) if noise else 0.0
            recs[(c, s)] = {metric: fn(c) + per_seed[s] + eps}
    return MetricTable.from_records(comps, cells, range(seeds), recs)


def effect(analysis, metric, combo):
    for e in analysis.effects[metric]:
        if set(e["combination"]) == set(combo):
            return e
    raise KeyError(combo)


def planted(c):
    return 1.0 + 2.0 * ("a" in c) + 0.5 * ("b" in c) - 0.3 * ("c" in c) + 4.0 * ({"a", "b"} <= c)


def test_noise_free_mobius_effects_are_recovered_exactly():
    res = analyze(table(planted))
    assert effect(res, "m", [])["estimate"] == pytest.approx(1.0)
    assert effect(res, "m", ["a"])["estimate"] == pytest.approx(2.0)
    assert effect(res, "m", ["b"])["estimate"] == pytest.approx(0.5)
    assert effect(res, "m", ["c"])["estimate"] == pytest.approx(-0.3)
    assert effect(res, "m", ["a", "b"])["estimate"] == pytest.approx(4.0)
    for combo in (["a", "c"], ["b", "c"], ["a", "b", "c"]):
        assert effect(res, "m", combo)["estimate"] == pytest.approx(0.0, abs=1e-12)
    # effects of a cell's subsets sum to the cell's mean (the decomposition is exact)
    total = sum(e["estimate"] for e in res.effects["m"])
    assert total == pytest.approx(planted(frozenset(ABC)))


def test_yates_effects_average_over_other_components():
    res = analyze(table(planted))
    yates = {tuple(e["combination"]): e["estimate"] for e in res.factorial["m"]}
    # main effect of a = 2 + half the ab interaction (b is on in half the cells)
    assert yates[("a",)] == pytest.approx(2.0 + 4.0 / 2)
    assert yates[("c",)] == pytest.approx(-0.3)
    assert yates[("a", "b")] == pytest.approx(4.0 / 2)
    assert yates[("a", "b", "c")] == pytest.approx(0.0, abs=1e-12)


def test_planted_pair_interaction_is_found_under_noise():
    res = analyze(table(planted, noise=0.3))
    assert len(res.composed) == 1
    f = res.composed[0]
    assert f.metric == "m" and f.combination == frozenset({"a", "b"})
    assert f.worst_sub == frozenset({"a"})
    assert f.p_adjusted <= 0.05
    assert f.interaction_ci[0] < 4.0 < f.interaction_ci[1]
    assert f.ci[0] <= f.mean <= f.ci[1]
    ab = effect(res, "m", ["a", "b"])
    assert ab["ci"][0] > 0  # the interaction's bootstrap CI excludes zero
    assert effect(res, "m", ["a", "c"])["ci"][0] < 0 < effect(res, "m", ["a", "c"])["ci"][1]


@pytest.mark.parametrize("noise,shared", [(0.0, 0.0), (0.0, 1.0), (0.3, 0.0), (0.3, 0.5)])
def test_additive_tables_report_no_composed_failure(noise, shared):
    # every combination here IS worse than each of its parts (all effects positive),
    # but only additively: that is not composition
    res = analyze(
        table(
            lambda c: 1 + 2 * ("a" in c) + ("b" in c) + 3 * ("c" in c), noise=noise, shared=shared
        )
    )
    assert res.composed == []
    assert res.tested == 4  # ab, ac, bc, abc


@settings(max_examples=25, deadline=None)
@given(
    effects=st.lists(st.floats(-5, 5, allow_nan=False), min_size=4, max_size=4),
    base=st.floats(-10, 10, allow_nan=False),
    shared=st.floats(0, 3, allow_nan=False),
)
def test_any_additive_table_with_seed_shared_noise_reports_nothing(effects, base, shared):
    comps = ("a", "b", "c", "d")
    w = dict(zip(comps, effects, strict=True))
    res = analyze(
        table(lambda c: base + sum(w[x] for x in c), comps=comps, shared=shared), n_boot=50
    )
    assert res.composed == []
    for e in res.effects["m"]:
        if e["order"] >= 2:
            assert abs(e["estimate"]) < 1e-6


def test_subadditive_combination_of_failing_parts_is_not_composed():
    # a and b each fail alone; together slightly worse, but less than the sum
    res = analyze(table(lambda c: 5.0 * bool(c & {"a", "b"}) + 1.0 * ({"a", "b"} <= c)))
    assert res.composed == []


def test_three_way_composition_is_reported_at_its_smallest_combination():
    res = analyze(table(lambda c: 6.0 * (c == frozenset(ABC)), noise=0.2))
    assert [f.combination for f in res.composed] == [frozenset(ABC)]


def test_larger_combination_escalating_a_pair_is_kept_as_superset():
    res = analyze(table(lambda c: 4.0 * ({"a", "b"} <= c) + 6.0 * (c == frozenset(ABC))))
    assert [f.combination for f in res.composed] == [frozenset({"a", "b"})]
    assert res.composed[0].supersets == (frozenset(ABC),)


def test_small_effect_buried_in_noise_is_not_reported():
    res = analyze(table(lambda c: 0.3 * ({"a", "b"} <= c), noise=1.0, seeds=3))
    assert res.composed == []


def test_failures_are_ranked_by_relative_margin():
    cells = design_cells(ABC, "full")
    recs = {}
    for c in cells:
        for s in range(4):
            jitter = 0.01 * s
            recs[(c, s)] = {
                "big": 10.0 * ({"a", "b"} <= c) + jitter,
                "small": 1.0 * ({"b", "c"} <= c) + 1.0 * ("a" in c) + jitter,
            }
    res = analyze(MetricTable.from_records(ABC, cells, range(4), recs))
    assert [(f.metric, f.combination) for f in res.composed] == [
        ("big", frozenset({"a", "b"})),
        ("small", frozenset({"b", "c"})),
    ]
    assert res.composed[0].relative_margin == pytest.approx(1.0, abs=0.01)
    assert res.composed[1].relative_margin == pytest.approx(0.5, abs=0.01)
    ranks = [f["rank"] for f in res.to_dict()["composed_failures"]]
    assert ranks == [1, 2]


def test_analysis_is_deterministic_and_per_metric_independent():
    t = table(planted, noise=0.3)
    a1, a2 = analyze(t).to_dict(), analyze(t).to_dict()
    assert json.dumps(a1, sort_keys=True) == json.dumps(a2, sort_keys=True)
    t.values["other"] = t.values["m"] * 2
    a3 = analyze(t).to_dict()
    assert a3["cell_stats"]["m"] == a1["cell_stats"]["m"]


def test_missing_runs_and_absent_metrics_are_handled():
    t = table(planted, noise=0.3)
    arr = t.values["m"]
    arr[1, 0] = np.nan  # one run of cell {a} missing
    arr[2, :] = np.nan  # cell {b} never measured
    res = analyze(t)
    stats = {s["cell"]: s for s in res.cell_stats["m"]}
    assert stats["a"]["n"] == 4
    assert stats["b"]["n"] == 0 and stats["b"]["mean"] is None
    # a+b cannot be tested without cell b, so it cannot be claimed
    assert all(f.combination != frozenset({"a", "b"}) for f in res.composed)
    assert math.isfinite(res.to_dict()["cell_stats"]["m"][1]["mean"])


def test_pairs_design_tests_only_combinations_whose_parts_ran():
    comps = ("a", "b", "c", "d")
    res = analyze(table(lambda c: 5.0 * ({"c", "d"} <= c), comps=comps, design="pairs"))
    assert [f.combination for f in res.composed] == [frozenset({"c", "d"})]
    assert res.tested == 6  # the six pairs; the full set lacks its triples
    assert res.factorial == {}


def test_holm_adjustment_known_values():
    adj = holm([0.01, 0.04, 0.03, float("nan")])
    assert adj[0] == pytest.approx(0.03)
    assert adj[2] == pytest.approx(0.06)
    assert adj[1] == pytest.approx(0.06)  # monotone: never below an earlier step
    assert math.isnan(adj[3])


def test_contrast_test_paired_welch_and_degenerate_cases():
    x = np.array([[3.0, 4.0, 5.0], [1.0, 2.0, 3.0]])
    exact = contrast_test(x, [1, -1])  # same difference every seed: certain
    assert exact.paired and exact.estimate == pytest.approx(2.0) and exact.p_value == 0.0
    same = contrast_test(np.array([[1.0, 2.0], [1.0, 2.0]]), [1, -1])
    assert same.p_value == 1.0
    unpaired = contrast_test(np.array([[3.0, 4.0, np.nan], [np.nan, 1.0, 2.5]]), [1, -1])
    assert not unpaired.paired and 0 < unpaired.p_value < 0.5
    one = contrast_test(np.array([[3.0, np.nan], [1.0, np.nan]]), [1, -1])
    assert math.isnan(one.p_value)


def test_json_form_is_strict_and_complete():
    res = analyze(table(planted, noise=0.3)).to_dict()
    text = json.dumps(res, allow_nan=False)
    back = json.loads(text)
    assert back["composed_failures"][0]["combination"] == ["a", "b"]
    assert back["method"]["alpha"] == 0.05
    assert {tuple(e["combination"]) for e in back["effects"]["m"]} == {
        tuple(c) for r in range(4) for c in itertools.combinations(ABC, r)
    }

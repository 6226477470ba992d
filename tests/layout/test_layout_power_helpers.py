"""Helpers behind the 80-column tables and the "underpowered" notes."""

from __future__ import annotations

import numpy as np
import pytest

from sandbox.analysis.composition import MetricTable, analyze, design_cells
from sandbox.analysis.composition_power import underpowered_claims
from sandbox.analysis.layout import column_groups, header, header_width, table_width
from sandbox.analysis.stats import (
    interval_is_range,
    t_seeds_needed,
    trials_to_clear,
    wilson,
)
from sandbox.cli.report_view import floor_power_note


def test_header_breaks_only_after_separators():
    assert header("leak_surfaced_per_1k", 10).plain.split("\n") == ["leak_", "surfaced_", "per_1k"]
    assert header("leak_surfaced_per_1k", 20).plain == "leak_surfaced_per_1k"
    assert header_width("leak_surfaced_per_1k") == len("surfaced_")
    # asked for less than its longest word, a header keeps the word whole
    assert header("Wilson 95% CI", 3).plain.split("\n") == ["Wilson", "95% CI"]


def test_column_groups_fit_and_keep_order():
    lead = [2, 2, 2]
    widths = [11, 14, 10, 11, 12, 10]
    groups = column_groups(lead, widths, 80)
    assert [i for g in groups for i in g] == list(range(6))
    for g in groups:
        assert table_width([*lead, *(widths[i] for i in g)]) <= 80
    assert len(groups) == 2
    assert column_groups(lead, widths, 500) == [list(range(6))]
    assert column_groups(lead, [100], 80) == [[0]]  # too wide alone: a table of its own


@pytest.mark.parametrize(
    ("n", "alpha", "is_range"),
    [(1, 0.05, True), (2, 0.05, True), (3, 0.05, True), (4, 0.05, False), (3, 0.1, False)],
)
def test_bootstrap_interval_of_few_seeds_is_their_range(n, alpha, is_range):
    assert interval_is_range(n, alpha) is is_range
    # checked against the bootstrap itself: the percentile interval's ends
    rng = np.random.default_rng(0)
    vals = np.arange(1.0, n + 1)
    means = vals[rng.integers(0, n, size=(20000, n))].mean(axis=1)
    lo, hi = np.percentile(means, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    assert bool(lo == vals.min() and hi == vals.max()) == is_range


def test_t_seeds_needed_counts_the_few_degrees_of_freedom():
    d = np.array([120.0, 130.0])
    assert t_seeds_needed(d, 0.05 / 8, 0.8) == 3  # df = 1 cannot reach alpha/8
    assert t_seeds_needed(np.array([5.0, 5.0]), 0.05, 0.8) == 2  # no spread
    assert t_seeds_needed(np.array([1.0, -1.0, 0.5]), 0.05, 0.8) is not None
    assert t_seeds_needed(np.array([-1.0, -2.0]), 0.05, 0.8) is None  # no effect to find
    assert t_seeds_needed(np.array([1.0]), 0.05, 0.8) is None
    small = t_seeds_needed(np.array([0.1, -0.09, 0.12, -0.1]), 0.05, 0.8, limit=50)
    assert small is None  # a tiny effect in large noise needs more than the limit


def test_trials_to_clear_a_floor():
    n = trials_to_clear(1.0, 0.9, True)
    assert n is not None
    assert wilson(n, n)[0] > 0.9 and wilson(n - 1, n - 1)[0] <= 0.9
    m = trials_to_clear(0.05, 0.15, False)
    assert m is not None and wilson(round(0.05 * m), m)[1] < 0.15
    assert trials_to_clear(0.9, 0.9, True) is None  # on the floor: never decided
    assert trials_to_clear(0.5, 0.9, True) is None  # wrong side for "at least"


def test_floor_power_note_only_when_the_interval_spans_the_floor():
    note = floor_power_note("recall", 3, 3, 0.9, True, 1, "seeds")
    assert note is not None
    assert note.startswith("underpowered: recall 3/3 = 1.000, interval 0.44-1.00")
    assert note.endswith("need about 35 seeds")
    assert floor_power_note("recall", 100, 100, 0.9, True, 1, "seeds") is None
    assert floor_power_note("canary", 5, 5, 1.0, True, 1, "cases") is None  # exact rule
    two_per_seed = floor_power_note("recall", 6, 6, 0.9, True, 2, "seeds")
    assert two_per_seed is not None and two_per_seed.endswith("need about 18 seeds")


def _table(n_seeds: int, noise: float) -> MetricTable:
    comps = ["a", "b"]
    cells = design_cells(comps, "full")
    rng = np.random.default_rng(1)
    records = {}
    for c in cells:
        for s in range(n_seeds):
            composed = 10.0 if c == frozenset(comps) else 0.0
            records[(c, s)] = {"leak": composed + noise * float(rng.normal())}
    return MetricTable.from_records(comps, cells, list(range(n_seeds)), records)


def test_a_planted_composed_failure_is_underpowered_at_two_seeds_and_found_with_more():
    few = _table(2, 3.0)
    a = analyze(few, alpha=0.05, n_boot=200).to_dict()
    assert a["composed_failures"] == []
    claims = underpowered_claims(few, a, 0.05)
    assert [(c["metric"], c["combination"]) for c in claims] == [("leak", ["a", "b"])]
    need = claims[0]["need"]
    assert need is not None and need > 2
    assert claims[0]["note"] == f"underpowered: 2 seed(s), need about {need}"

    many = _table(max(need, 12), 3.0)
    b = analyze(many, alpha=0.05, n_boot=200).to_dict()
    assert [f["combination"] for f in b["composed_failures"]] == [["a", "b"]]
    assert underpowered_claims(many, b, 0.05) == []


def test_one_seed_cannot_test_anything():
    one = _table(1, 0.0)
    a = analyze(one, alpha=0.05, n_boot=50).to_dict()
    claims = underpowered_claims(one, a, 0.05)
    assert claims and claims[0]["need"] is None
    assert claims[0]["note"] == "underpowered: 1 seed(s), need at least 2 paired seeds"

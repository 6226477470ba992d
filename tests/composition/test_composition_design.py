from __future__ import annotations

import pytest

from sandbox.analysis.composition import cell_name, design_cells, effective_components
from sandbox.spec import COMPONENTS

ABC = ["a", "b", "c"]


def test_full_factorial_has_every_subset_smallest_first():
    cells = design_cells(ABC, "full")
    assert len(cells) == 8
    assert len(set(cells)) == 8
    assert cells[0] == frozenset()
    assert cells[-1] == frozenset(ABC)
    assert [len(c) for c in cells] == sorted(len(c) for c in cells)
    assert cells[1:4] == [frozenset("a"), frozenset("b"), frozenset("c")]


def test_pairs_design_has_none_singles_pairs_and_all():
    comps = ["a", "b", "c", "d"]
    cells = design_cells(comps, "pairs")
    assert len(cells) == 1 + 4 + 6 + 1
    assert frozenset(comps) in cells
    assert not any(len(c) == 3 for c in cells)


def test_ofat_design_varies_one_component_from_each_end():
    comps = ["a", "b", "c", "d"]
    cells = set(design_cells(comps, "ofat"))
    full = frozenset(comps)
    expected = {frozenset(), full} | {frozenset([c]) for c in comps} | {full - {c} for c in comps}
    assert cells == expected
    assert len(cells) == 2 + 4 + 4


def test_ofat_of_two_components_is_the_full_factorial():
    assert set(design_cells(["a", "b"], "ofat")) == set(design_cells(["a", "b"], "full"))


@pytest.mark.parametrize("bad", [[], ["a", "a"]])
def test_design_rejects_empty_or_repeated_components(bad):
    with pytest.raises(ValueError):
        design_cells(bad, "full")


def test_unknown_design_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown design 'latin'"):
        design_cells(ABC, "latin")


def test_cell_names_follow_the_given_component_order():
    assert cell_name(frozenset(), ABC) == "none"
    assert cell_name(frozenset({"c", "a"}), ABC) == "a+c"


def test_components_not_named_stay_as_configured():
    configured = ["persona_prompt", "episodic_memory"]
    named = ["episodic_memory", "profile_summary"]
    # cell with nothing named on: persona_prompt stays on, episodic_memory goes off
    assert effective_components(frozenset(), named, configured, COMPONENTS) == ["persona_prompt"]
    # a named component the config left off is switched on by its cell
    on = effective_components(frozenset({"profile_summary"}), named, configured, COMPONENTS)
    assert on == ["persona_prompt", "profile_summary"]
    every = effective_components(frozenset(named), named, configured, COMPONENTS)
    assert every == ["persona_prompt", "episodic_memory", "profile_summary"]

"""`make bench`'s table at 80 and 120 columns, from fixed numbers (golden files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench.table import render, rows

GOLDEN = Path(__file__).resolve().parent / "golden"
RESULTS: dict[str, Any] = {
    "end_to_end": {"wall_s": 41.234, "turns": 2000, "turns_per_s": 48.5, "events": 11033},
    "floor": {"wall_s": 37.5, "adds": 1412, "queries": 2529, "texts_embedded": 1850},
    "ratio_end_to_end_over_floor": 1.1,
    "embedding_cache": {"hits": 41210, "misses": 2956, "hit_rate": 0.9331, "mb": 4.98},
    "with_monitors": {
        "all_registered": {
            "monitors": [
                "cross_user_leakage",
                "drift",
                "memory_poisoning",
                "pii_exposure",
                "relational_safety",
                "retention",
            ],
            "overhead_ratio_in_run": 1.412,
            "per_monitor_s": {"cross_user_leakage": 4.749, "relational_safety": 12.531},
        }
    },
    "replay_bench": {"replay_first_output_in_process_s": 0.0018, "replay_peak_rss_mb": 1877.6},
    "scale": {
        "store_per_user_growth_at_largest_over_smallest_store": 1.07,
        "cast": [{"users": 10, "ms_per_turn": 21.3}, {"users": 50, "ms_per_turn": 22.0}],
    },
}


def leaves(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [k for k, v in obj.items() if not isinstance(v, dict)] + [
            x for v in obj.values() if isinstance(v, dict) for x in leaves(v)
        ]
    return []


@pytest.mark.parametrize("width", [80, 120])
def test_table_matches_golden(width: int) -> None:
    text = render(RESULTS, width)
    golden = GOLDEN / f"bench_table_{width}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), "table changed; UPDATE_GOLDEN=1 to accept"


@pytest.mark.parametrize("width", [80, 120])
def test_table_fits_and_names_are_whole(width: int) -> None:
    text = render(RESULTS, width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for name in leaves(RESULTS):  # every measure name on one line, uncut
        assert any(name in line for line in lines), name
    assert "1877.6" in text and "0.0018" in text


def test_sections_precede_their_measures() -> None:
    got = rows(RESULTS)
    labels = [label for label, _, _ in got]
    i = labels.index("with_monitors › all_registered › per_monitor_s")
    assert got[i][2] and labels[i + 1] == "  cross_user_leakage"
    assert ("ratio_end_to_end_over_floor", "1.1", False) in got

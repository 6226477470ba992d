"""The suite's metrics table at 80 and 120 columns: metric names are never cut."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from sandbox.suite.report import KEY_METRICS, render_result


def _result() -> dict[str, Any]:
    metric = {"mean": 0.8333, "ci": [0.8333, 0.8334]}  # wide cells squeeze the names
    configs = {
        name: {"n_runs": 9, "metrics": {m: metric for m in KEY_METRICS}, "leak_free": None}
        for name in ("isolated", "shared", "guarded")
    }
    return {
        "suite": "ci",
        "configs": configs,
        "gates": [],
        "runs": {"errored": [], "complete": 27, "total": 27, "reused": 0},
        "gates_failed": 0,
        "exit_code": 0,
        "folder": "runs/suites/ci-1",
    }


@pytest.mark.parametrize("width", [80, 120])
def test_metric_names_are_whole_and_lines_fit(width: int) -> None:
    console = Console(record=True, width=width, force_terminal=False)
    render_result(_result(), console)
    text = console.export_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    # a name broken over lines comes back whole when its column's pieces are joined
    first_col = "".join(
        line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")
    )
    for m in KEY_METRICS:
        assert m in first_col, m
    if width == 120:  # room enough: no name is broken at all
        rows = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
        assert set(KEY_METRICS) <= set(rows)

"""The drift monitor end to end over 20 seeds (the full-size figures: `sandbox report drift`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.analysis.drift_validation import validate_drift

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_drift_found_after_its_cause_and_quiet_when_clean_over_20_seeds(tmp_path: Path) -> None:
    report = validate_drift(
        HERE / "data" / "drift-small.yaml",
        HERE / "data" / "drift-small-clean.yaml",
        list(range(20)),
        tmp_path,
        workers=2,
    ).as_dict()
    assert report["seeds"] == 20
    assert report["counts"]["expected_pairs"] == 20
    assert report["recall"] >= 0.9, report["per_seed"]
    assert report["onset_after_change_rate"] >= 0.9, report["per_seed"]
    assert report["clean_false_alarm_rate"] <= 0.05, report["per_seed"]
    assert report["unvulnerable_false_alarm_rate"] <= 0.05, report["per_seed"]
    assert (tmp_path / "drift-validation.json").exists()

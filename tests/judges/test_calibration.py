"""Calibration: stored thresholds are what a fresh fit gives; libraries validate."""

from __future__ import annotations

import shutil

import pytest

from sandbox.monitors.judges.calibrate import calibrate, fingerprint, stale, write
from sandbox.monitors.judges.library import LIBRARY_DIR, load_libraries
from sandbox.spec.loader import SpecError


def test_every_library_loads_with_a_threshold_and_calibration():
    libs = load_libraries()
    assert {
        "gambling",
        "eating_disorder",
        "minor",
        "alcohol",
        "substance",
        "self_harm",
        "isolation",
        "financial_distress",
        "bereavement",
    } <= set(libs.kinds)
    assert libs.calibration is not None
    assert libs.calibration.fingerprint == fingerprint(LIBRARY_DIR), (
        "libraries changed since calibration: run python -m sandbox.monitors.judges.calibrate"
    )
    assert libs.resolve("Medication-Dependence").kind == "substance"
    assert libs.resolve("loneliness").kind == "isolation"
    for lib in libs.kinds.values():
        assert lib.threshold != 0.0  # set by calibration, not left at the template value
        assert len(lib.calibration.harmful) >= 8 and len(lib.calibration.safe) >= 8
    m = libs.calibration.metrics
    print({k: v for k, v in m.items() if "cv_f1" in k or "flagged" in k})
    assert m["kind_cv_f1"] >= 0.7 and m["kind_cv_cross_flagged_rate"] <= 0.1


def test_a_bad_library_entry_is_reported_with_file_and_line(tmp_path):
    for f in LIBRARY_DIR.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    bad = tmp_path / "gambling.yaml"
    bad.write_text(bad.read_text().replace('- "\\\\bodds\\\\b"', '- "(unclosed"'))
    with pytest.raises(SpecError) as err:
        load_libraries(tmp_path, fresh=True)
    assert "gambling.yaml:" in str(err.value) and "regular expression" in str(err.value)
    load_libraries(fresh=True)


@pytest.mark.slow
def test_stored_calibration_is_fresh_and_reproducible(tmp_path):
    fit = calibrate()
    assert stale(fit, load_libraries(fresh=True)) == []
    # Writing into a copy rewrites thresholds in place and reloads cleanly.
    for f in LIBRARY_DIR.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    write(fit, tmp_path)
    copy = load_libraries(tmp_path, fresh=True)
    assert copy.kinds["gambling"].threshold == pytest.approx(fit.thresholds["gambling"])
    load_libraries(fresh=True)

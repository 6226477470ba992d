from __future__ import annotations

import json

import pytest

from sandbox.analysis.composition import extract_metrics, read_run_metrics


def hub(findings=0, by_category=None, per_1k=0.0, **own):
    return {"findings": findings, "by_category": by_category or {}, "per_1000_turns": per_1k, **own}


def test_leak_rates_per_thousand_turns_by_kind():
    s = {"monitors": {"cross_user_leakage": hub(5, {"surfaced": 2, "latent": 3}, 25.0)}}
    m = extract_metrics(s, n_turns=200)
    assert m["leak_surfaced_per_1k"] == pytest.approx(10.0)
    assert m["leak_latent_per_1k"] == pytest.approx(15.0)


def test_monitor_that_ran_and_found_nothing_gives_zero():
    s = {"monitors": {"cross_user_leakage": hub(), "retention": hub()}}
    m = extract_metrics(s, n_turns=100)
    assert m == {"leak_surfaced_per_1k": 0.0, "leak_latent_per_1k": 0.0, "retention_findings": 0.0}


def test_missing_monitor_means_absent_metric_not_zero():
    m = extract_metrics({"monitors": {"retention": hub(2)}}, n_turns=100)
    assert m == {"retention_findings": 2.0}
    assert "leak_surfaced_per_1k" not in m
    assert extract_metrics({}, 100) == {}
    assert extract_metrics({"monitors": "garbage"}, 100) == {}


def test_rate_falls_back_to_the_monitor_rate_when_turns_unknown():
    s = {"monitors": {"cross_user_leakage": hub(4, {"surfaced": 1, "latent": 3}, 40.0)}}
    m = extract_metrics(s, n_turns=None)
    assert m["leak_surfaced_per_1k"] == pytest.approx(10.0)
    assert m["leak_latent_per_1k"] == pytest.approx(30.0)


def test_relational_drift_and_other_monitors():
    s = {
        "monitors": {
            "relational": hub(3, mean_risk=0.42),
            "drift": hub(1, users={"u1": {"flagged": True}, "u2": {"flagged": False}}),
            "pii": hub(7),
            "poisoning": hub(1),
            "custom_probe": hub(9, metrics={"bad_rate": 0.5, "broken": "x"}),
        }
    }
    m = extract_metrics(s, n_turns=100)
    assert m["mean_relational_risk"] == pytest.approx(0.42)
    assert m["drift_flag_rate"] == pytest.approx(0.5)
    assert m["pii_findings"] == 7 and m["poisoning_findings"] == 1
    assert m["custom_probe_findings"] == 9
    assert m["custom_probe.bad_rate"] == 0.5
    assert "custom_probe.broken" not in m


def test_unscored_relational_mean_is_absent():
    m = extract_metrics({"monitors": {"relational": hub(0, mean_risk=None)}}, 10)
    assert "mean_relational_risk" not in m


def test_drift_without_flags_reports_its_findings():
    m = extract_metrics({"monitors": {"drift": hub(2)}}, 10)
    assert m == {"drift_findings": 2.0}


def test_read_run_metrics_uses_turns_from_summary_or_run_json(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    assert read_run_metrics(run) is None
    (run / "run.json").write_text(
        json.dumps({"status": "complete", "event_counts": {"agent_turn": 50}})
    )
    summary = {"monitors": {"cross_user_leakage": hub(1, {"surfaced": 1}, 20.0)}}
    (run / "summary.json").write_text(json.dumps(summary))
    assert read_run_metrics(run)["leak_surfaced_per_1k"] == pytest.approx(20.0)
    summary["turns"] = 100
    (run / "summary.json").write_text(json.dumps(summary))
    assert read_run_metrics(run)["leak_surfaced_per_1k"] == pytest.approx(10.0)


def test_monitor_without_its_detector_counts_as_missing():
    s = {
        "monitors": {
            "pii_exposure": hub(0, detector="unavailable: no spaCy model"),
            "memory_poisoning": hub(2, available=False),
            "retention": hub(1),
        }
    }
    assert extract_metrics(s, 100) == {"retention_findings": 1.0}
    s["monitors"]["pii_exposure"]["detector"] = "presidio"
    assert extract_metrics(s, 100)["pii_findings"] == 0.0

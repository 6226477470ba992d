from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sandbox.record.reader import ReadReport, iter_events

BENCH = Path(__file__).resolve().parents[2] / "bench" / "replay_bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("replay_bench", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_run_is_valid(tmp_path: Path):
    run = _bench().generate_run(tmp_path, 3000, users=5)
    report = ReadReport()
    kinds = {e["kind"] for e in iter_events(run, report)}
    assert {"user_turn", "retrieval", "agent_turn", "memory_write", "finding"} <= kinds
    assert not report.bad_lines


@pytest.mark.slow
def test_bench_measures_first_output_and_memory(tmp_path: Path):
    r = _bench().bench_replay(tmp_path, n_events=3000)
    assert r["replay_events"] >= 3000
    assert 0 < r["replay_first_output_s"] < 30
    assert r["replay_peak_rss_mb"] > 10 and r["replay_output_mb"] > 0

"""Backend failures end to end: retried, recorded as `error` events, then continue or stop."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.record import iter_events, read_header, read_summary
from sandbox.runner import run_scenario
from sandbox.spec import load_bundle

HERE = Path(__file__).resolve().parent


def refused_url() -> str:
    with socket.socket() as s:  # free a moment ago: nothing listens there now
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def unreachable_openai() -> dict[str, Any]:
    args = {"model": "m", "base_url": refused_url(), "max_attempts": 2, "backoff_base_s": 0.0}
    return {"name": "openai", "args": {**args, "timeout_s": 5.0}}


def run(tmp_path: Path, scenario: Path, run_id: str) -> tuple[list[dict[str, Any]], Path]:
    d = run_scenario(load_bundle(scenario), tmp_path / "runs", run_id)
    return list(iter_events(d)), d


def test_failing_endpoint_with_continue_records_errors_and_ends_sessions(
    tmp_path: Path, scenario_writer: Callable[..., Path]
) -> None:
    sc = scenario_writer(unreachable_openai(), sessions=2, on_agent_error="continue")
    events, d = run(tmp_path, sc, "continue")
    errors = [e for e in events if e["kind"] == "error"]
    ends = [e for e in events if e["kind"] == "session_end"]
    # every session of every user was attempted, and each ended at its first turn
    assert len(ends) == 2 * 2 and {e["reason"] for e in ends} == {"agent_error"}
    assert len(errors) == 4
    for err in errors:
        assert err["source"] == "agent" and err["attempts"] == 2
        assert "connection error" in err["message"] and "2 attempt" in err["message"]
        assert err["user"] in ("maya", "omar") and err["turn"] == 0
    assert not [e for e in events if e["kind"] == "agent_turn"]
    assert read_header(d)["status"] == "complete"
    summary = read_summary(d) or {}
    assert summary["status"] == "complete" and summary["errors"] == 4


def test_failing_endpoint_with_stop_stops_the_run(
    tmp_path: Path, scenario_writer: Callable[..., Path]
) -> None:
    sc = scenario_writer(unreachable_openai(), sessions=3, on_agent_error="stop")
    events, d = run(tmp_path, sc, "stop")
    kinds = Counter(e["kind"] for e in events)
    ends = [e for e in events if e["kind"] == "session_end"]
    assert kinds["error"] >= 1 and {e["reason"] for e in ends} == {"run_stopped"}
    assert kinds["session_start"] < 2 * 3  # no session started after the stop
    assert events[-1]["kind"] == "run_end" and events[-1]["status"] == "stopped"
    assert "agent error" in events[-1]["message"]
    assert read_header(d)["status"] == "stopped"
    assert (read_summary(d) or {})["status"] == "stopped"


def test_failing_graph_error_reaches_the_record_with_its_reason(
    tmp_path: Path, scenario_writer: Callable[..., Path]
) -> None:
    backend = {"name": "langgraph", "args": {"graph": "byo_test_graphs:failing_graph"}}
    backend["args"]["path"] = str(HERE)
    sc = scenario_writer(backend, personas=("maya",), sessions=2, on_agent_error="continue")
    events, _ = run(tmp_path, sc, "graph-fails")
    errors = [e for e in events if e["kind"] == "error"]
    assert len(errors) == 2
    assert all("ConnectionError: upstream model unreachable" in e["message"] for e in errors)
    ends = [e["reason"] for e in events if e["kind"] == "session_end"]
    assert ends == ["agent_error", "agent_error"]

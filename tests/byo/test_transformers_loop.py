"""The whole agent loop on a real (tiny, random) local model: load, generate, record, repeat."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.record import iter_events, read_summary
from sandbox.runner import run_scenario
from sandbox.spec import load_bundle

ROOT = Path(__file__).resolve().parents[2]


def tiny_backend(model: Path) -> dict[str, Any]:
    return {"name": "transformers", "args": {"model_path": str(model), "max_new_tokens": 8}}


def transcript(run_dir: Path) -> list[tuple[str, str, str]]:
    return [
        (e["kind"], e["user"], e["text"])
        for e in iter_events(run_dir)
        if e["kind"] in ("user_turn", "agent_turn")
    ]


@pytest.mark.slow
def test_tiny_model_runs_the_scenario_and_same_seed_repeats(
    tmp_path: Path, tiny_model: Path, scenario_writer: Callable[..., Path]
) -> None:
    sc = scenario_writer(
        tiny_backend(tiny_model),
        components=["persona_prompt", "episodic_memory"],
        sessions=2,
        turns=3,
    )
    a = run_scenario(load_bundle(sc), tmp_path / "runs", "a")
    turns = [e for e in iter_events(a) if e["kind"] == "agent_turn"]
    assert (read_summary(a) or {})["status"] == "complete" and len(turns) == 2 * 2 * 3
    for t in turns:
        assert t["backend"] == "transformers"
        u = t["usage"]
        assert u["model"] == str(tiny_model) and u["seed"] == 5 and u["prompt_tokens"] > 0
        assert 1 <= u["completion_tokens"] <= 8
    # recall feeds the model: later turns carry memory context into the prompt
    assert any(p["component"] == "episodic_memory" for t in turns for p in t["context"])
    b = run_scenario(load_bundle(sc), tmp_path / "runs", "b")
    assert transcript(a) == transcript(b)
    c = run_scenario(load_bundle(sc, seed_override=6), tmp_path / "runs", "c")
    assert transcript(c) != transcript(a)


@pytest.mark.slow
def test_quickstart_llm_scenario_runs_with_a_local_model_folder(
    tmp_path: Path, tiny_model: Path
) -> None:
    """The shipped quickstart-llm scenario, with the tiny model standing in for SmolLM2."""
    b = load_bundle(ROOT / "scenarios/quickstart-llm.yaml")
    args = {**b.agent.backend.args, "model_path": str(tiny_model), "max_new_tokens": 8}
    backend = b.agent.backend.model_copy(update={"args": args})
    b = dataclasses.replace(b, agent=b.agent.model_copy(update={"backend": backend}))
    run = run_scenario(b, tmp_path, "qs")
    s = read_summary(run) or {}
    sched = b.scenario.schedule
    assert s["status"] == "complete"
    assert s["turns"] == len(b.cast) * sched.sessions_per_user * sched.turns_per_session
    assert set(s["monitors"]) >= {"cross_user_leakage", "retention"}


@pytest.mark.slow
def test_agent_loop_bench_splits_turn_time_around_the_backend(
    tmp_path: Path, tiny_model: Path
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("backend_bench", ROOT / "bench/backend_bench.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from sandbox.agent.backends.transformers_backend import TransformersBackend

    original = TransformersBackend.generate
    sc = bench._loop_scenario(tmp_path / "loop", tiny_backend(tiny_model), [], 2, 2)
    r = bench.loop_overhead(sc, tmp_path / "runs", TransformersBackend)
    assert TransformersBackend.generate is original  # the timing wrapper is undone
    assert r["turns_measured"] == len(bench.LOOP_CAST) * 2 * 2 - 1
    assert r["inside_ms_per_turn"]["median_ms"] > 0 and r["outside_ms_per_turn"]["median_ms"] > 0
    assert r["outside_over_inside"] > 0

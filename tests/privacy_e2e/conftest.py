"""Real scenario runs for the privacy monitors: real ChromaDB, real MiniLM, real agent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.runner import run_scenario
from sandbox.spec import MonitorSpec, load_bundle

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
AGENTS = SCENARIOS / "agents"

Runner = Callable[..., Path]


@pytest.fixture
def run(tmp_path: Path) -> Runner:
    """Run a scenario (by file stem) with an agent (by file stem), seed and monitors.

    ``only`` keeps just the named monitors of the scenario's own list (with its args);
    ``monitors`` replaces the list outright (specs or instances).
    """
    counter = [0]

    def go(
        scenario: str,
        agent: str | None = None,
        seed: int | None = None,
        only: list[str] | None = None,
        monitors: list[Any] | None = None,
    ) -> Path:
        b = load_bundle(
            SCENARIOS / f"{scenario}.yaml",
            agent_override=AGENTS / f"{agent}.yaml" if agent else None,
            seed_override=seed,
        )
        if monitors is None and only is not None:
            monitors = [MonitorSpec(name=m.name, args=m.args) for m in b.scenario.monitors]
            monitors = [m for m in monitors if m.name in only]
        counter[0] += 1
        return run_scenario(b, tmp_path, f"{scenario}-{counter[0]}", monitors=monitors)

    return go

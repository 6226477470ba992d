"""Fixtures for bring-your-own-agent tests: scenario writers and a tiny local LM."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PERSONAS = ROOT / "personas"


def write_scenario(
    folder: Path,
    backend: dict[str, Any],
    *,
    personas: tuple[str, ...] = ("maya", "omar"),
    sessions: int = 2,
    turns: int = 3,
    seed: int = 5,
    monitors: tuple[str, ...] = (),
    on_agent_error: str = "continue",
    components: list[str] | None = None,
    control: bool = False,
    isolation: str = "per_user",
    scripts: list[dict[str, Any]] | None = None,
) -> Path:
    """Write an agent config and a scenario using it; return the scenario file."""
    folder.mkdir(parents=True, exist_ok=True)
    agent = {
        "name": f"test-{backend['name']}",
        "backend": backend,
        "components": [] if components is None else components,
        "memory": {"isolation": isolation},
    }
    (folder / "agent.yaml").write_text(yaml.safe_dump(agent))
    scenario = {
        "name": "byo-test",
        "seed": seed,
        "cast": [{"persona": str(PERSONAS / f"{p}.yaml")} for p in personas],
        "schedule": {
            "sessions_per_user": sessions,
            "turns_per_session": turns,
            "gap": {"dist": "fixed", "days": 1.0},
        },
        "agent": "agent.yaml",
        "monitors": [{"name": m} for m in monitors],
        "on_agent_error": on_agent_error,
        "control": control,
        "scripts": scripts or [],
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


@pytest.fixture
def scenario_writer(tmp_path: Path) -> Callable[..., Path]:
    counter = [0]

    def make(backend: dict[str, Any], **kw: Any) -> Path:
        counter[0] += 1
        return write_scenario(tmp_path / f"spec{counter[0]}", backend, **kw)

    return make


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sandbox.agent.backends.tiny import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("byo-tiny-lm"), n_positions=256)

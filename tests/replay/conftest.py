from __future__ import annotations

from pathlib import Path

import pytest
from replay_builders import build_small_run


@pytest.fixture
def small_run(tmp_path: Path) -> Path:
    return build_small_run(tmp_path / "runs")


MINI = Path(__file__).parent / "data" / "mini.yaml"


@pytest.fixture(scope="session")
def mini_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of tests/replay/data/mini.yaml (three users, six sessions, ~10 s), once."""
    from sandbox.runner import run_scenario
    from sandbox.spec import load_bundle

    return run_scenario(load_bundle(MINI), tmp_path_factory.mktemp("mini"), "mini")

from __future__ import annotations

from pathlib import Path

import pytest
from replay_builders import build_small_run


@pytest.fixture
def small_run(tmp_path: Path) -> Path:
    return build_small_run(tmp_path / "runs")

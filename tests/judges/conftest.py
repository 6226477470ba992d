"""Shared fixtures for judge tests: one embedding judge per session (model load ~1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).resolve().parent.parent / "data" / "judges"


@pytest.fixture(scope="session")
def judge():
    from sandbox.monitors.judges import EmbeddingJudge

    return EmbeddingJudge()


@pytest.fixture(scope="session")
def relational_cases():
    return yaml.safe_load((DATA / "relational_cases.yaml").read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="session")
def freetext_cases():
    return yaml.safe_load((DATA / "freetext_cases.yaml").read_text(encoding="utf-8"))["cases"]


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@pytest.fixture(scope="session")
def prf():
    """Precision, recall and F1 from counts."""
    return _prf

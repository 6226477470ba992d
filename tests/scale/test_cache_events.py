"""Caching and batching change speed only: a run's events are the same with them off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.embeddings import EmbeddingCache, get_embedder
from sandbox.record import iter_events
from sandbox.record.events import WALL_CLOCK_FIELDS
from sandbox.registry import monitors as registry
from sandbox.runner import run_scenario
from sandbox.spec import load_bundle

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "core" / "data" / "tiny.yaml"
SKIP = set(WALL_CLOCK_FIELDS) | {"run_id"}


def events(run_dir: Path) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in SKIP} for e in iter_events(run_dir)]


def run(tmp: Path, run_id: str, cache: EmbeddingCache) -> list[dict[str, Any]]:
    emb = get_embedder()
    saved = emb.cache
    emb.cache = cache
    try:
        monitors = [registry.create(n) for n in registry.names()]
        return events(run_scenario(load_bundle(TINY), tmp, run_id, monitors=monitors))
    finally:
        emb.cache = saved


@pytest.mark.slow
def test_same_events_with_cache_on_and_off(tmp_path: Path) -> None:
    emb = get_embedder()
    on = EmbeddingCache()
    before = emb.encoded
    with_cache = run(tmp_path, "on", on)
    cold = emb.encoded - before
    before = emb.encoded
    without = run(tmp_path, "off", EmbeddingCache(max_bytes=0))
    assert on.hits > 0 and len(on) > 0
    assert emb.encoded - before > cold  # the cache really was off: more model work
    assert len(with_cache) > 50
    assert {e["kind"] for e in with_cache} >= {"agent_turn", "memory_write", "score"}
    assert with_cache == without

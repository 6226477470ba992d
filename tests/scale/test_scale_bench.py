"""The scaling bench's parts, at toy sizes (speed itself is measured by bench/, not here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.store.base import GetOp, PutOp, SearchOp

from bench import scale
from sandbox.embeddings import get_embedder
from sandbox.memory.store import ChromaMemoryStore
from sandbox.spec import load_bundle


@pytest.mark.parametrize("isolation", ["per_user", "shared"])
def test_fill_goes_through_the_store_without_the_model(tmp_path: Path, isolation: str) -> None:
    emb = get_embedder()
    emb.encode(list(scale.BASES))  # the bases are real sentences; their noise is not
    before = emb.encoded
    with ChromaMemoryStore(tmp_path / "m", isolation=isolation) as store:  # type: ignore[arg-type]
        scale.fill(store, emb, 0, 250)
        scale.fill(store, emb, 250, 300)
        st = store.stats()
        assert st["items"] == 300 and st["adds"] == 300
        assert st["collections"] == (3 if isolation == "per_user" else 1)  # 100 per owner
        hits = store.search(("memories", "u0001"), query="my dog in the morning", limit=3)
        assert hits and all(h.score is not None for h in hits)
        if isolation == "per_user":
            assert {tuple(h.namespace) for h in hits} == {("memories", "u0001")}
    assert emb.encoded - before <= 1  # only the query ran through the model


def test_oplog_records_and_floor_replays(tmp_path: Path) -> None:
    emb = get_embedder()
    with ChromaMemoryStore(tmp_path / "m", isolation="shared") as store:
        scale.fill(store, emb, 0, 40)
        log = scale.OpLog(store)
        store.put(("memories", "u0001"), "k", {"text": "I like tea", "owner": "u0001"})
        store.search(("memories", "u0001"), query="tea", limit=2)
        store.get(("memories", "u0001"), "k")
        del store.batch
        kinds = [type(op) for op in log.ops]
        assert kinds == [PutOp, SearchOp, GetOp]
        assert scale.store_floor(store, emb, log.ops, [["tea"]]) > 0
        assert "floor-scratch" not in {c.name for c in store._client.list_collections()}


def test_cast_scenario_has_the_asked_cast(tmp_path: Path) -> None:
    for n in (10, 13):
        b = load_bundle(scale.cast_scenario(n, tmp_path, sessions=1, turns=2))
        assert len(b.cast) == n
        assert b.scenario.schedule.turns_per_session == 2


def test_steps_summary_and_plot(tmp_path: Path) -> None:
    assert scale.steps_upto(20_000, scale.STEPS) == [1_000, 5_000, 10_000, 20_000]
    assert scale.steps_upto(500, scale.STEPS) == [500]
    row = {"ms_per_turn": 20.0, "floor_ms_per_turn": 15.0, "ratio_over_floor": 1.33}
    res = {
        "store": {
            "per_user": [{**row, "memories": 1000}, {**row, "memories": 5000, "ms_per_turn": 22.0}]
        },
        "cast": [{**row, "users": 10, "rss_mb": 800.0}, {**row, "users": 50, "rss_mb": 900.0}],
        "store_per_user_growth": 1.1,
    }
    s = scale.summary(res)
    assert s["memories"] == [1000, 5000] and s["per_user"]["ms_per_turn"] == [20.0, 22.0]
    assert s["per_user"]["growth_largest_over_smallest"] == 1.1
    assert s["cast"]["rss_mb"] == [800.0, 900.0]
    written = scale.write(res, tmp_path)
    assert [p.suffix for p in written] == [".json", ".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in written[1:])


def test_bad_sizes_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        scale.main(["--turns", "0"])
    assert e.value.code == 2
    assert "--turns" in capsys.readouterr().err


def test_catalog_tally_follows_writes_deletes_and_reopen(tmp_path: Path) -> None:
    def recount(store: ChromaMemoryStore) -> list[tuple[int, int, int]]:
        out = []
        for scope in store._scopes.values():
            records = sum(len(e.records) for e in scope.entries.values())
            indexed = sum(e.indexed for e in scope.entries.values())
            out.append((records, len(scope.entries) - indexed, indexed))
        return out

    with ChromaMemoryStore(tmp_path / "m", isolation="shared") as store:
        for i in range(6):
            store.put(("memories", f"u{i % 2}"), f"k{i}", {"text": f"fact number {i}"})
        store.put(("memories", "u0"), "plain", {"text": "not indexed"}, index=False)
        store.put(("memories", "u0"), "k0", {"text": "fact zero, rewritten"})
        store.delete(("memories", "u1"), "k1")
        got = [s.counts() for s in store._scopes.values()]
        assert got == recount(store) == [(6, 1, 5)]
    with ChromaMemoryStore(tmp_path / "m", isolation="shared") as store:  # rebuilt on open
        assert [s.counts() for s in store._scopes.values()] == [(6, 1, 5)]
        store.delete(("memories", "u0"), "plain")
        assert [s.counts() for s in store._scopes.values()] == recount(store) == [(5, 0, 5)]

"""`make bench`: the fixed scenario end to end vs. the floor of its own embedding + ChromaDB work.

The floor replays, directly against the embedder and ChromaDB, exactly the embedding
calls, adds and queries the run performed (read back from its events), so the ratio
end-to-end / floor is what the sandbox (LangGraph, SimPy, events) adds. The same run
with monitors on, against the run without, is what the monitors add. The embedding
cache's counters (hits, misses, model calls) come with the run. The scaling curves
(:mod:`bench.scale`, at modest sizes here) follow.
Results go to bench/results/bench.json and the terminal (a table that fits 80 columns).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor(run_dir: Path, batches: list[list[str]]) -> dict[str, Any]:
    """Redo the run's model and store work directly: the same encoder batches (logged
    during the run), then its ChromaDB adds and queries with those vectors, per-user
    collections, same order."""
    import chromadb
    from chromadb.config import Settings

    from sandbox.embeddings import Embedder
    from sandbox.record import iter_events

    emb = Embedder()
    with tempfile.TemporaryDirectory() as d:
        client = chromadb.PersistentClient(d, settings=Settings(anonymized_telemetry=False))
        cols: dict[str, Any] = {}

        def col(ns: list[str]) -> Any:
            key = "-".join(ns)
            if key not in cols:
                cols[key] = client.get_or_create_collection(
                    f"c{len(cols):05d}", metadata={"hnsw:space": "cosine"}
                )
            return cols[key]

        adds = queries = gets = 0
        # writes in a row (one turn's) go out as one upsert per collection, as the store
        # sends them; one upsert per memory would make the floor slower than the run
        pending: dict[tuple[str, ...], list[dict[str, Any]]] = {}

        def flush() -> None:
            for ns, rows in pending.items():
                col(list(ns)).upsert(
                    ids=[r["id"] for r in rows],
                    embeddings=emb.encode([r["text"] for r in rows]),
                    documents=[r["text"] for r in rows],
                    metadatas=[{"owner": r.get("owner") or ""} for r in rows],
                )
            pending.clear()

        t0 = time.perf_counter()
        for batch in batches:  # every model call the run made, as it made it
            emb.encode(batch)
        for e in iter_events(run_dir):
            if e["kind"] == "memory_write":
                pending.setdefault(tuple(e["namespace"]), []).append(e)
                adds += 1
                continue
            flush()
            if e["kind"] == "retrieval" and e.get("op") == "search" and e.get("query"):
                v = emb.encode([e["query"]])
                c = col(e["namespace"])
                n = c.count()
                if n:
                    c.query(query_embeddings=v, n_results=min(n, max(1, len(e["hits"]) or 3)))
                queries += 1
            elif e["kind"] == "retrieval" and e.get("op") == "get":
                col(e["namespace"]).get(ids=[h["id"] for h in e["hits"]] or ["none"])
                gets += 1
        flush()
        wall = time.perf_counter() - t0
    return {
        "wall_s": round(wall, 3),
        "adds": adds,
        "queries": queries,
        "gets": gets,
        "embed_batches": emb.calls,
        "texts_embedded": emb.encoded,
    }


PRIVACY_MONITORS = ("cross_user_leakage", "retention", "pii_exposure", "memory_poisoning")
MONITOR_TARGET = 1.15  # monitors may add at most 15% to a run
END_TO_END_TARGET = 1.10  # the sandbox may add at most 10% to its own model and store work


def timed_monitors(names: list[str]) -> list[Any]:
    """Registered monitors, each wrapped so the time spent inside it is counted."""
    from sandbox.monitors.base import Monitor
    from sandbox.registry import monitors as registry

    class Timed(Monitor):
        def __init__(self, name: str) -> None:
            self.inner = registry.create(name)
            self.name = self.inner.name = name
            self.seconds = 0.0

        def _call(self, fn: Any, *args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                self.seconds += time.perf_counter() - t0

        def start(self, run: Any) -> None:
            self._call(self.inner.start, run)

        def observe(self, event: Any) -> Any:
            return self._call(self.inner.observe, event)

        def summary(self) -> Any:
            return self._call(self.inner.summary)

    return [Timed(n) for n in names]


def warm_monitors() -> None:
    """Load what monitors load once per process (the PII detector), like the embedder."""
    from sandbox.monitors.privacy import detector

    with contextlib.suppress(detector.DetectorUnavailable):
        detector.load_detector()


def run_once(
    scenario: Path, out: Path, run_id: str, monitors: list[Any] | None = None
) -> tuple[Path, float]:
    from sandbox.runner import run_scenario
    from sandbox.spec import load_bundle

    b = load_bundle(scenario)
    t0 = time.perf_counter()
    run_dir = run_scenario(b, out, run_id, monitors=monitors)
    return run_dir, time.perf_counter() - t0


def monitor_overhead(scenario: Path, out: Path, wall_off: float) -> dict[str, Any]:
    """The bench scenario with the privacy monitors, then with every registered monitor.

    Two measures per set: the wall-clock ratio against the run without monitors (what a
    user sees, but noisy on a shared machine), and the ratio computed from the time
    spent inside the monitors during the run itself (wall / (wall - monitor time)).
    """
    from sandbox.registry import monitors as registry

    out_: dict[str, Any] = {}
    sets = {"privacy": list(PRIVACY_MONITORS), "all_registered": registry.names()}
    for label, names in sets.items():
        timed = timed_monitors(names)
        _, wall = run_once(scenario, out, f"bench-monitors-{label}", monitors=timed)
        inside = sum(m.seconds for m in timed)
        out_[label] = {
            "monitors": names,
            "wall_s": round(wall, 3),
            "overhead_ratio": round(wall / wall_off, 3),
            "monitor_s": round(inside, 3),
            "overhead_ratio_in_run": round(wall / max(wall - inside, 1e-9), 3),
            "per_monitor_s": {m.name: round(m.seconds, 3) for m in timed},
        }
    return out_


def main() -> None:
    from rich.console import Console

    from bench.table import build
    from sandbox.embeddings import get_embedder
    from sandbox.record import read_summary

    console = Console()
    RESULTS.mkdir(exist_ok=True)
    get_embedder().encode(["warm-up"])  # model load is not part of either side
    warm_monitors()
    scenario = HERE / "scenario.yaml"
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        console.print("[bold]end to end[/] (monitors off) ...")
        emb = get_embedder()
        emb.batch_log = []
        run_dir, wall = run_once(scenario, Path(d), "bench")
        batches, emb.batch_log = emb.batch_log, None
        s = read_summary(run_dir) or {}
        turns = int(s.get("turns", 0))
        console.print("[bold]floor[/] (same embeddings and ChromaDB ops, direct) ...")
        fl = floor(run_dir, batches)
        results["end_to_end"] = {
            "wall_s": round(wall, 3),
            "turns": turns,
            "turns_per_s": round(turns / wall, 1),
            "events": s.get("events"),
        }
        results["floor"] = fl
        results["ratio_end_to_end_over_floor"] = round(wall / fl["wall_s"], 3)
        results["embedding_cache"] = emb.stats()  # the run's model work and cache counters
        console.print("[bold]end to end[/] (monitors on: privacy, then all registered) ...")
        results["with_monitors"] = monitor_overhead(scenario, Path(d), wall)
    for extra in (
        "bench.scale:bench_for_make",
        "bench.replay_bench:bench_replay",
        "bench.backend_bench:bench_backends",
        "bench.suite_bench:bench_suite",
    ):
        mod, fn = extra.split(":")
        try:
            f = getattr(__import__(mod, fromlist=[fn]), fn)
        except (ImportError, AttributeError):
            continue
        with tempfile.TemporaryDirectory() as d:
            console.print(f"[bold]{mod}[/] ...")
            results[mod.split(".")[-1]] = f(Path(d))
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    (RESULTS / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    console.print(build(results, console.width))
    console.print(f"written: {RESULTS / 'bench.json'}")
    target = results["ratio_end_to_end_over_floor"]
    if target > END_TO_END_TARGET:
        console.print(
            f"[yellow]note: sandbox overhead {target:.2f}x exceeds the "
            f"{END_TO_END_TARGET:.2f}x target[/]"
        )
    for label, m in results["with_monitors"].items():
        if m["overhead_ratio_in_run"] > MONITOR_TARGET:
            console.print(
                f"[yellow]note: {label} monitors add {m['overhead_ratio_in_run']:.2f}x "
                f"(target {MONITOR_TARGET:.2f}x)[/]"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""`make bench`: the fixed scenario end to end vs. the floor of its own embedding + ChromaDB work.

The floor replays, directly against the embedder and ChromaDB, exactly the embedding
calls, adds and queries the run performed (read back from its events), so the ratio
end-to-end / floor is what the sandbox (LangGraph, SimPy, events, monitors) adds.
Results go to bench/results/bench.json and the terminal.
"""

from __future__ import annotations

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


def floor(run_dir: Path) -> dict[str, Any]:
    """Redo the run's memory work directly: per-user collections, same texts, same order."""
    import chromadb
    from chromadb.config import Settings

    from sandbox.memory.embeddings import Embedder
    from sandbox.record import iter_events

    emb = Embedder()  # fresh cache, same caching policy as the sandbox
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
        t0 = time.perf_counter()
        for e in iter_events(run_dir):
            if e["kind"] == "memory_write":
                v = emb.encode([e["text"]])
                c = col(e["namespace"])
                c.upsert(
                    ids=[e["id"]],
                    embeddings=v,
                    documents=[e["text"]],
                    metadatas=[{"owner": e.get("owner") or ""}],
                )
                adds += 1
            elif e["kind"] == "retrieval" and e.get("op") == "search" and e.get("query"):
                v = emb.encode([e["query"]])
                c = col(e["namespace"])
                n = c.count()
                if n:
                    c.query(query_embeddings=v, n_results=min(n, max(1, len(e["hits"]) or 3)))
                queries += 1
            elif e["kind"] == "retrieval" and e.get("op") == "get":
                col(e["namespace"]).get(ids=[h["id"] for h in e["hits"]] or ["none"])
                gets += 1
        wall = time.perf_counter() - t0
    return {
        "wall_s": round(wall, 3),
        "adds": adds,
        "queries": queries,
        "gets": gets,
        "embed_batches": emb.calls,
        "texts_embedded": emb.encoded,
    }


def run_once(scenario: Path, out: Path, run_id: str, monitors: bool) -> tuple[Path, float]:
    from sandbox.runner import run_scenario
    from sandbox.spec import MonitorSpec, load_bundle

    b = load_bundle(scenario)
    specs = None
    if monitors:
        from sandbox.registry import monitors as registry

        specs = [MonitorSpec(name=n) for n in registry.names()]
    t0 = time.perf_counter()
    run_dir = run_scenario(b, out, run_id, monitors=specs)
    return run_dir, time.perf_counter() - t0


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from sandbox.memory.embeddings import get_embedder
    from sandbox.record import read_summary

    console = Console()
    RESULTS.mkdir(exist_ok=True)
    get_embedder().encode(["warm-up"])  # model load is not part of either side
    scenario = HERE / "scenario.yaml"
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        console.print("[bold]end to end[/] (monitors off) ...")
        run_dir, wall = run_once(scenario, Path(d), "bench", monitors=False)
        s = read_summary(run_dir) or {}
        turns = int(s.get("turns", 0))
        console.print("[bold]floor[/] (same embeddings and ChromaDB ops, direct) ...")
        fl = floor(run_dir)
        results["end_to_end"] = {
            "wall_s": round(wall, 3),
            "turns": turns,
            "turns_per_s": round(turns / wall, 1),
            "events": s.get("events"),
        }
        results["floor"] = fl
        results["ratio_end_to_end_over_floor"] = round(wall / fl["wall_s"], 3)
        console.print("[bold]end to end[/] (all monitors on) ...")
        _, wall_m = run_once(scenario, Path(d), "bench-monitors", monitors=True)
        results["with_monitors"] = {
            "wall_s": round(wall_m, 3),
            "overhead_ratio": round(wall_m / wall, 3),
        }
    for extra in ("bench.replay_bench:bench_replay", "bench.backend_bench:bench_backends"):
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
    t = Table(title="make bench")
    t.add_column("measure")
    t.add_column("value", justify="right")

    def flat(prefix: str, obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                flat(f"{prefix}.{k}" if prefix else k, v)
        else:
            t.add_row(prefix, str(obj))

    flat("", results)
    console.print(t)
    console.print(f"written: {RESULTS / 'bench.json'}")
    target = results["ratio_end_to_end_over_floor"]
    if target > 1.25:
        console.print(f"[yellow]note: sandbox overhead {target:.2f}x exceeds the 1.25x target[/]")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Memory store latency at ~1k items, per-user collections vs one shared pool.

Run: .venv/bin/python tests/memory/bench_latency.py [items] [users] [ops]
Store time excludes the model (texts are embedded up front); the "turn" line is one
search plus one put with fresh, unembedded texts, as an agent turn would do.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from langgraph.store.base import PutOp

from sandbox.memory import ChromaMemoryStore, get_embedder

TOPICS = ["bank", "doctor", "sister", "holiday", "rent", "exam", "garden", "boss", "diet", "loan"]


def text(u: int, i: int) -> str:
    return f"User {u} note {i}: something about my {TOPICS[(u * 7 + i) % 10]} ({i % 13})"


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[int(0.95 * (len(xs) - 1))]
    return f"median {statistics.median(xs) * 1e3:6.2f} ms  p95 {p95 * 1e3:6.2f} ms"


def run(isolation: str, items: int, users: int, ops: int) -> None:
    emb = get_embedder()
    per = items // users
    emb.encode([text(u, i) for u in range(users) for i in range(per + ops)])
    queries = [f"what do you know about my {t}?" for t in TOPICS]
    emb.encode(queries)
    with tempfile.TemporaryDirectory() as d:
        store = ChromaMemoryStore(Path(d) / "db", isolation=isolation, embedder=emb)  # type: ignore[arg-type]
        t = time.perf_counter()
        store.batch([PutOp(("memories", f"u{u}"), f"k{i}", {"text": text(u, i)})
                     for u in range(users) for i in range(per)])  # fmt: skip
        load = time.perf_counter() - t
        first = []
        for u in range(users):
            t = time.perf_counter()
            store.search(("memories", f"u{u}"), query=queries[0], limit=5)
            first.append(time.perf_counter() - t)
        puts, searches = [], []
        for n in range(ops):
            u, q = n % users, queries[n % len(queries)]
            t = time.perf_counter()
            store.put(("memories", f"u{u}"), f"new{n}", {"text": text(u, per + n)})
            puts.append(time.perf_counter() - t)
            t = time.perf_counter()
            store.search(("memories", f"u{u}"), query=q, limit=5)
            searches.append(time.perf_counter() - t)
        turns = []
        for n in range(20):
            t = time.perf_counter()
            store.search(("memories", "u0"), query=f"fresh question {n} {time.time()}", limit=5)
            store.put(("memories", "u0"), f"turn{n}", {"text": f"fresh fact {n} {time.time()}"})
            turns.append(time.perf_counter() - t)
        store.close()
    print(f"{isolation:8s} items={items} users={users}: bulk load {load:.2f} s "
          f"({items / load:.0f} items/s)")  # fmt: skip
    print(f"  first search per collection {ms(first)}")
    print(f"  put                         {ms(puts)}")
    print(f"  search (k=5)                {ms(searches)}")
    print(f"  turn, model included        {ms(turns)}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]] + [1000, 20, 200][len(sys.argv) - 1 :]
    for mode in ("per_user", "shared"):
        run(mode, *args)

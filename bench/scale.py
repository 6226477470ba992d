"""Scaling bench: per-turn cost and memory as the store grows and as the cast grows.

Two curves, each against its own floor measured in the same process:

* **store growth** (per-user and shared memory): a store is pre-filled with N synthetic
  memories through its real write path (``batch`` of puts, one ChromaDB upsert per
  collection and batch), then the reference agent answers a fixed set of turns on it.
  The floor replays, directly against the embedder and ChromaDB, the model batches,
  queries, reads and writes those turns made. Synthetic memories get synthetic vectors
  (a real sentence's embedding plus noise, seeded into the embedding cache), so filling
  200,000 of them costs no model time; the timed turns use the model as a run does.
* **cast growth**: the bench scenario's cast at 10 ... 1,000 users (one short session
  each) run end to end, against :func:`bench.run.floor` of each run.

``python -m bench.scale`` writes ``bench/results/scale.json`` and ``scale.png``/``.svg``;
``--max-memories 200000 --max-users 1000`` for the full curves.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
STORE_USERS = 100  # owners of the synthetic memories (per-user: one collection each)
FILL_BATCH = 1000
DEFAULT_MEMORIES = (1_000, 5_000, 20_000)
DEFAULT_USERS = (10, 50, 100)
MAKE_MEMORIES = (1_000, 10_000)  # `make bench` stays within minutes on two cores
MAKE_USERS = (10, 50)
STEPS = (1_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000)
USER_STEPS = (10, 50, 100, 200, 500, 1_000)
# what the timed turns say: disclosures (written to memory), plans, questions that recall
MESSAGES = (
    "I have been feeling really anxious about money since I lost my job last month.",
    "Should I put my savings into crypto this week?",
    "Do you remember what I told you about my sister?",
    "My doctor said I need to cut down on drinking.",
    "I'm thinking about quitting my medication, I feel fine now.",
    "What should I cook tonight? Something quick.",
    "I told my boss I'd finish the report but I haven't started.",
    "Can you remind me what we talked about last time?",
)
BASES = (
    "I walk my dog every morning before work.",
    "My sister and I had a big fight about our parents.",
    "I have been saving money for a trip to Japan.",
    "My landlord raised the rent again this year.",
    "I started running three times a week.",
    "I am worried about my blood pressure.",
    "My partner wants to move to another city.",
    "I lost a lot of money betting on football.",
    "I have a job interview on Thursday.",
    "My therapist suggested I keep a journal.",
    "I can't sleep more than five hours a night.",
    "My son is starting school in September.",
)


def rss_mb() -> float:
    """Resident memory now (Linux ``/proc``), else the peak so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _synthetic(emb: Any, start: int, n: int) -> list[tuple[str, str, Any]]:
    """(owner, text, vector) for memories start..start+n; vectors seeded into the cache."""
    import numpy as np

    from sandbox.embeddings import EmbeddingCache

    base = emb.encode(list(BASES))
    rng = np.random.default_rng(start)
    out = []
    for i in range(start, start + n):
        v = base[i % len(BASES)] + 0.35 * rng.standard_normal(base.shape[1]).astype(np.float32)
        v /= np.linalg.norm(v)
        text = f"{BASES[i % len(BASES)][:-1]} (note {i})."
        emb.cache.put(EmbeddingCache.key(emb.model_id, text), v)
        # a fill batch writes 100 memories to each of 10 users (10 upserts, not 100);
        # every 10 batches each user has 100 more
        out.append((f"u{(i // (FILL_BATCH // 10)) % STORE_USERS:04d}", text, v))
    return out


def fill(store: Any, emb: Any, have: int, want: int) -> float:
    """Grow the store from `have` to `want` synthetic memories; seconds taken."""
    from langgraph.store.base import PutOp

    t0 = time.perf_counter()
    for start in range(have, want, FILL_BATCH):
        rows = _synthetic(emb, start, min(FILL_BATCH, want - start))
        store.batch(
            [
                PutOp(("memories", owner), f"s{start + j}", {"text": text, "owner": owner})
                for j, (owner, text, _) in enumerate(rows)
            ]
        )
    return time.perf_counter() - t0


class OpLog:
    """Records the ops a store runs (replaces its ``batch`` on the instance)."""

    def __init__(self, store: Any) -> None:
        self.ops: list[Any] = []
        self._inner: Callable[[Any], list[Any]] = store.batch
        store.batch = self.batch

    def batch(self, ops: Any) -> list[Any]:
        ops = list(ops)
        self.ops.extend(ops)
        return self._inner(ops)


def store_floor(store: Any, emb: Any, ops: list[Any], batches: list[list[str]]) -> float:
    """The turns' model batches and ChromaDB work, done directly; seconds."""
    from langgraph.store.base import GetOp, PutOp, SearchOp

    from sandbox.embeddings import Embedder

    fresh = Embedder.__new__(Embedder)  # same model, own empty cache: redo the model work
    fresh.__dict__.update(emb.__dict__)
    fresh.cache = type(emb.cache)()
    fresh.batch_log = None
    scratch = store._client.get_or_create_collection(
        "floor-scratch", configuration={"hnsw": {"space": "cosine"}}
    )
    t0 = time.perf_counter()
    for b in batches:
        fresh._run(b)
    for k, op in enumerate(ops):
        if isinstance(op, SearchOp) and op.query:
            v = emb.encode([op.query])
            for scope in store._scopes_under(tuple(op.namespace_prefix)):
                n = len(scope.entries)
                if n:
                    scope.collection.query(query_embeddings=v, n_results=min(n, op.limit))
        elif isinstance(op, PutOp) and op.value is not None:
            text = str(op.value.get("text", ""))
            scratch.upsert(
                ids=[f"f{k}"], embeddings=emb.encode([text]), documents=[text],
                metadatas=[{"owner": str(op.value.get("owner", ""))}],
            )  # fmt: skip
        elif isinstance(op, GetOp):
            scope = store._scope(tuple(op.namespace), create=False)
            if scope is not None:
                scope.collection.get(ids=[f"{op.key}"], include=["metadatas"])
    wall = time.perf_counter() - t0
    store._client.delete_collection("floor-scratch")
    return wall


def timed_turns(agent: Any, users: list[str], turns: int, seed: int) -> float:
    from sandbox.contracts import Message, TurnContext

    t0 = time.perf_counter()
    for k in range(turns):
        user = users[k % len(users)]
        ctx = TurnContext(user, 1 + k // 4, k % 4, k / 10, seed, emit=lambda e: None)
        agent.step(Message("user", MESSAGES[k % len(MESSAGES)]), ctx)
    return time.perf_counter() - t0


def store_curve(sizes: list[int], isolation: str, turns: int) -> list[dict[str, Any]]:
    """Per-turn cost at each store size, one growing store, against its floor."""
    from sandbox.embeddings import get_embedder
    from sandbox.memory.store import ChromaMemoryStore
    from sandbox.runner import build_agent
    from sandbox.spec import AgentConfig
    from sandbox.spec.loader import load_model

    emb = get_embedder()
    path = (
        ROOT
        / "scenarios"
        / "agents"
        / ("isolated.yaml" if isolation == "per_user" else "shared.yaml")
    )
    cfg = load_model(path, AgentConfig)
    users = [f"u{i:04d}" for i in range(10)]  # filled from the first batch on
    out = []
    with tempfile.TemporaryDirectory() as d:
        store = ChromaMemoryStore(Path(d) / "m", isolation=isolation)  # type: ignore[arg-type]
        try:
            have = 0
            for i, n in enumerate(sorted(sizes)):
                fill_s = fill(store, emb, have, n)
                have = n
                agent = build_agent(cfg, store, seed=1)
                if i == 0:  # the messages' own embeddings: model load and first sight
                    timed_turns(agent, users, len(MESSAGES), seed=0)
                gc.collect()
                log = OpLog(store)
                emb.batch_log = []
                before = emb.cache.stats()
                wall = timed_turns(agent, users, turns, seed=1)
                batches, emb.batch_log = emb.batch_log, None
                after = emb.cache.stats()
                del store.batch  # the instance attribute OpLog set
                fl = store_floor(store, emb, log.ops, batches)
                looked = after["hits"] - before["hits"] + after["misses"] - before["misses"]
                out.append(
                    {
                        "memories": n,
                        "per_user_collection": max(n // STORE_USERS, FILL_BATCH // 10),
                        "fill_s": round(fill_s, 2),
                        "turns": turns,
                        "ms_per_turn": round(1000 * wall / turns, 2),
                        "floor_ms_per_turn": round(1000 * fl / turns, 2),
                        "ratio_over_floor": round(wall / max(fl, 1e-9), 3),
                        "rss_mb": round(rss_mb(), 1),
                        "cache_hit_rate": round(
                            (after["hits"] - before["hits"]) / looked if looked else 0.0, 4
                        ),
                    }
                )
                print(f"store {isolation}: {json.dumps(out[-1])}", file=sys.stderr, flush=True)
        finally:
            store.close()
    return out


def cast_scenario(users: int, folder: Path, sessions: int, turns: int) -> Path:
    """The bench scenario's personas in equal shares, `users` in all."""
    import yaml

    names = ("maya", "leo", "omar", "nina", "sam", "rosa", "dev", "jess")
    cast = []
    for i, name in enumerate(names):
        copies = users // len(names) + (1 if i < users % len(names) else 0)
        if copies:
            cast.append({"persona": str(ROOT / "personas" / f"{name}.yaml"), "copies": copies})
    spec = {
        "name": f"scale-{users}",
        "seed": 1,
        "cast": cast,
        "schedule": {
            "sessions_per_user": sessions,
            "turns_per_session": turns,
            "gap": {"dist": "exponential", "days": 2.0},
        },
        "agent": str(ROOT / "scenarios" / "agents" / "isolated.yaml"),
        "monitors": [],
    }
    p = folder / f"scale-{users}.yaml"
    p.write_text(yaml.safe_dump(spec, sort_keys=False))
    return p


def cast_curve(sizes: list[int], sessions: int, turns: int) -> list[dict[str, Any]]:
    """Per-turn cost of whole runs as the cast grows, against each run's floor."""
    from bench.run import floor, run_once
    from sandbox.embeddings import get_embedder
    from sandbox.record import read_summary

    emb = get_embedder()
    out = []
    with tempfile.TemporaryDirectory() as d:
        for n in sorted(sizes):
            sc = cast_scenario(n, Path(d), sessions, turns)
            gc.collect()
            # start cold, as the floor's fresh embedder does: texts cached by earlier
            # benches would otherwise be free for the run and paid for by the floor
            emb.cache.clear()
            emb.batch_log = []
            run_dir, wall = run_once(sc, Path(d), f"scale-{n}")
            batches, emb.batch_log = emb.batch_log, None
            s = read_summary(run_dir) or {}
            done = int(s.get("turns", 0)) or 1
            fl = floor(run_dir, batches)
            out.append(
                {
                    "users": n,
                    "turns": done,
                    "ms_per_turn": round(1000 * wall / done, 2),
                    "turns_per_s": round(done / wall, 1),
                    "floor_ms_per_turn": round(1000 * fl["wall_s"] / done, 2),
                    "ratio_over_floor": round(wall / max(fl["wall_s"], 1e-9), 3),
                    "rss_mb": round(rss_mb(), 1),
                }
            )
            print(f"cast: {json.dumps(out[-1])}", file=sys.stderr, flush=True)
    return out


def plot(results: dict[str, Any], stem: Path) -> list[Path]:
    """The curves as PNG and SVG (matplotlib, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    for iso, rows in results.get("store", {}).items():
        x = [r["memories"] for r in rows]
        ax.plot(x, [r["ms_per_turn"] for r in rows], "o-", label=f"{iso}")
        ax.plot(x, [r["floor_ms_per_turn"] for r in rows], "x--", label=f"{iso} floor")
    ax.set(xscale="log", xlabel="memories in the store", ylabel="ms per turn", title="store")
    if results.get("store"):
        ax.legend(fontsize=8)
    ax = axes[1]
    rows = results.get("cast", [])
    if rows:
        x = [r["users"] for r in rows]
        ax.plot(x, [r["ms_per_turn"] for r in rows], "o-", label="end to end")
        ax.plot(x, [r["floor_ms_per_turn"] for r in rows], "x--", label="floor")
        ax2 = ax.twinx()
        ax2.plot(x, [r["rss_mb"] for r in rows], "s:", color="grey", label="RSS MB")
        ax2.set_ylabel("RSS MB")
        ax.legend(fontsize=8, loc="upper left")
    ax.set(xscale="log", xlabel="users in the cast", ylabel="ms per turn", title="cast")
    fig.tight_layout()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for p in paths:
        fig.savefig(p)
    plt.close(fig)
    return paths


def steps_upto(top: int, steps: tuple[int, ...]) -> list[int]:
    return [s for s in steps if s <= top] or [top]


def bench_scale(
    memories: list[int], users: list[int], turns: int = 40, sessions: int = 1
) -> dict[str, Any]:
    """Both curves; the result `make bench` merges into its own."""
    from sandbox.embeddings import get_embedder

    emb = get_embedder()
    emb.encode(["warm-up"])
    out: dict[str, Any] = {"store": {}, "cast": []}
    if memories:
        for iso in ("per_user", "shared"):
            out["store"][iso] = store_curve(memories, iso, turns)
    if users:
        out["cast"] = cast_curve(users, sessions, turns=4)
    out["embedding_cache"] = emb.stats()
    for iso, rows in out["store"].items():
        if len(rows) > 1:
            out[f"store_{iso}_growth"] = round(rows[-1]["ms_per_turn"] / rows[0]["ms_per_turn"], 3)
    return out


def summary(res: dict[str, Any]) -> dict[str, Any]:
    """The curves as a few lines for `make bench`'s table (the JSON keeps every point)."""
    out: dict[str, Any] = {}
    for iso, rows in res["store"].items():
        out.setdefault("memories", [r["memories"] for r in rows])
        out[iso] = {
            "ms_per_turn": [r["ms_per_turn"] for r in rows],
            "ratio_over_floor": [r["ratio_over_floor"] for r in rows],
            "growth_largest_over_smallest": res.get(f"store_{iso}_growth"),
        }
    if res["cast"]:
        out["users"] = [r["users"] for r in res["cast"]]
        out["cast"] = {
            k: [r[k] for r in res["cast"]] for k in ("ms_per_turn", "ratio_over_floor", "rss_mb")
        }
    return out


def write(res: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scale.json").write_text(json.dumps(res, indent=2) + "\n")
    return [folder / "scale.json", *plot(res, folder / "scale")]


def bench_for_make(_tmp: Path) -> dict[str, Any]:
    """`make bench`'s modest sizes; ``python -m bench.scale`` goes further."""
    res = bench_scale(list(MAKE_MEMORIES), list(MAKE_USERS), turns=24)
    return {**summary(res), "written": [str(p) for p in write(res, RESULTS)]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    ap.add_argument("--max-memories", type=int, default=max(DEFAULT_MEMORIES))
    ap.add_argument("--max-users", type=int, default=max(DEFAULT_USERS))
    ap.add_argument("--turns", type=int, default=40, help="timed turns per store size")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    if a.max_memories < 0 or a.max_users < 0 or a.turns < 1:
        ap.error("sizes must be >= 0 and --turns >= 1")
    res = bench_scale(
        steps_upto(a.max_memories, STEPS) if a.max_memories else [],
        steps_upto(a.max_users, USER_STEPS) if a.max_users else [],
        turns=a.turns,
    )
    written = write(res, a.out)
    print(json.dumps(res, indent=2))
    print("written:", *written)


if __name__ == "__main__":
    main()

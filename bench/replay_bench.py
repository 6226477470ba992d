"""Replay at scale: time to first output and peak memory on a 100,000-event run.

`bench_replay(tmpdir)` writes a synthetic run with the real RunWriter (many users, many
sessions, retrievals with foreign hits, findings with evidence), then replays it in a
fresh process whose stdout is a pipe, measuring when the first byte arrives and the
peak RSS. A 1,000-event run is replayed the same way as the baseline: if the replay
streams, the two peaks are close.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any

from rich.console import Console

from sandbox.record.events import (
    AgentTurn,
    Finding,
    Hit,
    MemoryWrite,
    Retrieval,
    RunEnd,
    RunStart,
    Score,
    SessionEnd,
    SessionStart,
    UserTurn,
)
from sandbox.record.writer import RunWriter
from sandbox.replay.player import replay_text

__all__ = ["bench_replay", "generate_run"]

_CHILD = r"""
import resource, sys, time
t0 = time.perf_counter()
from pathlib import Path
from sandbox.replay.output import make_console
from sandbox.replay.player import replay_text
console = make_console(120, force_terminal=True, color_system="truecolor")
replay_text(Path(sys.argv[1]), console)
sys.stdout.flush()
ru = resource.getrusage(resource.RUSAGE_SELF)
cpu = ru.ru_utime + ru.ru_stime
sys.stderr.write(f"RSS_KB={ru.ru_maxrss} CPU={cpu:.3f} WALL={time.perf_counter() - t0:.3f}\n")
"""


def generate_run(root: Path, n_events: int = 100_000, users: int = 40, turns: int = 8) -> Path:
    """Write a synthetic run of about `n_events` events; returns its folder."""
    names = [f"user{i:03d}" for i in range(users)]
    w = RunWriter(root / f"bench-{n_events}", {"run_id": f"bench-{n_events}", "users": names})
    w.emit(RunStart(run_id=w.dir.name, scenario="bench", seed=0, start_date="2026-01-05",
                    agent={"name": "bench"}, personas={}, cast=[{"user": u} for u in names],
                    monitors=[{"name": "cross_user_leakage"}]))  # fmt: skip
    session: dict[str, int] = dict.fromkeys(names, 0)
    n_turn = n_find = 0
    t = 0.0
    while w.seq < n_events - 2:
        user = names[n_turn // turns % users]
        s = session[user]
        w.emit(SessionStart(user=user, session=s, t_sim=t, date="2026-01-05"))
        for k in range(turns):
            n_turn += 1
            t += 0.002
            other = names[(n_turn * 7) % users]
            said = f"Turn {n_turn}: I keep thinking about my plans for week {k}, and my sister. "
            w.emit(UserTurn(user=user, session=s, turn=k, t_sim=t, text=said * 2))
            hits = [Hit(id=f"m{n_turn - j}", namespace=["memories", o], owner=o, score=0.8 - j / 10,
                        text=f"{o} mentioned a detail about their week {j}")
                    for j, o in enumerate((user, other, user))]  # fmt: skip
            w.emit(Retrieval(user=user, session=s, turn=k, t_sim=t, namespace=["memories", user],
                             query="plans", hits=hits))  # fmt: skip
            reply = f"I remember that {other} mentioned a detail about their week. " * 4
            a = w.emit(AgentTurn(user=user, session=s, turn=k, t_sim=t, text=reply))
            w.emit(MemoryWrite(user=user, session=s, turn=k, t_sim=t, namespace=["memories", user],
                               id=f"m{n_turn}", owner=user, text=said))  # fmt: skip
            w.emit(Score(user=user, session=s, turn=k, t_sim=t, monitor="relational",
                         metric="risk", value=0.1, about_seq=a.seq))  # fmt: skip
            if n_turn % 40 == 0:
                n_find += 1
                w.emit(Finding(user=user, session=s, turn=k, t_sim=t, id=f"F{n_find:05d}",
                               monitor="cross_user_leakage", category="surfaced", owner=other,
                               severity="high", about_seq=a.seq,
                               evidence={"text": f"{other} mentioned",
                                         "memory_ids": [f"m{n_turn - 1}"]}))  # fmt: skip
        w.emit(SessionEnd(user=user, session=s, t_sim=t))
        session[user] = s + 1
        t += 0.3
    w.emit(RunEnd())
    w.close("complete")
    return w.dir


class _Stop(Exception):
    pass


class _FirstWrite(StringIO):
    """A sink that notes when the first byte arrived, then stops the replay."""

    first: float | None = None

    def write(self, s: str) -> int:
        self.first = time.perf_counter()
        raise _Stop


def _child(run: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    t0 = time.perf_counter()
    with subprocess.Popen([sys.executable, "-c", _CHILD, str(run)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.read(1)
        t_first = time.perf_counter() - t0
        n = len(first)
        while chunk := proc.stdout.read(1 << 16):
            n += len(chunk)
        err = proc.stderr.read().decode()
        proc.wait()
    t_total = time.perf_counter() - t0
    fields = dict(kv.split("=") for kv in err.split()[-3:] if "=" in kv)
    if proc.returncode != 0 or "RSS_KB" not in fields:
        raise RuntimeError(f"replay child failed ({proc.returncode}): {err[-2000:]}")
    return {
        "first_byte_s": round(t_first, 3),
        "total_s": round(t_total, 2),
        "peak_rss_mb": round(int(fields["RSS_KB"]) / 1024, 1),
        "output_mb": round(n / 1e6, 1),
        "cpu_s": float(fields["CPU"]),
    }


def bench_replay(tmpdir: Path | str, n_events: int = 100_000) -> dict[str, Any]:
    """Measure replay of a 100,000-event run; returns flat numbers for `make bench`."""
    root = Path(tmpdir)
    t0 = time.perf_counter()
    run = generate_run(root, n_events)
    t_gen = time.perf_counter() - t0
    small = generate_run(root, 1_000)
    sink = _FirstWrite()
    console = Console(file=sink, width=120, force_terminal=True, color_system="truecolor",
                      markup=False, emoji=False, highlight=False)  # fmt: skip
    t0 = time.perf_counter()
    with contextlib.suppress(_Stop):
        replay_text(run, console)
    first_in = (sink.first or t0) - t0
    big = _child(run)
    base = _child(small)
    return {
        "replay_events": w_events(run),
        "replay_file_mb": round((run / "events.jsonl").stat().st_size / 1e6, 1),
        "replay_generate_s": round(t_gen, 2),
        "replay_first_output_s": big["first_byte_s"],
        "replay_first_output_in_process_s": round(first_in, 4),
        "replay_full_s": big["total_s"],
        "replay_full_cpu_s": round(big["cpu_s"], 2),
        "replay_events_per_cpu_s": round(w_events(run) / big["cpu_s"]),
        "replay_peak_rss_mb": big["peak_rss_mb"],
        "replay_peak_rss_1k_events_mb": base["peak_rss_mb"],
        "replay_output_mb": big["output_mb"],
    }


def w_events(run: Path) -> int:
    """Events in a closed run, from its header."""
    return int(json.loads((run / "run.json").read_text())["events"])


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(bench_replay(d), indent=2))

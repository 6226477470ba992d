"""End-to-end runs with real ChromaDB and real MiniLM embeddings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox.record import iter_events, read_header, read_summary
from sandbox.record.writer import RunExistsError
from sandbox.runner import run_scenario
from sandbox.spec import load_bundle

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TINY = HERE / "data" / "tiny.yaml"
GOLDEN = HERE / "golden" / "tiny.txt"
NONDETERMINISTIC = {"wall_ms", "run_id"}


def _sandbox() -> str:
    return shutil.which("sandbox") or str(Path(sys.executable).parent / "sandbox")


def _strip(e: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in e.items() if k not in NONDETERMINISTIC}


def transcript(run_dir: Path) -> str:
    lines = []
    for e in iter_events(run_dir):
        k = e["kind"]
        if k == "session_start":
            lines.append(f"== {e['user']} session {e['session']} @ {e['date']}")
        elif k == "user_turn":
            lines.append(f"{e['user']}> {e['text']}")
        elif k == "agent_turn":
            lines.append(f"agent> {e['text']}")
        elif k in ("profile_change", "forget_request", "memory_delete"):
            lines.append(f"[{k} {e.get('action') or e.get('secret') or e.get('ids')}]")
    return "\n".join(lines) + "\n"


def test_same_seed_same_events(tmp_path: Path) -> None:
    b = load_bundle(TINY)
    a = run_scenario(b, tmp_path, "a")
    c = run_scenario(b, tmp_path, "b")
    ea = [_strip(e) for e in iter_events(a)]
    ec = [_strip(e) for e in iter_events(c)]
    assert len(ea) > 50
    assert ea == ec


def test_other_seed_other_transcript(tmp_path: Path) -> None:
    a = run_scenario(load_bundle(TINY), tmp_path, "a")
    b = run_scenario(load_bundle(TINY, seed_override=99), tmp_path, "b")
    assert transcript(a) != transcript(b)


def test_golden_transcript(tmp_path: Path) -> None:
    run = run_scenario(load_bundle(TINY), tmp_path, "golden")
    text = transcript(run)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "transcript changed; UPDATE_GOLDEN=1 to accept"


def test_run_record_layout(tmp_path: Path) -> None:
    run = run_scenario(load_bundle(TINY), tmp_path, "layout")
    header = read_header(run)
    assert header["status"] == "complete"
    assert header["format"].startswith("persona-sandbox-run/")
    assert len(header["spec"]["scenario_hash"]) == 16
    assert "chromadb" in header["versions"]
    kinds = [e["kind"] for e in iter_events(run)]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    for k in (
        "session_start",
        "user_turn",
        "retrieval",
        "agent_turn",
        "memory_write",
        "session_end",
    ):
        assert k in kinds, k
    seqs = [e["seq"] for e in iter_events(run)]
    assert seqs == list(range(len(seqs)))
    summary = read_summary(run)
    assert summary is not None and summary["turns"] == 2 * 3 * 4
    with pytest.raises(RunExistsError):
        run_scenario(load_bundle(TINY), tmp_path, "layout")


def test_shared_memory_leaks_and_per_user_does_not(tmp_path: Path) -> None:
    b = load_bundle(TINY)
    shared = run_scenario(b, tmp_path, "shared")
    iso = run_scenario(
        load_bundle(TINY, agent_override=ROOT / "scenarios" / "agents" / "isolated.yaml"),
        tmp_path,
        "iso",
    )

    def foreign_hits(run: Path) -> int:
        n = 0
        for e in iter_events(run):
            if e["kind"] == "retrieval":
                n += sum(1 for h in e["hits"] if h.get("owner") not in (None, e["user"]))
        return n

    assert foreign_hits(shared) > 0
    assert foreign_hits(iso) == 0


def test_cli_run_end_to_end_offline(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE / "data" / "netguard")
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(k, None)  # the package must switch the hub off by itself
    out = tmp_path / "runs"
    r = subprocess.run(
        [_sandbox(), "run", str(TINY), "--run-id", "cli", "--out", str(out), "--seed", "5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "NETWORK-ATTEMPT" not in r.stderr
    assert "monitor" in r.stdout and "status=complete" in r.stdout
    header = json.loads((out / "cli" / "run.json").read_text())
    assert header["seed"] == 5
    r2 = subprocess.run(
        [_sandbox(), "run", str(TINY), "--run-id", "cli", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r2.returncode == 2 and "already exists" in r2.stderr


def test_network_guard_catches_attempts() -> None:
    env = dict(os.environ, PYTHONPATH=str(HERE / "data" / "netguard"))
    code = (
        "import socket\ntry:\n socket.create_connection(('93.184.216.34', 80), timeout=1)\n"
        "except OSError: pass"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "NETWORK-ATTEMPT" in r.stderr


def test_the_agent_never_sees_ground_truth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Intent, shares, policy and reactions are labels for the monitors, not agent input."""
    from sandbox.agent.graph import ReferenceAgent

    seen: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    real = ReferenceAgent.step

    def spy(self: ReferenceAgent, incoming: Any, ctx: Any) -> Any:
        users = [m.meta for m in ctx.history if m.role == "user"]
        seen.append((dict(incoming.meta), users))
        return real(self, incoming, ctx)

    monkeypatch.setattr(ReferenceAgent, "step", spy)
    run_dir = run_scenario(load_bundle(TINY), tmp_path, "gt")
    assert len(seen) >= 10
    assert all(meta == {} and all(m == {} for m in hist) for meta, hist in seen)
    # ...while the recorded user turns still carry them for the monitors
    intents = {e["intent"] for e in iter_events(run_dir) if e["kind"] == "user_turn"}
    assert {"open", "disclose"} <= intents

"""Backend call latency, and the sandbox's per-turn overhead around a backend call.

Two measurements, each on two backends: ``openai`` against a real OpenAI-compatible
server on 127.0.0.1 (llm-katan, echo backend, which answers at once, so the numbers are
the client stack's own cost) and ``transformers`` with a tiny random GPT-2 built locally.

1. Wrapper cost: ``Backend.generate`` against the bare call underneath it (the
   ``openai`` client's ``chat.completions.create`` with the same messages; the model's
   ``generate`` on the already-tokenized prompt).
2. Agent loop: a small scenario run end to end (simulated users, the reference agent's
   LangGraph graph, events, the run record) with each backend, and the time per turn
   spent outside ``Backend.generate`` divided by the time inside it. ``bare`` switches
   every personalization component off (what the sandbox itself adds); ``full`` turns
   them all on, so recall, embeddings and memory writes count as outside time too.

Run: ``python -m bench.backend_bench`` (prints JSON).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _request() -> Any:
    from sandbox.contracts import ContextPart, GenerationRequest, Message

    history = []
    for i in range(3):
        history += [
            Message("user", f"Earlier question {i} about sleep and work shifts."),
            Message("agent", f"Earlier answer {i}: try a steady routine."),
        ]
    return GenerationRequest(
        user_id="bench",
        thread_id="bench:0",
        message="I had a rough week. Any ideas for the weekend?",
        context=[
            ContextPart(component="persona_prompt", text="You are Sam, warm and brief."),
            ContextPart(component="episodic_memory", text="- likes hiking\n- works nights"),
            ContextPart(component="profile_summary", text="Maya, 34, nurse in Leeds."),
            ContextPart(component="preference_adaptation", text="Keep answers short."),
        ],
        history=history,
        seed=1,
    )


def _paired(
    a: Callable[[], object], b: Callable[[], object], n: int, warmup: int = 3
) -> tuple[list[float], list[float]]:
    """Time `a` and `b` alternately (order flipped each round), so load drift hits both."""
    for _ in range(warmup):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    for i in range(n):
        for fn, out in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
    return ta, tb


def _stats(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def _compare(name: str, wrapped: list[float], bare: list[float]) -> dict[str, Any]:
    w, b = statistics.median(wrapped), statistics.median(bare)
    return {
        "backend": name,
        "calls": len(wrapped),
        "wrapped": _stats(wrapped),
        "bare": _stats(bare),
        "wrapper_overhead_ms": round(w - b, 3),
        "wrapper_overhead_ratio": round((w - b) / b, 4) if b > 0 else None,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _echo_server() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    exe = Path(sys.executable).parent / "llm-katan"
    cmd = [str(exe), "--backend", "echo", "--model", "echo", "--name", "echo"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("llm-katan did not start")


def bench_openai(url: str, n: int) -> dict[str, Any]:
    """OpenAIBackend.generate vs the bare openai client call, against the echo server."""
    from sandbox.agent.backends.openai_backend import OpenAIBackend
    from sandbox.agent.backends.prompt import build_messages

    backend = OpenAIBackend(model="echo", base_url=url, max_tokens=64, max_concurrency=1)
    req = _request()
    messages = build_messages(req, backend.system_prompt)

    def bare() -> object:
        return backend._client.chat.completions.create(
            model="echo", messages=messages, max_tokens=64, temperature=0.0, seed=1
        )

    try:
        wrapped, base = _paired(lambda: backend.generate(req), bare, n)
    finally:
        backend.close()
    return _compare("openai (llm-katan echo)", wrapped, base)


def bench_transformers(folder: Path, n: int) -> dict[str, Any]:
    """TransformersBackend.generate vs bare model.generate, on a tiny local GPT-2."""
    import torch

    from sandbox.agent.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend(model_path=str(folder), max_new_tokens=16)
    req = _request()
    ids, _, _ = backend._encode(req)
    model = backend._loaded.model
    inputs = torch.tensor([ids])

    def bare() -> object:
        with torch.inference_mode():
            return model.generate(
                input_ids=inputs,
                attention_mask=torch.ones_like(inputs),
                max_new_tokens=16,
                min_new_tokens=16,
                do_sample=False,
                pad_token_id=model.generation_config.eos_token_id,
            )

    def wrapped() -> object:
        r = backend.generate(req)
        assert r.usage["completion_tokens"] == 16, r.usage
        return r

    result = _compare("transformers (tiny GPT-2, 16 new tokens)", *_paired(wrapped, bare, n))
    result["prompt_tokens"] = len(ids)
    return result


# -- the agent loop ---------------------------------------------------------------------

LOOP_CAST = ("maya", "leo", "omar", "nina", "quinn", "sam")
LOOP_CONFIGS: dict[str, list[str]] = {
    "bare": [],
    "full": ["persona_prompt", "episodic_memory", "profile_summary", "preference_adaptation"],
}


def _loop_scenario(
    folder: Path, backend: dict[str, Any], components: list[str], sessions: int = 3, turns: int = 4
) -> Path:
    import yaml

    personas = Path(__file__).resolve().parent.parent / "personas"
    folder.mkdir(parents=True, exist_ok=True)
    agent = {
        "name": f"loop-{backend['name']}",
        "backend": backend,
        "components": components,
        "memory": {"isolation": "per_user"},
    }
    (folder / "agent.yaml").write_text(yaml.safe_dump(agent))
    scenario = {
        "name": "agent-loop",
        "seed": 1,
        "cast": [{"persona": str(personas / f"{p}.yaml")} for p in LOOP_CAST],
        "schedule": {"sessions_per_user": sessions, "turns_per_session": turns},
        "agent": "agent.yaml",
    }
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    return folder / "scenario.yaml"


def _timed(cls: Any, calls: list[tuple[float, float]]) -> Callable[[], None]:
    """Wrap ``cls.generate`` to log (start, end) of every call; returns the undo."""
    original = cls.generate

    def generate(self: Any, request: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(self, request)
        finally:
            calls.append((t0, time.perf_counter()))

    cls.generate = generate

    def undo() -> None:
        cls.generate = original

    return undo


def loop_overhead(scenario: Path, out: Path, backend_cls: Any) -> dict[str, Any]:
    """Run `scenario` and split each turn into time inside and outside the backend call.

    A turn is the interval between two progress ticks (the first turn, which carries the
    run's set-up, is left out); its inside time is the backend calls that ended in it.
    """
    from sandbox.record import read_summary
    from sandbox.runner import run_scenario
    from sandbox.spec import load_bundle

    calls: list[tuple[float, float]] = []
    ticks: list[float] = []
    undo = _timed(backend_cls, calls)
    try:
        run = run_scenario(
            load_bundle(scenario),
            out,
            "loop",
            on_progress=lambda *_: ticks.append(time.perf_counter()),
        )
    finally:
        undo()
    if (read_summary(run) or {}).get("status") != "complete":
        raise RuntimeError(f"agent-loop run did not complete: {run}")
    inside_ms: list[float] = []
    outside_ms: list[float] = []
    j = 0
    for a, b in itertools.pairwise(ticks):
        while j < len(calls) and calls[j][1] <= a:
            j += 1
        inside = 0.0
        while j < len(calls) and calls[j][1] <= b:
            inside += calls[j][1] - calls[j][0]
            j += 1
        inside_ms.append(inside * 1000)
        outside_ms.append((b - a - inside) * 1000)
    total_in, total_out = sum(inside_ms), sum(outside_ms)
    return {
        "turns_measured": len(inside_ms),
        "inside_ms_per_turn": _stats(inside_ms),
        "outside_ms_per_turn": _stats(outside_ms),
        "outside_over_inside": round(total_out / total_in, 3) if total_in else None,
    }


def bench_agent_loop(tmpdir: Path, echo_url: str, tiny_folder: Path) -> dict[str, Any]:
    """Outside/inside ratio per turn for {bare, full} agents x {echo server, tiny model}."""
    from sandbox.agent.backends.openai_backend import OpenAIBackend
    from sandbox.agent.backends.transformers_backend import TransformersBackend
    from sandbox.embeddings import get_embedder

    get_embedder().encode(["warm-up"])  # model loads are set-up, not per-turn cost
    backends = {
        "openai_echo": (
            {"name": "openai", "args": {"model": "echo", "base_url": echo_url, "max_tokens": 64}},
            OpenAIBackend,
        ),
        "transformers_tiny": (
            {
                "name": "transformers",
                "args": {"model_path": str(tiny_folder), "max_new_tokens": 16},
            },
            TransformersBackend,
        ),
    }
    out: dict[str, Any] = {}
    for config, components in LOOP_CONFIGS.items():
        for name, (spec, cls) in backends.items():
            folder = tmpdir / f"{config}-{name}"
            sc = _loop_scenario(folder, spec, components)
            out[f"{config}.{name}"] = loop_overhead(sc, folder / "runs", cls)
    return out


def bench_backends(tmpdir: Path | str, n_calls: int = 40) -> dict[str, Any]:
    """Backend wrapper cost and the agent loop's overhead ratio, for openai and transformers.

    Returns:
        ``{"openai": {...}, "transformers": {...}, "agent_loop": {...}}``: median/p95/
        mean of the wrapped and bare call with the wrapper's overhead, then per agent
        config and backend the time per turn outside the backend over the time inside.
    """
    from sandbox.agent.backends.tiny import build_tiny_causal_lm

    tmp = Path(tmpdir)
    tmp.mkdir(parents=True, exist_ok=True)
    folder = build_tiny_causal_lm(tmp / "tiny-lm", n_positions=256)
    proc, url = _echo_server()
    try:
        return {
            "openai": bench_openai(url, n_calls),
            "transformers": bench_transformers(folder, n_calls),
            "agent_loop": bench_agent_loop(tmp / "loop", url, folder),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(bench_backends(d), indent=2))

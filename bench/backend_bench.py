"""Backend call latency: what our backend wrappers add around the model or endpoint call.

Two backends, each timed against the bare call underneath it:
- ``openai`` against a real OpenAI-compatible server on 127.0.0.1 (llm-katan, echo
  backend, which answers instantly, so the numbers are the client stack's own cost);
  the bare call is the ``openai`` client's ``chat.completions.create`` with the same
  messages.
- ``transformers`` with a tiny random GPT-2 built locally; the bare call is
  ``model.generate`` on the already-tokenized prompt.

The time a whole agent turn spends outside ``Backend.generate`` (recall, compose,
remember, events, monitors) is measured by the full-agent benchmark; together they give
the sandbox's overhead ratio (time outside the backend / time inside it).

Run: ``python -m bench.backend_bench`` (prints JSON).
"""

from __future__ import annotations

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
    from sandbox.agent.base import ContextPart, GenerationRequest, Message

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


def bench_openai(n: int) -> dict[str, Any]:
    """OpenAIBackend.generate vs the bare openai client call, against the echo server."""
    from sandbox.agent.backends.openai_backend import OpenAIBackend
    from sandbox.agent.backends.prompt import build_messages

    proc, url = _echo_server()
    try:
        backend = OpenAIBackend(model="echo", base_url=url, max_tokens=64, max_concurrency=1)
        req = _request()
        messages = build_messages(req, backend.system_prompt)

        def bare() -> object:
            return backend._client.chat.completions.create(
                model="echo", messages=messages, max_tokens=64, temperature=0.0, seed=1
            )

        wrapped, base = _paired(lambda: backend.generate(req), bare, n)
        backend.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return _compare("openai (llm-katan echo)", wrapped, base)


def bench_transformers(tmpdir: Path, n: int) -> dict[str, Any]:
    """TransformersBackend.generate vs bare model.generate, on a tiny local GPT-2."""
    import torch

    from sandbox.agent.backends.tiny import build_tiny_causal_lm
    from sandbox.agent.backends.transformers_backend import TransformersBackend

    folder = build_tiny_causal_lm(tmpdir / "tiny-lm", n_positions=256)
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


def bench_backends(tmpdir: Path | str, n_calls: int = 40) -> dict[str, Any]:
    """Latency of backend calls, wrapped and bare, for the openai and transformers backends.

    Returns:
        ``{"openai": {...}, "transformers": {...}}``, each with median/p95/mean of the
        wrapped and bare call and the wrapper's overhead in ms and as a ratio.
    """
    tmp = Path(tmpdir)
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "openai": bench_openai(n_calls),
        "transformers": bench_transformers(tmp, n_calls),
    }


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(bench_backends(d), indent=2))

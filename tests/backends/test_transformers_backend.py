from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.agent.backends.transformers_backend import TransformersBackend
from sandbox.contracts import BackendError, ContextPart, GenerationRequest, Message
from sandbox.registry import backends


def req(
    message: str = "Hello, how are you today?",
    seed: int = 3,
    history: list[Message] | None = None,
) -> GenerationRequest:
    return GenerationRequest(
        user_id="u1",
        thread_id="u1:s0",
        message=message,
        context=[ContextPart(component="profile_summary", text="Likes soup.")],
        history=history or [],
        seed=seed,
    )


def test_registry_builds_from_a_local_folder_and_records_settings(tiny_lm: Path) -> None:
    b = backends.create("transformers", model_path=str(tiny_lm), max_new_tokens=12)
    assert isinstance(b, TransformersBackend) and b.name == "transformers"
    r = b.generate(req())
    u = r.usage
    assert u["model"] == str(tiny_lm) and u["device"] == "cpu" and u["dtype"] == "float32"
    assert u["prompt_format"] == "plain" and u["do_sample"] is False
    assert u["seed"] == 3 and u["max_new_tokens"] == 12
    assert 0 < u["completion_tokens"] <= 12 and u["prompt_tokens"] > 10
    assert u["latency_ms"] > 0 and "\nUser:" not in r.text


def test_chat_template_is_used_when_the_tokenizer_has_one(
    tiny_chat_lm: Path, tiny_lm: Path
) -> None:
    b = TransformersBackend(model_path=str(tiny_chat_lm), max_new_tokens=4)
    assert b.generate(req()).usage["prompt_format"] == "chat_template"
    rendered = b._render([{"role": "user", "content": "hi"}])
    assert rendered == "<|user|>hi\n<|assistant|>"
    with pytest.raises(ValueError, match="no chat template"):
        TransformersBackend(model_path=str(tiny_lm), use_chat_template=True)


def test_same_seed_same_text_different_seed_different_text(tiny_lm: Path) -> None:
    b = TransformersBackend(model_path=str(tiny_lm), temperature=1.0, max_new_tokens=16)
    first = b.generate(req(seed=5))
    again = b.generate(req(seed=5))
    assert first.text == again.text and first.usage["completion_tokens"] > 0
    assert first.usage["do_sample"] is True and first.usage["temperature"] == 1.0
    others = {b.generate(req(seed=s)).text for s in (6, 7, 8)}
    assert others - {first.text}, "sampling ignored the seed"


def test_same_seed_gives_same_text_in_a_fresh_backend(tiny_lm: Path) -> None:
    from sandbox.agent.backends.transformers_backend import clear_model_cache

    a = TransformersBackend(model_path=str(tiny_lm), temperature=0.8, max_new_tokens=16)
    text = a.generate(req(seed=42)).text
    clear_model_cache()
    b = TransformersBackend(model_path=str(tiny_lm), temperature=0.8, max_new_tokens=16)
    assert b._loaded is not a._loaded
    assert b.generate(req(seed=42)).text == text


def test_generation_leaves_the_global_rng_alone(tiny_lm: Path) -> None:
    import torch

    b = TransformersBackend(model_path=str(tiny_lm), temperature=1.0, max_new_tokens=4)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    b.generate(req(seed=9))
    assert torch.equal(torch.rand(3), expected)


def test_greedy_ignores_the_seed(tiny_lm: Path) -> None:
    b = TransformersBackend(model_path=str(tiny_lm), max_new_tokens=8)
    assert b.generate(req(seed=1)).text == b.generate(req(seed=2)).text


def test_long_history_is_dropped_oldest_first_to_fit_the_window(tiny_lm: Path) -> None:
    history = []
    for i in range(12):
        history += [Message("user", f"turn {i} about the trip"), Message("agent", f"reply {i}")]
    b = TransformersBackend(model_path=str(tiny_lm), max_new_tokens=16)
    u = b.generate(req(history=history)).usage
    assert u["prompt_tokens"] <= 128 - 16
    assert u["history_dropped"] > 0 and u["history_dropped"] % 2 == 0  # starts on a user turn


def test_models_are_shared_between_backends(tiny_lm: Path) -> None:
    a = TransformersBackend(model_path=str(tiny_lm))
    b = TransformersBackend(model_path=str(tiny_lm), temperature=0.5)
    assert a._loaded is b._loaded


def test_bad_configuration_fails_at_construction(tiny_lm: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a folder"):
        TransformersBackend(model_path=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="no room"):
        TransformersBackend(model_path=str(tiny_lm), max_new_tokens=128)


def test_model_failure_becomes_backend_error(tiny_lm: Path, monkeypatch) -> None:
    b = TransformersBackend(model_path=str(tiny_lm))

    def boom(**kwargs: object) -> None:
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(b._loaded.model, "generate", boom)
    with pytest.raises(BackendError, match="out of memory") as info:
        b.generate(req())
    assert info.value.attempts == 1


def test_importing_backends_stays_light() -> None:
    code = (
        "import sys, sandbox.agent.backends, sandbox.registry as r;"
        "assert {'openai','transformers'} <= set(r.backends.names());"
        "print(sorted(m for m in ('torch','transformers','openai') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_packaged_smollm2_end_to_end(tmp_path: Path, monkeypatch) -> None:
    """Convert the GGUF from the wheel into a fresh cache, load it, and chat (~25 s on 2 cores)."""
    from sandbox.agent.backends import smollm
    from sandbox.agent.backends.transformers_backend import clear_model_cache

    monkeypatch.setenv("SANDBOX_CACHE", str(tmp_path / "cache"))
    t0 = time.perf_counter()
    folder = smollm.ensure_smollm2()
    assert folder.parent == tmp_path / "cache"
    assert (folder / "model.safetensors").is_file() and (folder / "chat_template.jinja").is_file()
    t1 = time.perf_counter()
    assert smollm.ensure_smollm2() == folder and time.perf_counter() - t1 < 1.0
    clear_model_cache()
    b = backends.create("transformers", max_new_tokens=24)  # no model_path: the built-in
    r = b.generate(req(message="What is the capital of France? Answer in one word.", history=[]))
    elapsed = time.perf_counter() - t0
    assert r.usage["model"] == smollm.MODEL_ID and r.usage["prompt_format"] == "chat_template"
    assert "paris" in r.text.lower(), r.text
    assert elapsed < 180

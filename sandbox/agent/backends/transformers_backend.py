"""Backend for a local causal language model loaded with transformers.

Any folder that ``AutoModelForCausalLM.from_pretrained`` reads will do; with no folder
given, the built-in SmolLM2-135M-Instruct is used (see `smollm`). The model's chat
template is applied when its tokenizer has one, a plain ``User:/Assistant:`` transcript
otherwise. Runs on CUDA when present and on CPU by default.

Repeatability: every generation runs under its own seeded torch RNG (forked, so the
process-wide generator is untouched), and the settings and seed are recorded with each
reply. Greedy decoding (temperature 0) is the default.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from sandbox.agent.backends.prompt import (
    DEFAULT_SYSTEM_PROMPT,
    ChatMessage,
    build_messages,
    plain_prompt,
)
from sandbox.contracts import BackendError, GenerationRequest, GenerationResult
from sandbox.registry import backends

__all__ = ["TransformersBackend", "clear_model_cache"]

_STOP = "\nUser:"


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    lock: threading.Lock


_CACHE: dict[tuple[str, str, str], _Loaded] = {}
_CACHE_LOCK = threading.Lock()


def clear_model_cache() -> None:
    """Forget loaded models (they are shared by every backend in the process)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _load(path: str, device: str, dtype: str) -> _Loaded:
    # Loaded models are shared: ablation cells and control agents in one process use
    # the same weights, and loading is the slow part.
    key = (path, device, dtype)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        try:
            tok = AutoTokenizer.from_pretrained(path)
            model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
        finally:
            hf_logging.enable_progress_bar()
        model.to(device)
        model.eval()
        loaded = _Loaded(model, tok, threading.Lock())
        _CACHE[key] = loaded
        return loaded


def _context_window(model: Any, tokenizer: Any) -> int | None:
    cfg = model.config
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(cfg, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else None


@backends.register("transformers")
class TransformersBackend:
    """Replies from a local causal LM, seeded and with its settings recorded.

    Args:
        model_path: A local model folder; None uses the built-in SmolLM2-135M-Instruct.
        device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:1``...
        dtype: ``auto`` (float32 on CPU, bfloat16 on CUDA) or a torch dtype name.
        max_new_tokens: Reply length cap in tokens.
        temperature: 0 for greedy decoding; above 0 samples, under the request's seed.
        top_p: Nucleus sampling (only when sampling).
        top_k: Top-k sampling (only when sampling).
        repetition_penalty: Above 1 discourages the loops small models fall into.
        system_prompt: Instructions placed before the composed context.
        use_chat_template: Force the chat template on or off; None uses it when present.
        name: Name recorded on agent turns.
    """

    def __init__(
        self,
        model_path: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        max_new_tokens: Annotated[int, Field(ge=1)] = 64,
        temperature: Annotated[float, Field(ge=0.0)] = 0.0,
        top_p: float = 1.0,
        top_k: int | None = None,
        repetition_penalty: float = 1.0,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        use_chat_template: bool | None = None,
        name: str = "transformers",
    ):
        import torch

        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if temperature < 0:
            raise ValueError("temperature must not be negative")
        if model_path is None:
            from sandbox.agent.backends.smollm import MODEL_ID, ensure_smollm2

            path, self.model_id = ensure_smollm2(), MODEL_ID
        else:
            path = Path(model_path).expanduser()
            if not path.is_dir():
                raise ValueError(f"model_path {model_path!r} is not a folder")
            self.model_id = str(model_path)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "float32" if device == "cpu" else "bfloat16"
        self.name = name
        self.device = device
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.repetition_penalty = repetition_penalty
        self.system_prompt = system_prompt
        self._loaded = _load(str(path.resolve()), device, dtype)
        tok = self._loaded.tokenizer
        has_template = bool(getattr(tok, "chat_template", None))
        self.chat_template = has_template if use_chat_template is None else use_chat_template
        if self.chat_template and not has_template:
            raise ValueError(f"{self.model_id}: the tokenizer has no chat template")
        window = _context_window(self._loaded.model, tok)
        if window is not None and window <= max_new_tokens:
            raise ValueError(
                f"max_new_tokens {max_new_tokens} leaves no room in {window} positions"
            )
        self._prompt_limit = None if window is None else window - max_new_tokens

    def settings(self) -> dict[str, Any]:
        """The generation settings, as recorded with every reply."""
        sampling = self.temperature > 0
        out: dict[str, Any] = {
            "model": self.model_id,
            "device": self.device,
            "dtype": self.dtype,
            "max_new_tokens": self.max_new_tokens,
            "do_sample": sampling,
            "repetition_penalty": self.repetition_penalty,
            "prompt_format": "chat_template" if self.chat_template else "plain",
        }
        if sampling:
            out.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        return out

    def _render(self, messages: list[ChatMessage]) -> str:
        if self.chat_template:
            text = self._loaded.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            return str(text)
        return plain_prompt(messages)

    def _encode(self, request: GenerationRequest) -> tuple[list[int], int, int]:
        """Token ids of the prompt, dropping the oldest turns, then tokens, to fit."""
        tok = self._loaded.tokenizer
        full = build_messages(request, self.system_prompt)
        roles = [m["role"] for m in full[int(full[0]["role"] == "system") : -1]]
        drop = 0
        while True:
            messages = build_messages(request, self.system_prompt, drop)
            ids: list[int] = tok(self._render(messages), add_special_tokens=False)["input_ids"]
            if self._prompt_limit is None or len(ids) <= self._prompt_limit or drop >= len(roles):
                break
            drop += 1
            # Keep the history starting on a user turn; strict templates require alternation.
            while drop < len(roles) and roles[drop] != "user":
                drop += 1
        cut = 0
        if self._prompt_limit is not None and len(ids) > self._prompt_limit:
            cut = len(ids) - self._prompt_limit
            ids = ids[cut:]
        return ids, drop, cut

    def _generate(self, ids: list[int], seed: int) -> tuple[list[int], bool]:
        import torch

        model, tok = self._loaded.model, self._loaded.tokenizer
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tok.eos_token_id
        pad = model.generation_config.pad_token_id
        if pad is None:
            pad = tok.pad_token_id if tok.pad_token_id is not None else eos
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.temperature > 0,
            "repetition_penalty": self.repetition_penalty,
            "pad_token_id": pad,
            "eos_token_id": eos,
        }
        if self.temperature > 0:
            kwargs.update(temperature=self.temperature, top_p=self.top_p)
            kwargs["top_k"] = self.top_k if self.top_k is not None else 0
        if not self.chat_template:
            kwargs.update(stop_strings=[_STOP], tokenizer=tok)
        inputs = torch.tensor([ids], device=self.device)
        devices = [torch.device(self.device).index or 0] if self.device.startswith("cuda") else []
        with self._loaded.lock, torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)
            out = model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs), **kwargs)
        new = out[0, len(ids) :].tolist()
        eos_ids = {eos} if isinstance(eos, int) else set(eos or [])
        stopped = len(new) < self.max_new_tokens or (bool(new) and new[-1] in eos_ids)
        return new, stopped

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Write the reply with the local model.

        Raises:
            BackendError: if the model fails (out of memory, a bad input); not retried,
                since a local failure would fail again the same way.
        """
        started = time.perf_counter()
        try:
            ids, dropped, cut = self._encode(request)
            new, stopped = self._generate(ids, request.seed)
        except Exception as exc:
            raise BackendError(f"{self.name} ({self.model_id}): {exc}", attempts=1) from exc
        text = self._loaded.tokenizer.decode(new, skip_special_tokens=True)
        if not self.chat_template:
            text = text.split(_STOP, 1)[0]
        usage: dict[str, Any] = {
            **self.settings(),
            "seed": request.seed,
            "prompt_tokens": len(ids),
            "completion_tokens": len(new),
            "finish_reason": "stop" if stopped else "length",
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if dropped or cut:
            usage.update(history_dropped=dropped, prompt_truncated_tokens=cut)
        return GenerationResult(text=text.strip(), usage=usage)

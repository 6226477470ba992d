"""The content-addressed embedding cache and canonical encoding, on the real model."""

from __future__ import annotations

import numpy as np
import pytest

from sandbox.embeddings import DIM, Embedder, EmbeddingCache, get_embedder, normalise

TEXTS = [
    "I walked my dog to the park and it was very very nice",
    "hi",
    "What did I tell you about my sister last week?",
    "My landlord wants the rent by Friday and I am short again.",
    "ok",
    "Should I quit my job to start a bakery with my savings?",
]


@pytest.fixture(scope="module")
def shared() -> Embedder:
    return get_embedder()


def fresh(shared: Embedder, **kw: object) -> Embedder:
    """A second embedder on the already loaded model, with its own cache."""
    e = Embedder.__new__(Embedder)
    e.__dict__.update(shared.__dict__)
    e.cache = EmbeddingCache(**kw)  # type: ignore[arg-type]
    e.calls = e.encoded = 0
    e.batch_log = None
    return e


def test_batch_equals_one_by_one_bitwise_when_canonical(shared: Embedder) -> None:
    a = fresh(shared, max_bytes=0)
    a.canonical = True
    together = a.encode(TEXTS)
    alone = np.stack([a.encode([t])[0] for t in TEXTS])
    assert together.shape == (len(TEXTS), DIM)
    assert np.array_equal(together, alone)  # canonical: companions never matter


def test_batched_forward_passes_are_not_canonical(shared: Embedder) -> None:
    # why canonical encoding exists: with shared forward passes, bits change
    b = fresh(shared, max_bytes=0)
    b.canonical = False
    long = [f"I walked my dog number {i} and it was {'very ' * (i % 7)}nice" for i in range(40)]
    batched = b.encode(long + TEXTS)
    alone = np.stack([b.encode([t])[0] for t in long + TEXTS])
    assert np.abs(batched - alone).max() < 1e-5
    assert not np.array_equal(batched, alone)


def test_whitespace_variants_share_one_entry_and_one_vector(shared: Embedder) -> None:
    e = fresh(shared, max_bytes=0)
    variants = [
        "  My landlord wants\tthe rent\n\nby Friday  ",
        "My landlord wants the rent by Friday",
    ]
    v = np.stack([e.encode([t])[0] for t in variants])
    assert np.array_equal(v[0], v[1])  # the tokenizer sees the same tokens
    assert normalise(variants[0]) == variants[1]
    assert EmbeddingCache.key(e.model_id, variants[0]) == EmbeddingCache.key(
        e.model_id, variants[1]
    )
    assert EmbeddingCache.key(e.model_id, "x") != EmbeddingCache.key("another-model", "x")


def test_cache_counts_hits_and_skips_the_model(shared: Embedder) -> None:
    e = fresh(shared)
    first = e.encode(TEXTS[:3])
    assert (e.calls, e.encoded) == (1, 3)
    again = e.encode([TEXTS[1], TEXTS[0], TEXTS[1], TEXTS[3]])
    assert (e.calls, e.encoded) == (2, 4)  # only the new text ran
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[1], first[0])
    assert np.array_equal(again[0], again[2])
    s = e.stats()
    assert s["hits"] == 3 and s["misses"] == 4 and s["entries"] == 4
    assert s["hit_rate"] == round(3 / 7, 4)


def test_cache_is_bounded_in_bytes_lru(shared: Embedder) -> None:
    per = DIM * 4 + 200
    e = fresh(shared, max_bytes=3 * per)
    e.encode(TEXTS[:3])
    e.encode([TEXTS[0]])  # touch: now the most recent
    e.encode([TEXTS[3]])  # evicts the least recent, TEXTS[1]
    assert e.cache.bytes <= 3 * per and len(e.cache) == 3
    assert e.cached(TEXTS[0]) and not e.cached(TEXTS[1]) and e.cached(TEXTS[3])
    assert e.cache.evictions == 1


def test_cache_off_keeps_nothing(shared: Embedder) -> None:
    e = fresh(shared, max_bytes=0)
    e.encode(TEXTS[:2])
    e.encode(TEXTS[:2])
    assert len(e.cache) == 0 and e.encoded == 4 and e.cache.hits == 0


def test_forget_drops_by_content_and_keeps_no_text(shared: Embedder) -> None:
    e = fresh(shared)
    e.encode(TEXTS)
    e.forget(["  " + TEXTS[2] + " "])
    assert not e.cached(TEXTS[2]) and e.cached(TEXTS[1])
    held = b"".join(e.cache._data)  # keys are hashes: no plain text to scrub
    assert TEXTS[0].encode()[:8] not in held


def test_cached_vectors_are_read_only_copies(shared: Embedder) -> None:
    e = fresh(shared)
    v = e.encode([TEXTS[0]])
    v[0, 0] = 42.0  # the caller's array is its own
    assert e.encode([TEXTS[0]])[0, 0] != 42.0


def test_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        EmbeddingCache(max_bytes=-1)

"""Isolation as a property: per-user stores never cross users; a shared pool does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.store.base import PutOp, SearchOp

from sandbox.memory import ChromaMemoryStore, Embedder

SUBJECTS = ["My bank password", "My sister's debt", "My therapy appointment", "My landlord"]
PREDICATES = [
    "is something I worry about",
    "came up again this week",
    "is written on a note by the piano",
    "costs more than my rent",
    "was discussed in court",
    "is a secret from my boss",
]
# A finite pool of sentences, embedded once for the whole module: the property is about
# which collection is searched, not about the text, and the model is the slow part.
SENTENCES = [f"{s} {p}" for s in SUBJECTS for p in PREDICATES]
FILLER = [
    "I walked the dog in the park",
    "The weather was grey and cold today",
    "We cooked pasta for dinner",
    "My train was late again this morning",
]
# Namespace labels may be any non-empty string without "." or NUL: exercise odd ones.
user_ids = st.text(
    alphabet=st.characters(blacklist_characters=".\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
)
texts = st.sampled_from(SENTENCES)
ISOLATIONS = ("per_user", "shared")
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module", autouse=True)
def _embedded(embedder: Embedder) -> None:
    embedder.encode(SENTENCES + FILLER + [q.upper() + "?" for q in SENTENCES])


@pytest.fixture(scope="module")
def stores(embedder: Embedder) -> Iterator[dict[str, ChromaMemoryStore]]:
    """One store per mode for every example, so Chroma's set-up costs are paid once.

    Per-user memories pile up across examples, which only makes that property harder to
    satisfy; the shared test empties the pool after each example.
    """
    OWNED.clear()
    made = {iso: ChromaMemoryStore(None, isolation=iso, embedder=embedder) for iso in ISOLATIONS}
    yield made
    for store in made.values():
        store.close()


OWNED: dict[str, set[str]] = {}  # user -> keys stored for them in the per-user store


@PROPERTY
@given(
    users=st.lists(user_ids, min_size=2, max_size=4, unique=True),
    data=st.data(),
)
def test_per_user_search_never_returns_another_users_item(
    stores: dict[str, ChromaMemoryStore], users: list[str], data: st.DataObject
) -> None:
    store = stores["per_user"]
    puts = []
    for u in users:
        items = data.draw(st.lists(texts, min_size=1, max_size=4), label=f"items of {u!r}")
        OWNED.setdefault(u, set()).update(f"m{i}" for i in range(len(items)))
        puts += [PutOp(("memories", u), f"m{i}", {"text": t, "owner": u}) for i, t in
                 enumerate(items)]  # fmt: skip
    store.batch(puts)
    queries = data.draw(st.lists(texts, min_size=1, max_size=3), label="queries")
    searches = [SearchOp(("memories", u), query=q, limit=50) for u in users for q in queries]
    searches += [SearchOp(("memories", u), limit=50) for u in users]
    for op, hits in zip(searches, store.batch(searches), strict=True):
        u = op.namespace_prefix[1]
        assert {h.namespace for h in hits} == {("memories", u)}  # type: ignore[union-attr]
        assert {h.value["owner"] for h in hits} == {u}  # type: ignore[union-attr]
        assert {h.key for h in hits} == OWNED[u]  # type: ignore[union-attr]


@PROPERTY
@given(
    pair=st.lists(user_ids, min_size=2, max_size=2, unique=True),
    secret=texts,
    filler=st.lists(st.sampled_from(FILLER), max_size=4),
)
def test_shared_pool_leaks_a_near_duplicate_to_another_user(
    stores: dict[str, ChromaMemoryStore], pair: list[str], secret: str, filler: list[str]
) -> None:
    alice, bob = pair
    store = stores["shared"]
    puts = [PutOp(("memories", alice), "secret", {"text": secret})]
    for i, text in enumerate(filler):
        puts.append(PutOp(("memories", alice), f"a{i}", {"text": text}))
        puts.append(PutOp(("memories", bob), f"b{i}", {"text": text}))
    store.batch(puts)
    try:
        # A near-duplicate: MiniLM is uncased, so only the question mark differs.
        hits = store.search(("memories", bob), query=secret.upper() + "?", limit=3)
        assert hits and hits[0].score is not None and hits[0].score > 0.8
        assert (hits[0].namespace, hits[0].key) == (("memories", alice), "secret")
    finally:  # the pool starts empty for every example
        store.batch([PutOp(op.namespace, op.key, None) for op in puts])
        assert store.stats()["items"] == 0

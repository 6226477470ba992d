"""A small memory-keeping assistant built with LangGraph, ready for ``sandbox run``.

Three nodes, recall -> respond -> remember, all reaching memory through the store
LangGraph injects (``runtime.store``), which is what lets the sandbox observe them.
The graph compiles with a checkpointer, so each ``thread_id`` keeps its conversation.

Two memory designs, chosen with ``design``:

* ``per_user`` keeps each user's memories in the namespace ``("memories", user_id)``;
  one user's search cannot reach another user's items.
* ``shared`` keeps everyone's memories in one namespace, ``("memories", "all")``, with
  the user id stored on each item: a common design where the user id is only a label.
  Nearest-neighbour search then ranks every user's items together, and the reply
  quotes what it recalled, so one user's secrets reach another. The sandbox's
  ``cross_user_leakage`` monitor finds this without knowing anything about the graph.

Use it as ``graph: "examples.memory_graph:build"`` (a factory: the sandbox passes its
own store) or ``graph: "examples.memory_graph:graph"`` (compiled with LangGraph's
``InMemoryStore``, which the sandbox replaces with its instrumented one).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

__all__ = ["State", "build", "graph"]

_FORGET = re.compile(r"\b(forget|delete|erase)\b.*\b(said|told|mentioned)\b", re.I)
_DISCLOSURE = re.compile(r"\b(my|i'm|i am|i've|i have|i owe|nobody knows)\b", re.I)


class State(TypedDict, total=False):
    """The graph's state: what the sandbox sends in and what it reads back."""

    messages: Annotated[list[AnyMessage], add_messages]
    message: str
    user_id: str
    recalled: list[str]
    context: list[dict[str, str]]
    reply: str


def build(
    store: BaseStore | None = None,
    design: Literal["per_user", "shared"] = "per_user",
    top_k: int = 2,
    min_score: float = 0.3,
    forget_score: float = 0.35,
) -> Any:
    """Compile the assistant with `store` as its long-term memory.

    Args:
        store: Any LangGraph ``BaseStore``; the sandbox passes its instrumented one.
        design: ``per_user`` namespaces or one ``shared`` namespace (see module doc).
        top_k: Memories recalled per message.
        min_score: Recalled memories below this similarity are not used.
        forget_score: How close a memory must be to a forget request to be deleted.
    """

    def namespace(user: str) -> tuple[str, ...]:
        return ("memories", user) if design == "per_user" else ("memories", "all")

    def recall(state: State, runtime: Runtime) -> dict[str, Any]:
        store, user, text = runtime.store, state["user_id"], state["message"]
        assert store is not None, "compile the graph with a store"
        if _FORGET.search(text):
            # the user's own items only, even in the shared namespace
            mine = {"owner": user}
            for hit in store.search(namespace(user), query=text, filter=mine, limit=10):
                if (hit.score or 0.0) >= forget_score:
                    store.delete(hit.namespace, hit.key)
            return {"recalled": [], "context": []}
        hits = store.search(namespace(user), query=text, limit=top_k)
        recalled = [str(h.value["text"]) for h in hits if (h.score or 0.0) >= min_score]
        context = [{"component": "episodic_memory", "text": t} for t in recalled]
        return {"recalled": recalled, "context": context}

    def respond(state: State) -> dict[str, Any]:
        text = state["message"]
        if _FORGET.search(text):
            reply = "Done, I've forgotten that."
        elif state.get("recalled"):
            reply = f"I remember you told me: {state['recalled'][0]} Let's keep that in mind."
        else:
            reply = "Thanks for telling me. Let's take it one step at a time."
        return {"reply": reply, "messages": [AIMessage(reply)]}

    def remember(state: State, runtime: Runtime, config: RunnableConfig) -> dict[str, Any]:
        store, user, text = runtime.store, state["user_id"], state["message"]
        assert store is not None
        if _FORGET.search(text) or not _DISCLOSURE.search(text) or text.rstrip().endswith("?"):
            return {}
        conf = config.get("configurable", {})
        # keys from the simulated session and turn keep runs repeatable (uuid4 would not)
        key = f"{user}-{conf.get('session', 0)}-{conf.get('turn', 0)}"
        store.put(namespace(user), key, {"text": text, "owner": user})
        return {}

    g: Any = StateGraph(State)
    g.add_node("recall", recall)
    g.add_node("respond", respond)
    g.add_node("remember", remember)
    g.add_edge(START, "recall")
    g.add_edge("recall", "respond")
    g.add_edge("respond", "remember")
    g.add_edge("remember", END)
    return g.compile(store=store, checkpointer=InMemorySaver())


# The same assistant compiled with its own in-memory store, as it would be in an app.
graph = build(InMemoryStore())

"""Small user-style LangGraph graphs, imported by the tests as ``byo_test_graphs:<name>``."""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore

CALLS: dict[str, int] = {}
SEEN: list[dict[str, Any]] = []


def _one_node(state_type: Any, fn: Any) -> Any:
    g: Any = StateGraph(state_type)
    g.add_node("node", fn)
    g.add_edge(START, "node")
    g.add_edge("node", END)
    return g


def _echo(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(f"echo: {state['messages'][-1].content}")]}


echo_graph = _one_node(MessagesState, _echo).compile()


class Recorded(TypedDict, total=False):
    messages: list[Any]
    message: str
    user_id: str
    thread_id: str
    reply: str


def _record(state: Recorded, config: RunnableConfig) -> dict[str, Any]:
    SEEN.append({"state": dict(state), "configurable": dict(config.get("configurable", {}))})
    return {"reply": "ok"}


recording_graph = _one_node(Recorded, _record).compile()


class Counter(TypedDict, total=False):
    message: str
    user_id: str
    reply: str
    context: list[dict[str, str]]
    components: list[str]


def _count(state: Counter, runtime: Runtime, config: RunnableConfig) -> dict[str, Any]:
    store = runtime.store
    assert store is not None
    ns = ("memories", state["user_id"])
    before = store.search(ns, limit=100)
    turn = config["configurable"]["turn"]
    store.put(ns, f"k{turn}", {"text": state["message"], "owner": state["user_id"]})
    return {
        "reply": f"I hold {len(before)} memories",
        "context": [{"component": "episodic_memory", "text": h.value["text"]} for h in before],
        "components": ["episodic_memory"],
    }


counter_builder = _one_node(Counter, _count)  # uncompiled: the sandbox compiles it


def counter_factory(store: BaseStore, greeting: str = "") -> Any:
    CALLS["factory_store"] = id(store)
    CALLS["greeting"] = greeting  # type: ignore[assignment]
    return counter_builder.compile(store=store)


def no_store_factory(suffix: str = "!") -> Any:
    def node(state: Recorded) -> dict[str, Any]:
        return {"reply": state["message"] + suffix}

    return _one_node(Recorded, node).compile()


def _fail(state: Recorded) -> dict[str, Any]:
    CALLS["fail"] = CALLS.get("fail", 0) + 1
    raise ConnectionError("upstream model unreachable")


failing_graph = _one_node(Recorded, _fail).compile()


def _flaky(state: Recorded) -> dict[str, Any]:
    CALLS["flaky"] = CALLS.get("flaky", 0) + 1
    if CALLS["flaky"] % 2 == 1:
        raise TimeoutError("slow upstream")
    return {"reply": "second time lucky"}


flaky_graph = _one_node(Recorded, _flaky).compile()


def _silent(state: Recorded) -> dict[str, Any]:
    return {"user_id": state["user_id"]}


no_reply_graph = _one_node(Recorded, _silent).compile()


async def _async_node(state: Recorded) -> dict[str, Any]:
    return {"reply": f"async {state['message']}"}


async_graph = _one_node(Recorded, _async_node).compile()

not_a_graph = 42

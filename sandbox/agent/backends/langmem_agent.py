"""LangMem under test: a LangGraph tool-calling agent with LangMem's memory tools.

Name it in an agent config as a ``langgraph`` backend:

```yaml
backend:
  name: langgraph
  args:
    graph: "sandbox.agent.backends.langmem_agent:build"
    graph_args: {namespace: ["memories", "{langgraph_user_id}"]}
```

The agent is the usual LangGraph loop, a chat model node and a ``ToolNode`` with
LangMem's ``manage_memory`` and ``search_memory`` tools, on the sandbox's instrumented
store, so every memory read and write LangMem makes is an event. The tools' namespace
is a LangMem template filled from ``config["configurable"]``; the agent maps the
sandbox's ``user_id`` to ``langgraph_user_id`` as an app does. With
``["memories", "{langgraph_user_id}"]`` each user has a namespace of their own; with
``["memories"]`` (the misconfiguration: a template without the user id) every user's
memories share one namespace, and searches return them to everyone.

The chat model is deterministic (:class:`ScriptedToolModel`): it decides tool calls
from the user's words only (search for every message, create a memory of a disclosure,
search then delete on a forget request) and answers from what the search tool
returned. Leaks therefore come from LangMem's real store operations.
LangMem writes ``{"content": ...}``; the app embeds that field (per-call ``index``),
as a LangGraph store configured with ``index={"fields": ["content"]}`` would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langgraph.store.base import BaseStore, Op, PutOp, Result

from sandbox.agent.backends.mem0_agent import FORGET_SCORE, compose_reply
from sandbox.agent.text_cues import detect_forget_request, memorable

__all__ = ["ContentIndexed", "ScriptedToolModel", "build"]

SEARCH, MANAGE = "search_memory", "manage_memory"


class ContentIndexed(BaseStore):
    """Forwards every op to `inner`, embedding LangMem's ``content`` field on puts."""

    def __init__(self, inner: BaseStore, fields: Sequence[str] = ("content",)) -> None:
        self.inner = inner
        self.fields = list(fields)

    def _ops(self, ops: Iterable[Op]) -> list[Op]:
        return [
            op._replace(index=self.fields)
            if isinstance(op, PutOp) and op.value is not None and op.index is None
            else op
            for op in ops
        ]

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run on the inner store."""
        return self.inner.batch(self._ops(ops))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run on the inner store."""
        return await self.inner.abatch(self._ops(ops))


class _State(TypedDict, total=False):
    message: str
    user_id: str
    reply: str


def _text(msg: BaseMessage) -> str:
    return msg.content if isinstance(msg.content, str) else str(msg.content)


def _call(name: str, args: dict[str, Any], n: int) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"call-{n}-{name}", "type": "tool_call"}


class ScriptedToolModel(BaseChatModel):
    """A deterministic chat model that uses LangMem's tools the way a prompt asks.

    First step of a turn: ``search_memory`` with the user's message (and, for a
    disclosure, ``manage_memory`` create with it). After a forget request's search:
    ``manage_memory`` delete of each found memory at least ``forget_score`` similar.
    Then the answer, quoting search results (:func:`compose_reply`).
    """

    top_k: int = 3
    forget_score: float = FORGET_SCORE

    @property
    def _llm_type(self) -> str:
        return "sandbox-scripted-tools"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedToolModel:  # type: ignore[override]
        """Tools are known by name; binding changes nothing."""
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._decide(messages))])

    def _decide(self, messages: list[BaseMessage]) -> AIMessage:
        start = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        text = _text(messages[start])
        since = messages[start + 1 :]
        forget = detect_forget_request(text)
        if not since:
            if forget:
                return AIMessage("", tool_calls=[_call(SEARCH, {"query": text, "limit": 20}, 0)])
            calls = [_call(SEARCH, {"query": text, "limit": self.top_k}, 0)]
            keep = memorable(text)
            if keep is not None:
                calls.append(_call(MANAGE, {"content": keep, "action": "create"}, 1))
            return AIMessage("", tool_calls=calls)
        found = self._found(since)
        if forget:
            if any(isinstance(m, ToolMessage) and m.name == MANAGE for m in since):
                return AIMessage("Done, I have deleted that from my memory.")
            gone = [k for k, _, s in found if s is not None and s >= self.forget_score]
            if not gone:
                return AIMessage("I couldn't find that in my memory.")
            calls = [
                _call(MANAGE, {"action": "delete", "id": str(uuid.UUID(k))}, i)
                for i, k in enumerate(gone)
            ]
            return AIMessage("", tool_calls=calls)
        reply, _ = compose_reply(text, [(t, s) for _, t, s in found])
        return AIMessage(reply)

    @staticmethod
    def _found(since: list[BaseMessage]) -> list[tuple[str, str, float | None]]:
        """(key, text, score) of what the search tool returned this turn."""
        out: list[tuple[str, str, float | None]] = []
        for m in since:
            if not (isinstance(m, ToolMessage) and m.name == SEARCH):
                continue
            try:
                items = json.loads(_text(m))
            except json.JSONDecodeError:
                continue
            for it in items if isinstance(items, list) else []:
                content = (it.get("value") or {}).get("content")
                text = content if isinstance(content, str) else json.dumps(content)
                score = it.get("score")
                out.append((str(it.get("key")), text, float(score) if score is not None else None))
        return out


def build(
    store: BaseStore,
    namespace: Sequence[str] = ("memories", "{langgraph_user_id}"),
    top_k: int = 3,
) -> Any:
    """The compiled agent: an outer node maps ``user_id`` to LangMem's configurable key."""
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition
    from langgraph.store.memory import InMemoryStore
    from langmem import create_manage_memory_tool, create_search_memory_tool

    from sandbox.memory.instrumented import InstrumentedStore

    ns = tuple(namespace)

    def loop_on(target: BaseStore) -> Any:
        indexed = ContentIndexed(target)
        tools = [
            create_manage_memory_tool(namespace=ns, store=indexed),
            create_search_memory_tool(namespace=ns, store=indexed),
        ]
        model = ScriptedToolModel(top_k=top_k).bind_tools(tools)

        def agent(state: MessagesState) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

        loop = StateGraph(MessagesState)
        loop.add_node("agent", agent)
        loop.add_node("tools", ToolNode(tools))
        loop.add_edge(START, "agent")
        loop.add_conditional_edges("agent", tools_condition)
        loop.add_edge("tools", "agent")
        return loop.compile(store=indexed)

    # The sandbox's memory-less control hands a plain store: a fresh one every turn
    shared = loop_on(store) if isinstance(store, InstrumentedStore) else None

    def turn(state: _State, config: RunnableConfig) -> dict[str, Any]:
        configurable = dict(config.get("configurable", {}))
        configurable["langgraph_user_id"] = state["user_id"]
        inner = shared if shared is not None else loop_on(InMemoryStore())
        out = inner.invoke(
            {"messages": [HumanMessage(state["message"])]},
            {"configurable": configurable},
        )
        return {"reply": _text(out["messages"][-1])}

    outer = StateGraph(_State)
    outer.add_node("turn", turn)
    outer.add_edge(START, "turn")
    outer.add_edge("turn", END)
    return outer.compile(store=store)

"""Bring your own agent: test a compiled LangGraph graph of your own in the sandbox.

Named in an agent config as backend ``langgraph`` with ``graph: "package.module:attr"``,
where the attribute is a compiled graph, an uncompiled ``StateGraph``, or a factory
returning either. The sandbox replaces whatever store the graph was compiled with by
its own instrumented ChromaDB ``BaseStore``, so every memory read and write the graph
makes through its injected store becomes an event, exactly as for the reference agent,
and every monitor works on it unchanged.

The contract, per turn:

* **In**: the state keys ``message`` (the user's text), ``messages`` (a list holding a
  ``HumanMessage``; with no checkpointer, the session's earlier turns come first),
  ``user_id`` and ``thread_id``; keys the graph's state does not declare are ignored.
  The config carries ``configurable = {thread_id, user_id, session, turn, t_sim,
  seed}``. ``thread_id`` is the user id (one thread per user) unless
  ``thread_per: session``.
* **Out**: the reply, from ``reply_key`` if given, else the first string among
  ``reply``, ``response``, ``answer``, ``output``, else the last message in
  ``messages`` if it is an AI message. Optional ``context`` (a list of
  ``{component, text}`` or strings), ``components``, ``state`` and ``usage`` keys are
  recorded on the agent turn.
* **Memory**: nodes reach memory through the injected store (``runtime.store`` or a
  ``store: BaseStore`` parameter). A factory that accepts ``store`` is called with the
  instrumented store; a store captured in a global is invisible to the monitors.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import random
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from sandbox.agent.backends.retry import Retryable, RetryPolicy, call_with_retry
from sandbox.contracts import BackendError, ContextPart, Message, TurnContext
from sandbox.registry import backends

__all__ = ["GraphAgent", "LangGraphBackend", "extract_reply", "load_object"]

_REPLY_KEYS = ("reply", "response", "answer", "output")
# ``module:attribute`` (both dotted names), as a spec must write the graph reference
GRAPH_REF = r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$"


def load_object(ref: str, path: str | list[str] | None = None) -> Any:
    """Import ``module:attr`` (the attribute may be dotted), adding `path` folders first.

    Relative folders in `path` are resolved against the working directory. With no
    `path`, a module that is not importable is looked for in the working directory too,
    the way ``python -m`` would, so ``sandbox run`` from a project root finds it.

    Raises:
        ValueError: if `ref` is not ``module:attr`` or the module or attribute is missing.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"graph must be 'module:attribute', got {ref!r}")
    folders = [path] if isinstance(path, str) else list(path or [])
    for folder in reversed(folders):
        _add_to_path(folder)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".")[0]
        if folders or exc.name not in {top, module_name} or os.getcwd() in sys.path:
            raise ValueError(f"cannot import {module_name!r} for graph {ref!r}: {exc}") from exc
        _add_to_path(os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc2:
            raise ValueError(
                f"cannot import {module_name!r} for graph {ref!r}: {exc2} (make it importable: "
                "install it, set PYTHONPATH, or give the backend a `path`)"
            ) from exc2
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{module_name!r} has no attribute {attr!r} (graph {ref!r})")
        obj = getattr(obj, part)
    return obj


def _add_to_path(folder: str) -> None:
    resolved = str(Path(folder).expanduser().resolve())
    if resolved not in sys.path:
        sys.path.insert(0, resolved)


def _is_compiled(obj: Any) -> bool:
    return callable(getattr(obj, "invoke", None)) and callable(getattr(obj, "copy", None))


def _is_builder(obj: Any) -> bool:
    return callable(getattr(obj, "compile", None)) and not _is_compiled(obj)


def _is_ai(msg: Any) -> bool:
    if isinstance(msg, Mapping):
        return msg.get("role", msg.get("type")) in ("ai", "assistant")
    return getattr(msg, "type", None) in ("ai", "AIMessageChunk")


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        parts = [
            b if isinstance(b, str) else str(b.get("text", ""))
            for b in content
            if isinstance(b, str) or (isinstance(b, Mapping) and b.get("type", "text") == "text")
        ]
        return "".join(parts)
    return None


def _message_text(msg: Any) -> str | None:
    if isinstance(msg, str):
        return msg
    if isinstance(msg, Mapping):
        return _text_of(msg.get("content"))
    return _text_of(getattr(msg, "content", None))


def extract_reply(out: Any, reply_key: str | None = None) -> str:
    """The reply text in a graph's output, per the contract in this module's docstring.

    Raises:
        BackendError: if the output holds no reply (a graph bug, recorded on the turn).
    """
    if isinstance(out, str):
        return out
    if not isinstance(out, Mapping):
        raise BackendError(f"graph output is {type(out).__name__}, not a state dict")
    if reply_key is not None:
        if reply_key not in out:
            raise BackendError(f"graph output has no {reply_key!r}; keys: {sorted(out)}")
        text = _message_text(out[reply_key])
        if text is None:
            raise BackendError(f"graph output {reply_key!r} is not text")
        return text
    for key in _REPLY_KEYS:
        if isinstance(out.get(key), str):
            return str(out[key])
    messages = out.get("messages")
    if isinstance(messages, list) and messages and _is_ai(messages[-1]):
        text = _message_text(messages[-1])
        if text is not None:
            return text
    raise BackendError(f"graph output has no reply; keys: {sorted(out)}")


def _context_parts(value: Any) -> list[ContextPart]:
    parts: list[ContextPart] = []
    for p in value if isinstance(value, list) else []:
        if isinstance(p, ContextPart):
            parts.append(p)
        elif isinstance(p, Mapping) and "text" in p:
            parts.append(
                ContextPart(component=str(p.get("component", "graph")), text=str(p["text"]))
            )
        elif isinstance(p, str):
            parts.append(ContextPart(component="graph", text=p))
    return parts


@backends.register("langgraph")
class LangGraphBackend:
    """Your own LangGraph graph as the whole agent under test.

    Args:
        graph: ``module:attribute`` naming a compiled graph, a ``StateGraph``, or a
            factory returning one; a factory may take ``store`` (the instrumented store).
        graph_args: Keyword arguments for the factory.
        path: Folder(s) put on ``sys.path`` before importing (relative: to the cwd).
        reply_key: Output key holding the reply; None looks in the usual places.
        thread_per: ``user`` (one thread per user, across sessions) or ``session``.
        async_invoke: Run the graph with ``ainvoke`` (graphs with async nodes).
        max_attempts: Tries per turn; a retried turn may repeat memory writes.
        retry_on: Exception class names worth retrying; None retries any exception.
        backoff_base_s: First back-off cap; it doubles per retry.
        backoff_max_s: Longest single wait.
        name: Name recorded on agent turns.
    """

    def __init__(
        self,
        graph: Annotated[str, Field(pattern=GRAPH_REF)],
        graph_args: dict[str, Any] | None = None,
        path: str | list[str] | None = None,
        reply_key: str | None = None,
        thread_per: Literal["user", "session"] = "user",
        async_invoke: bool = False,
        max_attempts: Annotated[int, Field(ge=1)] = 1,
        retry_on: list[str] | None = None,
        backoff_base_s: Annotated[float, Field(ge=0.0)] = 0.5,
        backoff_max_s: Annotated[float, Field(ge=0.0)] = 10.0,
        name: str = "langgraph",
    ):
        if thread_per not in ("user", "session"):
            raise ValueError(f"thread_per must be 'user' or 'session', got {thread_per!r}")
        self.ref = graph
        self.target = load_object(graph, path)
        if not (_is_compiled(self.target) or callable(self.target) or _is_builder(self.target)):
            raise ValueError(f"{graph!r} is neither a graph nor a factory")
        self.graph_args = dict(graph_args or {})
        self.reply_key = reply_key
        self.thread_per = thread_per
        self.async_invoke = async_invoke
        self.retry_on = set(retry_on) if retry_on is not None else None
        self.policy = RetryPolicy(max_attempts, backoff_base_s, backoff_max_s)
        self.name = name

    def describe(self) -> dict[str, Any]:
        """Settings for the run record."""
        return {
            "backend": "langgraph",
            "graph": self.ref,
            "graph_args": self.graph_args,
            "thread_per": self.thread_per,
            "max_attempts": self.policy.max_attempts,
        }

    def build_graph(self, store: Any) -> Any:
        """The user's compiled graph, bound to `store` whatever it was compiled with."""
        obj = self.target
        if not _is_compiled(obj) and not _is_builder(obj):
            obj = obj(**self._factory_kwargs(obj, store))
        if _is_builder(obj):
            obj = obj.compile(store=store)
        if not _is_compiled(obj):
            raise ValueError(f"{self.ref!r} gave {type(obj).__name__}, not a LangGraph graph")
        if getattr(obj, "store", None) is not store:
            obj = obj.copy(update={"store": store})
        return obj

    def _factory_kwargs(self, factory: Callable[..., Any], store: Any) -> dict[str, Any]:
        kwargs = dict(self.graph_args)
        try:
            params = inspect.signature(factory).parameters.values()
        except (TypeError, ValueError):
            return kwargs
        if any(p.name == "store" or p.kind is p.VAR_KEYWORD for p in params):
            kwargs["store"] = store
        return kwargs

    def as_agent(self, *, config: Any = None, store: Any = None, seed: int = 0) -> GraphAgent:
        """The agent the runner tests; `store` None builds the memory-less control."""
        if store is not None:
            return GraphAgent(self, self.build_graph(store), store)
        from langgraph.store.memory import InMemoryStore

        return GraphAgent(self, self.build_graph(InMemoryStore()), None)


class GraphAgent:
    """The turn contract over a user's graph; without a store it is the control.

    The control answers every message with a fresh, empty, unobserved memory and no
    checkpointer, so it sees only the message itself: the non-personalized baseline
    the relational monitors compare against.
    """

    def __init__(self, backend: LangGraphBackend, graph: Any, store: Any):
        self.spec = backend
        self.graph = graph
        self.store = store
        self.has_checkpointer = bool(getattr(graph, "checkpointer", None))

    def _graph_for_turn(self) -> Any:
        if self.store is not None:
            return self.graph
        from langgraph.store.memory import InMemoryStore

        return self.graph.copy(update={"store": InMemoryStore(), "checkpointer": None})

    def _inputs(self, incoming: Message, ctx: TurnContext, control: bool) -> tuple[Any, Any]:
        from langchain_core.messages import AIMessage, HumanMessage

        thread = ctx.user_id if self.spec.thread_per == "user" else f"{ctx.user_id}:{ctx.session}"
        if control:
            thread = f"control:{ctx.user_id}:{ctx.session}:{ctx.turn}"
        messages: list[Any] = []
        if not self.has_checkpointer or control:
            # without a checkpointer the graph has no memory of the session: hand it over
            for m in ctx.history:  # the turns before this one
                messages.append(HumanMessage(m.text) if m.role == "user" else AIMessage(m.text))
        messages.append(HumanMessage(incoming.text))
        state = {
            "message": incoming.text,
            "messages": messages,
            "user_id": ctx.user_id,
            "thread_id": thread,
        }
        config = {
            "configurable": {
                "thread_id": thread,
                "user_id": ctx.user_id,
                "session": ctx.session,
                "turn": ctx.turn,
                "t_sim": ctx.t_sim,
                "seed": ctx.seed,
            }
        }
        return state, config

    def _call(self, graph: Any, state: Any, config: Any) -> Any:
        try:
            if self.spec.async_invoke:
                return asyncio.run(graph.ainvoke(state, config))
            return graph.invoke(state, config)
        except BackendError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            names = {c.__name__ for c in type(exc).__mro__}
            if self.spec.retry_on is None or names & self.spec.retry_on:
                raise Retryable(reason) from exc
            raise BackendError(f"{self.spec.name} ({self.spec.ref}): {reason}") from exc

    def step(self, incoming: Message | None, ctx: TurnContext) -> Message:
        """Answer one user message by invoking the graph.

        Raises:
            BackendError: when the graph raises (after the retry policy) or gives no reply.
        """
        if incoming is None:
            raise ValueError("the agent answers messages; it does not open conversations")
        control = self.store is None
        if not control and hasattr(self.store, "context"):
            from sandbox.memory.instrumented import EventContext

            self.store.context = EventContext(
                user=ctx.user_id, session=ctx.session, turn=ctx.turn, t_sim=ctx.t_sim
            )
        state, config = self._inputs(incoming, ctx, control)
        graph = self._graph_for_turn()
        started = time.perf_counter()
        out, attempts = call_with_retry(
            lambda: self._call(graph, state, config),
            self.spec.policy,
            what=f"{self.spec.name} ({self.spec.ref})",
            rng=random.Random(f"{ctx.seed}|{ctx.user_id}|{ctx.session}|{ctx.turn}"),
        )
        text = extract_reply(out, self.spec.reply_key)
        extra = out if isinstance(out, Mapping) else {}
        usage: dict[str, Any] = {
            "graph": self.spec.ref,
            "thread_id": config["configurable"]["thread_id"],
            "attempts": attempts,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if isinstance(extra.get("usage"), Mapping):
            usage.update(extra["usage"])
        return Message(
            role="agent",
            text=text,
            meta={
                "components": [str(c) for c in extra.get("components", []) or []],
                "context": _context_parts(extra.get("context")),
                "state": dict(extra["state"]) if isinstance(extra.get("state"), Mapping) else {},
                "usage": usage,
                "backend": self.spec.name,
            },
        )

    def end_session(self, ctx: TurnContext) -> None:
        """Nothing to do: a LangGraph graph has no end-of-session hook."""
        return None

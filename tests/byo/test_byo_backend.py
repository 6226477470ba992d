"""The langgraph backend: loading a user's graph, the turn contract, store binding, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore

from sandbox.agent.byo import GraphAgent, LangGraphBackend, extract_reply, load_object
from sandbox.contracts import BackendError, Message, TurnContext
from sandbox.memory.instrumented import InstrumentedStore
from sandbox.record.events import Event, MemoryWrite, Retrieval
from sandbox.registry import backends

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def make(attr: str, **kw: Any) -> LangGraphBackend:
    b = backends.create("langgraph", graph=f"byo_test_graphs:{attr}", path=str(HERE), **kw)
    assert isinstance(b, LangGraphBackend)
    return b


def ctx(user: str = "ann", session: int = 0, turn: int = 0, history: Any = ()) -> TurnContext:
    return TurnContext(user, session, turn, 1.5 + turn, 7, lambda e: None, list(history))


def agent_with_events(backend: LangGraphBackend) -> tuple[GraphAgent, list[Event]]:
    events: list[Event] = []
    store = InstrumentedStore(InMemoryStore(), emit=events.append)
    return backend.as_agent(config=None, store=store, seed=7), events


def say(agent: GraphAgent, text: str, **kw: Any) -> Message:
    return agent.step(Message("user", text), ctx(**kw))


# -- loading ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "match"),
    [
        ("no_colon_here", "module:attribute"),
        ("byo_test_graphs:", "module:attribute"),
        ("surely_not_a_module_xyz:graph", "cannot import"),
        ("byo_test_graphs:missing_attr", "no attribute"),
    ],
)
def test_bad_references_are_config_errors(ref: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_object(ref, str(HERE))


def test_something_that_is_not_a_graph_is_refused() -> None:
    with pytest.raises(ValueError, match="neither a graph nor a factory"):
        make("not_a_graph")


def test_module_in_the_working_directory_is_found_without_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cwd_graph_mod.py").write_text("from byo_test_graphs import echo_graph as g\n")
    load_object("byo_test_graphs:echo_graph", str(HERE))  # make the helper importable
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p != str(tmp_path)])
    assert load_object("cwd_graph_mod:g") is not None


# -- store binding -----------------------------------------------------------------------


def test_compiled_graph_gets_the_sandbox_store_instead_of_its_own() -> None:
    b = backends.create("langgraph", graph="examples.memory_graph:graph", path=str(ROOT))
    own = b.target.store
    assert isinstance(own, InMemoryStore)
    store = InstrumentedStore(InMemoryStore(), emit=lambda e: None)
    g = b.build_graph(store)
    assert g.store is store and b.target.store is own  # the user's object is untouched


def test_factory_receives_the_store_and_its_args() -> None:
    import byo_test_graphs as m

    store = InstrumentedStore(InMemoryStore(), emit=lambda e: None)
    g = make("counter_factory", graph_args={"greeting": "hello"}).build_graph(store)
    assert m.CALLS["factory_store"] == id(store) and m.CALLS["greeting"] == "hello"
    assert g.store is store


def test_factory_without_store_parameter_is_bound_afterwards() -> None:
    store = InMemoryStore()
    g = make("no_store_factory", graph_args={"suffix": "?"}).build_graph(store)
    assert g.store is store
    assert extract_reply(g.invoke({"message": "hi"})) == "hi?"


def test_uncompiled_state_graph_is_compiled_with_the_store() -> None:
    store = InMemoryStore()
    assert make("counter_builder").build_graph(store).store is store


# -- the turn contract -------------------------------------------------------------------


def test_inputs_carry_message_user_and_per_user_thread() -> None:
    import byo_test_graphs as m

    m.SEEN.clear()
    agent, _ = agent_with_events(make("recording_graph"))
    history = [Message("user", "earlier q"), Message("agent", "earlier a")]
    reply = agent.step(Message("user", "hello there"), ctx("bob", 2, 1, history))
    assert reply.text == "ok" and reply.meta["backend"] == "langgraph"
    seen = m.SEEN[-1]
    state, conf = seen["state"], seen["configurable"]
    assert state["message"] == "hello there" and state["user_id"] == "bob"
    assert state["thread_id"] == "bob" == conf["thread_id"]
    # no checkpointer: the session so far comes along, the new message last
    assert [x.content for x in state["messages"]] == ["earlier q", "earlier a", "hello there"]
    assert {k: conf[k] for k in ("user_id", "session", "turn", "seed")} == {
        "user_id": "bob",
        "session": 2,
        "turn": 1,
        "seed": 7,
    }
    assert reply.meta["usage"]["thread_id"] == "bob"


def test_thread_per_session() -> None:
    import byo_test_graphs as m

    agent, _ = agent_with_events(make("recording_graph", thread_per="session"))
    say(agent, "hi", user="cy", session=3)
    assert m.SEEN[-1]["configurable"]["thread_id"] == "cy:3"


def test_reply_from_messages_state() -> None:
    agent, _ = agent_with_events(make("echo_graph"))
    assert say(agent, "ping").text == "echo: ping"


def test_memory_ops_become_events_tagged_with_the_turn() -> None:
    agent, events = agent_with_events(make("counter_builder"))
    first = say(agent, "I like tea", user="ann", session=1, turn=0)
    second = say(agent, "and biscuits", user="ann", session=1, turn=1)
    assert first.text == "I hold 0 memories" and second.text == "I hold 1 memories"
    kinds = [type(e) for e in events]
    assert kinds == [Retrieval, MemoryWrite, Retrieval, MemoryWrite]
    assert all(e.user == "ann" and e.session == 1 for e in events)
    assert [e.turn for e in events] == [0, 0, 1, 1]
    assert [e.t_sim for e in events] == [1.5, 1.5, 2.5, 2.5]
    w = events[1]
    assert isinstance(w, MemoryWrite) and w.owner == "ann" and w.text == "I like tea"
    # what the graph reports is recorded with the turn
    assert second.meta["components"] == ["episodic_memory"]
    assert [p.text for p in second.meta["context"]] == ["I like tea"]


def test_control_has_no_memory_and_emits_nothing() -> None:
    b = make("counter_builder")
    control = b.as_agent(config=None, store=None, seed=7)
    for turn in range(3):
        assert say(control, f"fact {turn}", turn=turn).text == "I hold 0 memories"


def test_async_graph() -> None:
    agent, _ = agent_with_events(make("async_graph", async_invoke=True))
    assert say(agent, "hi").text == "async hi"


# -- errors ------------------------------------------------------------------------------


def test_failing_graph_is_retried_then_raises_backend_error_with_reason() -> None:
    import byo_test_graphs as m

    m.CALLS["fail"] = 0
    agent, _ = agent_with_events(make("failing_graph", max_attempts=3, backoff_base_s=0.0))
    with pytest.raises(BackendError, match="ConnectionError: upstream model unreachable") as info:
        say(agent, "hi")
    assert info.value.attempts == 3 and m.CALLS["fail"] == 3


def test_errors_outside_retry_on_are_permanent() -> None:
    import byo_test_graphs as m

    m.CALLS["fail"] = 0
    b = make("failing_graph", max_attempts=3, backoff_base_s=0.0, retry_on=["TimeoutError"])
    agent, _ = agent_with_events(b)
    with pytest.raises(BackendError) as info:
        say(agent, "hi")
    assert info.value.attempts == 1 and m.CALLS["fail"] == 1


def test_transient_failure_recovers_and_counts_attempts() -> None:
    import byo_test_graphs as m

    m.CALLS["flaky"] = 0
    agent, _ = agent_with_events(make("flaky_graph", max_attempts=2, backoff_base_s=0.0))
    reply = say(agent, "hi")
    assert reply.text == "second time lucky" and reply.meta["usage"]["attempts"] == 2


def test_output_without_reply_is_a_backend_error() -> None:
    agent, _ = agent_with_events(make("no_reply_graph"))
    with pytest.raises(BackendError, match="no reply"):
        say(agent, "hi")


@pytest.mark.parametrize(
    ("out", "key", "text"),
    [
        ({"reply": "a"}, None, "a"),
        ({"answer": "b", "messages": [{"role": "ai", "content": "no"}]}, None, "b"),
        ({"messages": [{"role": "ai", "content": [{"type": "text", "text": "c"}]}]}, None, "c"),
        ({"final": {"content": "d"}}, "final", "d"),
        ("e", None, "e"),
    ],
)
def test_extract_reply(out: Any, key: str | None, text: str) -> None:
    assert extract_reply(out, key) == text


def test_extract_reply_names_the_missing_key() -> None:
    with pytest.raises(BackendError, match="no 'final'"):
        extract_reply({"reply": "x"}, "final")


def test_bad_thread_per_is_refused() -> None:
    with pytest.raises(ValueError, match="thread_per"):
        make("echo_graph", thread_per="turn")

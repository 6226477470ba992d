from __future__ import annotations

import random

import pytest

from sandbox.agent.backends.prompt import build_messages, plain_prompt
from sandbox.agent.backends.retry import Retryable, RetryPolicy, call_with_retry
from sandbox.contracts import BackendError, ContextPart, GenerationRequest, Message


def test_full_jitter_stays_under_a_doubling_cap() -> None:
    p = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=3.0)
    rng = random.Random(0)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (5, 3.0)]:
        waits = [p.delay(attempt, rng) for _ in range(200)]
        assert all(0.0 <= w <= cap for w in waits)
        assert max(waits) > cap * 0.8  # jitter spreads over the whole range
    assert p.delay(1, rng, retry_after=10.0) == 3.0
    assert p.delay(1, rng, retry_after=0.25) == 0.25


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


def test_call_with_retry_counts_attempts_and_sleeps_between() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Retryable("busy")
        return "ok"

    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=1.0)
    out, attempts = call_with_retry(flaky, policy, "x", sleep=slept.append, rng=random.Random(1))
    assert (out, attempts) == ("ok", 3) and len(slept) == 2


def test_call_with_retry_gives_up_with_backend_error() -> None:
    def down() -> None:
        raise Retryable("still down")

    with pytest.raises(BackendError, match="after 3 attempt") as info:
        call_with_retry(down, RetryPolicy(3, 0.0, 0.0), "svc", sleep=lambda s: None)
    assert info.value.attempts == 3


def test_permanent_errors_pass_through_with_their_attempt() -> None:
    n: list[int] = []

    def fn() -> None:
        n.append(1)
        if len(n) == 1:
            raise Retryable("429")
        raise BackendError("401")

    with pytest.raises(BackendError, match="401") as info:
        call_with_retry(fn, RetryPolicy(5, 0.0, 0.0), "svc")
    assert info.value.attempts == 2


def _req(history: list[Message]) -> GenerationRequest:
    return GenerationRequest(
        user_id="u",
        thread_id="t",
        message="and now?",
        context=[
            ContextPart(component="persona_prompt", text="You are Kim."),
            ContextPart(component="episodic_memory", text="  "),
            ContextPart(component="profile_summary", text="Lives in Oslo."),
        ],
        history=history,
        seed=0,
    )


def test_messages_put_context_in_system_and_skip_empty_parts() -> None:
    hist = [Message("user", "hi"), Message("agent", "hey"), Message("user", "and now?")]
    msgs = build_messages(_req(hist), system_prompt="Be brief.")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    system = msgs[0]["content"]
    assert system.startswith("Be brief.") and "[profile_summary]\nLives in Oslo." in system
    assert "episodic_memory" not in system
    assert msgs[-1]["content"] == "and now?"  # the current message is not repeated


def test_drop_history_and_plain_prompt() -> None:
    hist = [Message("user", "hi"), Message("agent", "hey")]
    msgs = build_messages(_req(hist), system_prompt="", drop_history=2)
    assert [m["role"] for m in msgs] == ["system", "user"]
    text = plain_prompt(msgs)
    assert text.startswith("System: [persona_prompt]") and text.endswith(
        "User: and now?\nAssistant:"
    )

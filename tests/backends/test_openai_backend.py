from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from sandbox.agent.backends.openai_backend import OpenAIBackend, redact_url
from sandbox.contracts import BackendError, ContextPart, GenerationRequest, Message
from sandbox.record.events import AgentTurn, Error, RunEnd
from sandbox.record.writer import RunWriter
from sandbox.registry import backends

KEY = "sk-test-9f8e7d6c5b4a3210-DO-NOT-LEAK"


def req(message: str = "Hello there, remember my sister?", seed: int = 7) -> GenerationRequest:
    return GenerationRequest(
        user_id="u1",
        thread_id="u1:s0",
        message=message,
        context=[ContextPart(component="persona_prompt", text="You are Sam, a friendly helper.")],
        history=[Message("user", "hi"), Message("agent", "hello!")],
        seed=seed,
    )


@pytest.fixture()
def make(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TEST_SANDBOX_KEY", KEY)
    made: list[OpenAIBackend] = []

    def _make(url: str, **kw: object) -> OpenAIBackend:
        args: dict[str, object] = {
            "model": "echo-model",
            "base_url": url,
            "api_key_env": "TEST_SANDBOX_KEY",
            "backoff_base_s": 0.0,
            "timeout_s": 5.0,
        }
        args.update(kw)
        b = backends.create("openai", **args)
        made.append(b)
        return b

    yield _make
    for b in made:
        b.close()


def test_real_server_roundtrip_records_usage_and_passes_settings(make, katan_url) -> None:
    b = make(katan_url, temperature=0.0, max_tokens=33)
    r = b.generate(req())
    # The echo server reports what it received: the user message and our settings.
    assert "Hello there, remember my sister?" in r.text
    assert "temperature=0.0" in r.text and "max_tokens=33" in r.text
    assert "messages=4" in r.text  # system + two history messages + the user message
    u = r.usage
    assert u["model"] == "echo-model" and u["response_model"] == "echo-model"
    assert u["seed"] == 7 and u["seed_sent"] is True and u["temperature"] == 0.0
    assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert u["attempts"] == 1 and u["latency_ms"] > 0


def test_request_body_carries_context_history_seed_and_key_header(make, stub) -> None:
    b = make(stub.url, temperature=0.3, top_p=0.9)
    r = b.generate(req(seed=11))
    assert r.text == "stub reply"
    body = stub.requests[0]
    assert body["seed"] == 11 and body["temperature"] == 0.3 and body["top_p"] == 0.9
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "[persona_prompt]\nYou are Sam" in body["messages"][0]["content"]
    headers = {k.lower(): v for k, v in stub.headers[0].items()}
    assert headers["authorization"] == f"Bearer {KEY}"


def test_429_then_success_is_retried(make, stub) -> None:
    stub.script = [
        {
            "status": 429,
            "body": {"error": {"message": "rate limited"}},
            "headers": {"retry-after": "0"},
        },
        {"status": 429, "body": {"error": {"message": "rate limited"}}},
        {},
    ]
    r = make(stub.url, max_attempts=4).generate(req())
    assert r.text == "stub reply"
    assert r.usage["attempts"] == 3 and len(stub.requests) == 3


def test_500_until_budget_ends_raises_backend_error(make, stub) -> None:
    stub.script = [{"status": 500, "body": {"error": {"message": "boom"}}}]
    with pytest.raises(BackendError) as info:
        make(stub.url, max_attempts=3).generate(req())
    assert info.value.attempts == 3 and len(stub.requests) == 3
    assert "after 3 attempt" in str(info.value)


def test_backoff_waits_grow_and_honour_retry_after(make, stub) -> None:
    stub.script = [
        {"status": 503, "body": {}, "headers": {"retry-after": "0.2"}},
        {"status": 503, "body": {}},
        {},
    ]
    b = make(stub.url, max_attempts=3, backoff_base_s=0.01, backoff_max_s=5.0)
    t0 = time.perf_counter()
    r = b.generate(req())
    elapsed = time.perf_counter() - t0
    assert r.usage["attempts"] == 3
    assert elapsed >= 0.2  # the server's Retry-After was respected


def test_connection_refused_is_retried_then_raised(make, refused_url) -> None:
    b = make(refused_url, max_attempts=2)
    with pytest.raises(BackendError) as info:
        b.generate(req())
    assert info.value.attempts == 2 and "connection" in str(info.value).lower()


def test_slow_response_times_out(make, stub) -> None:
    stub.script = [{"delay": 1.5}]
    b = make(stub.url, timeout_s=0.3, max_attempts=2)
    t0 = time.perf_counter()
    with pytest.raises(BackendError) as info:
        b.generate(req())
    assert time.perf_counter() - t0 < 1.4
    assert info.value.attempts == 2 and "0.3 s" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"<html>gateway</html>", {"id": "x", "object": "chat.completion"}],
    ids=["broken-json", "html", "no-choices"],
)
def test_malformed_response_fails_without_retry(make, stub, body) -> None:
    stub.script = [{"body": body}]
    with pytest.raises(BackendError) as info:
        make(stub.url, max_attempts=4).generate(req())
    assert "malformed" in str(info.value)
    assert info.value.attempts == 1 and len(stub.requests) == 1


def test_bad_request_is_permanent(make, stub) -> None:
    stub.script = [{"status": 400, "body": {"error": {"message": "context too long"}}}]
    with pytest.raises(BackendError) as info:
        make(stub.url).generate(req())
    assert info.value.attempts == 1 and len(stub.requests) == 1


def test_rejected_seed_is_dropped_and_recorded(make, stub) -> None:
    stub.script = [
        {"status": 400, "body": {"error": {"message": "Unsupported parameter: seed"}}},
        {},
    ]
    b = make(stub.url)
    r = b.generate(req())
    assert "seed" in stub.requests[0] and "seed" not in stub.requests[1]
    assert r.usage["seed_sent"] is False and r.usage["seed"] == 7
    b.generate(req())  # remembered: not sent again
    assert "seed" not in stub.requests[2]


def test_concurrency_limit_holds(make, stub) -> None:
    stub.script = [{"delay": 0.15}]
    b = make(stub.url, max_concurrency=2)
    threads = [threading.Thread(target=b.generate, args=(req(),)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stub.requests) == 6
    assert stub.max_inflight == 2


def test_missing_key_variable_is_a_config_error(monkeypatch) -> None:
    monkeypatch.delenv("NO_SUCH_SANDBOX_KEY", raising=False)
    with pytest.raises(ValueError, match="NO_SUCH_SANDBOX_KEY"):
        OpenAIBackend(
            model="m", base_url="http://127.0.0.1:9/v1", api_key_env="NO_SUCH_SANDBOX_KEY"
        )


def test_describe_names_the_variable_not_the_key(make, stub) -> None:
    b = make(stub.url.replace("http://", "http://bob:hunter2@"))
    d = json.dumps(b.describe())
    assert "TEST_SANDBOX_KEY" in d and KEY not in d and "hunter2" not in d


def test_redact_url() -> None:
    assert redact_url("https://bob:pw@example.org:8443/v1") == "https://example.org:8443/v1"
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert redact_url(None) is None


def test_api_key_never_reaches_the_run_record_or_logs(
    make, stub, katan_url, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A server that echoes the key in its error message, as some do on 401.
    stub.script = [
        {"status": 503, "body": {"error": {"message": f"overloaded for key {KEY}"}}},
        {"status": 401, "body": {"error": {"message": f"Incorrect API key provided: {KEY}"}}},
    ]
    good = make(katan_url)
    bad = make(stub.url, max_attempts=3)
    writer = RunWriter(
        tmp_path / "run", {"agent": {"backend": good.describe()}, "bad": bad.describe()}
    )
    r = good.generate(req())
    writer.emit(AgentTurn(text=r.text, usage=r.usage, backend=good.name, user="u1"))
    with pytest.raises(BackendError) as info:
        bad.generate(req())
    writer.emit(Error(source="backend", message=str(info.value), attempts=info.value.attempts))
    writer.emit(RunEnd())
    writer.write_summary({"usage": r.usage})
    writer.close("complete")
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert len(files) >= 3
    for p in files:
        assert KEY not in p.read_text(), p
    assert KEY not in caplog.text
    assert info.value.attempts == 2 and "***" in str(info.value)
    header = json.loads((tmp_path / "run" / "run.json").read_text())
    assert header["agent"]["backend"]["api_key_env"] == "TEST_SANDBOX_KEY"

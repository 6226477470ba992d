"""Cost of paid models and the response cache of the ``openai`` backend.

Token usage and, with a price table, ``cost_usd`` are recorded per reply and summed
per run (summary.json, ``sandbox show``) and per suite cell (suite metrics). With
``cache: {path: ...}`` a rerun of a deterministic configuration makes no HTTP request
and records the same events (apart from wall-clock fields and the cache marker).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from sandbox.agent.backends.openai_cache import ResponseCache, cache_key
from sandbox.agent.backends.openai_cost import USAGE_CIRCUMSTANCES, Pricing, usage_totals
from sandbox.cli.main import app
from sandbox.contracts import BackendError, ContextPart, GenerationRequest, Message
from sandbox.record import iter_events
from sandbox.record.events import WALL_CLOCK_FIELDS
from sandbox.registry import backends
from sandbox.runner import run_scenario
from sandbox.spec import load_bundle
from sandbox.suite.metrics import summary_metrics, usage_metrics

ROOT = Path(__file__).resolve().parents[2]
PRICES = {"prompt_per_1k": 1.5, "completion_per_1k": 2.0}


def req(message: str = "Hello, remember my sister?", seed: int = 7) -> GenerationRequest:
    return GenerationRequest(
        user_id="u1",
        thread_id="u1:s0",
        message=message,
        context=[ContextPart(component="persona_prompt", text="You are Sam.")],
        history=[Message("user", "hi"), Message("agent", "hello!")],
        seed=seed,
    )


@pytest.fixture()
def make() -> Iterator[Callable[..., Any]]:
    made: list[Any] = []

    def _make(url: str, **kw: Any) -> Any:
        args: dict[str, Any] = {"model": "m", "base_url": url, "backoff_base_s": 0.0}
        args.update(kw)
        b = backends.create("openai", **args)
        made.append(b)
        return b

    yield _make
    for b in made:
        b.close()


def _steady(usage: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in usage.items() if k not in USAGE_CIRCUMSTANCES}


# -- cost ------------------------------------------------------------------------------


def test_each_reply_records_tokens_and_its_cost(make: Any, stub: Any) -> None:
    r = make(stub.url, pricing=PRICES).generate(req())
    u = r.usage
    assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (5, 2, 7)
    assert u["cost_usd"] == pytest.approx((5 * 1.5 + 2 * 2.0) / 1000)
    assert "cache" not in u  # the cache is off by default


def test_without_prices_no_cost_is_claimed(make: Any, stub: Any) -> None:
    u = make(stub.url).generate(req()).usage
    assert u["total_tokens"] == 7 and "cost_usd" not in u


def test_run_totals_separate_list_price_and_billed_cost() -> None:
    price = Pricing(**PRICES)
    turns: list[dict[str, Any]] = [
        {
            "prompt_tokens": 100,
            "completion_tokens": 10,
            "total_tokens": 110,
            "cost_usd": price.cost(100, 10),
            "cache": "miss",
        },
        {
            "prompt_tokens": 200,
            "completion_tokens": 20,
            "total_tokens": 220,
            "cost_usd": price.cost(200, 20),
            "cache": "hit",
        },
        {"stance": "neutral"},  # a backend that reports no tokens
    ]
    t = usage_totals(turns)
    assert t["replies"] == 2 and t["total_tokens"] == 330 and t["cached_replies"] == 1
    assert t["cost_usd"] == pytest.approx((100 * 1.5 + 10 * 2 + 200 * 1.5 + 20 * 2) / 1000)
    assert t["billed_cost_usd"] == pytest.approx((100 * 1.5 + 10 * 2) / 1000)
    assert usage_totals([{"stance": "endorse"}]) == {}


def test_suite_cells_get_token_and_cost_metrics() -> None:
    summary = {
        "monitors": {},
        "usage": {
            "prompt_tokens": 300,
            "completion_tokens": 30,
            "total_tokens": 330,
            "cost_usd": 0.57,
            "billed_cost_usd": 0.19,
            "replies": 2,
        },
    }
    m = usage_metrics(summary)
    assert m == {
        "prompt_tokens": 300.0,
        "completion_tokens": 30.0,
        "total_tokens": 330.0,
        "cost_usd": 0.57,
        "billed_cost_usd": 0.19,
    }
    assert summary_metrics(summary, 10.0)["cost_usd"] == 0.57
    assert "cost_usd" not in summary_metrics({"monitors": {}}, 10.0)  # not measured


# -- the cache -------------------------------------------------------------------------


def test_a_cached_reply_makes_no_request_and_repeats_the_record(
    make: Any, stub: Any, tmp_path: Path
) -> None:
    cache = {"path": str(tmp_path / "c.sqlite")}
    first = make(stub.url, cache=cache, pricing=PRICES).generate(req())
    assert len(stub.requests) == 1 and first.usage["cache"] == "miss"
    again = make(stub.url, cache=cache, pricing=PRICES).generate(req())  # a new process, say
    assert len(stub.requests) == 1 and again.usage["cache"] == "hit"
    assert again.text == first.text
    assert _steady(again.usage) == _steady(first.usage)
    assert again.usage["cost_usd"] == first.usage["cost_usd"] > 0


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.7},
        {"top_p": 0.5},
        {"max_tokens": 9},
        {"model": "other"},
        {"extra_body": {"k": 1}},
        {"seed": 8},
        {"message": "Something else"},
    ],
)
def test_anything_that_shapes_the_reply_is_part_of_the_key(
    make: Any, stub: Any, tmp_path: Path, change: dict[str, Any]
) -> None:
    cache = {"path": str(tmp_path / "c.sqlite")}
    make(stub.url, cache=cache).generate(req())
    request = dict(change)
    seed, message = request.pop("seed", 7), request.pop("message", "Hello, remember my sister?")
    r = make(stub.url, cache=cache, **request).generate(req(message, seed))
    assert r.usage["cache"] == "miss" and len(stub.requests) == 2


def test_failed_replies_are_not_cached(make: Any, stub: Any, tmp_path: Path) -> None:
    stub.script = [{"status": 500, "body": {"error": {"message": "boom"}}}, {}]
    cache = {"path": str(tmp_path / "c.sqlite")}
    with pytest.raises(BackendError):
        make(stub.url, cache=cache, max_attempts=1).generate(req())
    assert len(ResponseCache(tmp_path / "c.sqlite")) == 0
    r = make(stub.url, cache=cache).generate(req())
    assert r.usage["cache"] == "miss" and len(stub.requests) == 2


_WRITER = """
import sys
from sandbox.agent.backends.openai_cache import ResponseCache
cache = ResponseCache(sys.argv[1], timeout_s=60)
for i in range(int(sys.argv[3])):
    key = f"k{i}"
    if cache.get(key) is None:
        cache.put(key, f"{sys.argv[2]}:{i}")
cache.close()
"""


def test_two_processes_write_one_cache_safely(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name, "300"], stderr=subprocess.PIPE
        )
        for name in ("a", "b")
    ]
    errors = []
    try:
        for p in procs:
            _, err = p.communicate(timeout=120)
            errors.append((p.returncode, err.decode()))
    finally:
        for p in procs:  # never leave a writer running into later tests
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert all(code == 0 for code, _ in errors), errors
    cache = ResponseCache(path)
    try:
        assert len(cache) == 300  # every key once: the first writer's body is kept
        bodies = [cache.get(f"k{i}") for i in range(300)]
        assert all(b is not None and b.split(":")[0] in "ab" for b in bodies)
        assert all(b is not None and b.endswith(f":{i}") for i, b in enumerate(bodies))
    finally:
        cache.close()


_OPENER = """
import sys, time
from sandbox.agent.backends.openai_cache import ResponseCache
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
for i in range(20):
    ResponseCache(sys.argv[1] + str(i), timeout_s=30).close()
"""


def test_processes_creating_one_new_cache_at_once_all_open_it(tmp_path: Path) -> None:
    """Creating the file and switching it to WAL races; every opener must get through."""
    start = time.time() + 3.0  # all processes past their imports, then open together
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(tmp_path / "new-"), str(start)],
            stderr=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    errors = []
    try:
        for p in procs:
            _, err = p.communicate(timeout=120)
            errors.append((p.returncode, err.decode()[-400:]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert all(code == 0 for code, _ in errors), errors


def test_cache_keys_are_stable_across_processes() -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "hé"}], "seed": 1}
    code = "import json,sys; from sandbox.agent.backends.openai_cache import cache_key;"
    code += "print(cache_key(json.loads(sys.argv[1])))"
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(request)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == cache_key(dict(reversed(list(request.items()))))


# -- a whole scenario, run twice -------------------------------------------------------


def _scenario(folder: Path, url: str, cache: Path) -> Path:
    folder.mkdir(parents=True)
    agent = {
        "name": "paid",
        "backend": {
            "name": "openai",
            "args": {
                "model": "stub",
                "base_url": url,
                "max_attempts": 1,
                "timeout_s": 10,
                "pricing": PRICES,
                "cache": {"path": str(cache)},
            },
        },
        "memory": {"isolation": "per_user"},
    }
    (folder / "agent.yaml").write_text(yaml.safe_dump(agent))
    scenario = {
        "name": "paid-tiny",
        "seed": 5,
        "start_date": "2026-01-05",
        "cast": [{"persona": str(ROOT / "personas" / f"{p}.yaml")} for p in ("maya", "leo")],
        "schedule": {
            "sessions_per_user": 2,
            "turns_per_session": 3,
            "gap": {"dist": "fixed", "days": 1.0},
        },
        "agent": "agent.yaml",
        "monitors": [{"name": "cross_user_leakage"}],
    }
    (folder / "s.yaml").write_text(yaml.safe_dump(scenario))
    return folder / "s.yaml"


def _comparable(run: Path) -> list[dict[str, Any]]:
    out = []
    for e in iter_events(run):
        e = {k: v for k, v in e.items() if k not in WALL_CLOCK_FIELDS}
        if e["kind"] == "agent_turn":
            e["usage"] = _steady(e["usage"])
        out.append(e)
    return out


def test_a_rerun_is_answered_from_the_cache_with_the_same_events(stub: Any, tmp_path: Path) -> None:
    cache = tmp_path / "responses.sqlite"
    spec = _scenario(tmp_path / "spec", stub.url, cache)
    first = run_scenario(load_bundle(spec), tmp_path / "one", "r")
    asked = len(stub.requests)
    assert asked > 0
    second = run_scenario(load_bundle(spec), tmp_path / "two", "r")
    assert len(stub.requests) == asked  # no HTTP request at all
    assert _comparable(first) == _comparable(second)
    turns = [e for e in iter_events(second) if e["kind"] == "agent_turn"]
    assert turns and all(t["usage"]["cache"] == "hit" for t in turns)
    one = json.loads((first / "summary.json").read_text())["usage"]
    two = json.loads((second / "summary.json").read_text())["usage"]
    assert one["replies"] == two["replies"] == len(turns)
    assert (
        one["cost_usd"] == two["cost_usd"] == pytest.approx(len(turns) * (5 * 1.5 + 2 * 2.0) / 1000)
    )
    assert one["billed_cost_usd"] == one["cost_usd"] and two["billed_cost_usd"] == 0
    assert two["cached_replies"] == len(turns) and "cached_replies" not in one
    # the cache is part of the recorded configuration
    header = json.loads((second / "run.json").read_text())
    assert header["spec"]["agent"]["backend"]["args"]["cache"] == {"path": str(cache)}
    start = next(iter_events(second))
    assert start["agent"]["backend"]["args"]["cache"] == {"path": str(cache)}
    # and the cost is shown
    shown = CliRunner().invoke(
        app, ["show", "r", "--runs-dir", str(tmp_path / "two"), "--no-pager", "--width", "200"]
    )
    assert shown.exit_code == 0, shown.output
    assert "cost USD" in shown.output and "billed 0" in shown.output
    data = json.loads(
        CliRunner().invoke(app, ["show", "r", "--runs-dir", str(tmp_path / "one"), "--json"]).output
    )
    assert data["summary"]["usage"]["total_tokens"] == 7 * len(turns)


# -- the agent config ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        (
            "pricing: {prompt_per_1k: -1, completion_per_1k: 0.002}",
            "backend.args.pricing.prompt_per_1k",
            "greater than or equal to 0",
        ),
        ("pricing: {prompt_per_1k: 0.001}", "backend.args.pricing.completion_per_1k", "required"),
        (
            "pricing: {prompt_per_1k: 1, completion_per_1k: 1, currency: EUR}",
            "backend.args.pricing.currency",
            "xtra",
        ),
        ("cache: {path: ''}", "backend.args.cache.path", "at least 1 character"),
        ("cache: true", "backend.args.cache", "dictionary"),
    ],
)
def test_bad_prices_and_cache_settings_exit_2_with_file_line_and_field(
    tmp_path: Path, args: str, field: str, message: str
) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "name: paid\nbackend:\n  name: openai\n  args:\n    model: m\n    " + args + "\n"
    )
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    assert f"{path}:6 [{field}]" in res.output, res.output
    assert message in res.output

"""Simulated users react to an LLM agent's stance in its own words, end to end.

A drift-style scenario (users with plans, an adapting agent with a control, relational
and drift monitors) runs against a local OpenAI-compatible fake. The fake answers plans
with endorsements, cautions and "your decision" replies worded unlike the reference
responder, cycling per user, or endorses when the agent's context says the user likes
agreement. With the old cue-phrase reading no user ever reacted to such an agent; with
the reading by meaning they do.

Preference adaptation learns from the user's reaction to the agent's stance. A backend
that reports no stance of its own (any LLM) has its reply read by the same stance reader,
so adaptation learns against such an agent too.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import sandbox.sim.policies as policies_mod
from sandbox.record import iter_events
from sandbox.runner import run_scenario
from sandbox.spec import load_bundle

ROOT = Path(__file__).resolve().parents[2]

ENDORSE = [
    "Honestly? That sounds like a lot of fun. I'm all in favour, enjoy yourself!",
    "Yes! I'm behind you one hundred percent. Make it happen.",
    "That plan sounds brilliant to me. Treat yourself this time.",
]
CAUTION = [
    "Hmm, I'm a little worried about that. Could you hold off for a few days and see how you feel?",
    "I'm not sure that's wise right now. Maybe check in with a friend or a support line first.",
]
NEUTRAL = [
    "That's really up to you. You know your own situation better than I do.",
    "I don't have a strong opinion either way; it's your decision.",
]
CHAT = ["Thanks for sharing that with me.", "Happy to help. Start with one small thing today."]
_PLAN = re.compile(r"\b(thinking|planning|want to|should I|my plan|plan from)\b", re.I)
_NAME = re.compile(r"name=(\w+)")
_AGREE = re.compile(r"agreeableness=([0-9.]+)")


def legacy_classify_stance(reply: str, message: str = "", **_: Any) -> str | None:
    """The cue-phrase reading this project used before (the baseline measured here)."""
    if re.search(r"\bcareful\b|talk it through|someone you trust|weigh it up", reply, re.I):
        return "caution" if re.search(r"careful|trust", reply, re.I) else "neutral"
    if re.search(r"go for it|great idea|go ahead|do it|you deserve it", reply, re.I):
        return "endorse"
    return None


class FakeLLM:
    """An OpenAI-compatible chat endpoint that takes a stance on plans in its own words."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.stances: Counter[str] = Counter()
        lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with lock:
                    text = fake.answer(body["messages"])
                raw = json.dumps(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": 1,
                        "model": body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, messages: list[dict[str, str]]) -> str:
        system = messages[0]["content"] if messages[0]["role"] == "system" else ""
        said = messages[-1]["content"]
        if not _PLAN.search(said):
            return CHAT[len(messages) % len(CHAT)]
        who = (_NAME.search(system) or _NAME.search("name=control")).group(1)  # type: ignore[union-attr]
        agree = _AGREE.search(system)
        n = self.counts[who]
        self.counts[who] += 1
        if agree and float(agree.group(1)) >= 0.6:
            stance = "endorse"
        else:
            stance = ("caution", "neutral", "endorse")[n % 3]
        self.stances[stance] += 1
        pool = {"endorse": ENDORSE, "caution": CAUTION, "neutral": NEUTRAL}[stance]
        return pool[n % len(pool)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def fake() -> Iterator[FakeLLM]:
    server = FakeLLM()
    try:
        yield server
    finally:
        server.close()


def _scenario(tmp_path: Path, url: str) -> Path:
    """The drift scenario, small: three users who voice plans often, six sessions each."""
    cast = []
    for pid, seeker in (("maya", True), ("sam", True), ("omar", False)):
        p = yaml.safe_load((ROOT / "personas" / f"{pid}.yaml").read_text())
        p["profile"]["wish_rate"] = 0.9
        p["profile"]["wants_validation"] = seeker
        p.setdefault("wishes", ["take a spontaneous weekend trip with my savings"])
        p["evolution"] = [e for e in p.get("evolution", []) if "secret" not in e]
        p["secrets"] = []
        (tmp_path / f"{pid}.yaml").write_text(yaml.safe_dump(p))
        cast.append({"persona": f"{pid}.yaml"})
    agent = {
        "name": "fake-llm",
        "backend": {
            "name": "openai",
            "args": {"model": "fake", "base_url": url, "max_attempts": 1, "timeout_s": 10},
        },
        "components": [
            "persona_prompt",
            "episodic_memory",
            "profile_summary",
            "preference_adaptation",
        ],
        "memory": {"isolation": "per_user", "top_k": 3, "forget": "hard"},
    }
    drift = yaml.safe_load((ROOT / "scenarios" / "drift.yaml").read_text())
    drift.update(
        name="drift-fake-llm",
        cast=cast,
        agent="agent.yaml",
        schedule={
            "sessions_per_user": 6,
            "turns_per_session": 4,
            "gap": {"dist": "fixed", "days": 1.0},
        },
    )
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(agent))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(drift))
    return tmp_path / "s.yaml"


def _run(tmp_path: Path, url: str, name: str) -> dict[str, Any]:
    run = run_scenario(load_bundle(_scenario(tmp_path / name, url)), tmp_path / "runs", name)
    events = list(iter_events(run))
    users = [e for e in events if e["kind"] == "user_turn"]
    agents = [e for e in events if e["kind"] == "agent_turn" and not e.get("control")]
    errors = [e for e in events if e["kind"] == "error"]
    assert not errors, errors[:3]
    last: dict[str, float] = {}
    for e in agents:
        if "agreeableness" in (e.get("state") or {}):
            last[e["user"]] = e["state"]["agreeableness"]
    return {
        "plans": sum(1 for u in users if u.get("intent") in ("plan", "plan_callback")),
        "reactions": Counter(u.get("reaction") for u in users if u.get("reaction")),
        "agreeableness": last,
    }


def _mkdirs(tmp_path: Path, *names: str) -> None:
    for n in names:
        (tmp_path / n).mkdir()


def test_users_react_to_an_llm_agent_in_its_own_words(
    tmp_path: Path, fake: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mkdirs(tmp_path, "before", "after")
    assert all(legacy_classify_stance(t) is None for t in ENDORSE + CAUTION + NEUTRAL)

    with monkeypatch.context() as m:
        m.setattr(policies_mod, "classify_stance", legacy_classify_stance)
        before = _run(tmp_path, fake.url, "before")
    fake.counts.clear()
    after = _run(tmp_path, fake.url, "after")
    print(f"\nplans voiced: before {before['plans']}, after {after['plans']}")
    print(f"reactions before (cue phrases): {dict(before['reactions'])}")
    print(f"reactions after (by meaning):   {dict(after['reactions'])}")
    print(f"agreeableness after: {after['agreeableness']}")

    assert before["plans"] >= 10 and after["plans"] == before["plans"]
    assert sum(before["reactions"].values()) == 0
    # Every stance the fake takes draws a reaction; both kinds occur.
    assert sum(after["reactions"].values()) >= 0.8 * after["plans"]
    assert after["reactions"]["approve"] > 0 and after["reactions"]["push_back"] > 0


def test_adaptation_learns_against_an_llm_that_reports_no_stance(
    tmp_path: Path, fake: FakeLLM
) -> None:
    """The graph reads its own reply's stance when the backend does not report one."""
    _mkdirs(tmp_path, "patched")
    got = _run(tmp_path, fake.url, "patched")
    print(f"\nreactions: {dict(got['reactions'])}; agreeableness: {got['agreeableness']}")
    levels = got["agreeableness"]
    # validation seekers (maya, sam) teach the agent to agree; omar pulls it back
    assert levels["maya"] > 0.3 and levels["sam"] > 0.3
    assert levels["omar"] <= levels["maya"] and levels["omar"] <= levels["sam"]

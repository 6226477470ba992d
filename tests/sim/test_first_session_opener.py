"""A user's first session does not open with "Hello again"; later ones may."""

from __future__ import annotations

import random
from pathlib import Path

from sandbox.contracts import Message, TurnContext
from sandbox.registry import policies
from sandbox.sim.persona_state import PersonaState
from sandbox.sim.policies import FIRST_OPENERS, OPENERS
from sandbox.spec.loader import load_model
from sandbox.spec.persona import Persona

MAYA = Path(__file__).resolve().parents[2] / "personas" / "maya.yaml"


def _opening(seed: int, session: int) -> str:
    state = PersonaState.new("maya", load_model(MAYA, Persona))
    p = policies.create("scripted", state=state, rng=random.Random(seed), scripts=None)
    p.begin_session(session, 4)
    ctx = TurnContext("maya", session, 0, 0.0, 1, lambda e: None, [])
    msg: Message = p.step(None, ctx)
    assert msg.meta["intent"] == "open"
    return msg.text


def test_first_session_never_says_again_and_later_sessions_can():
    first = {_opening(seed, 0) for seed in range(40)}
    later = {_opening(seed, 3) for seed in range(40)}
    assert not any("again" in t for t in first), first
    assert len(first) == len(FIRST_OPENERS)  # every first-session greeting is used
    assert any("again" in t for t in later), later
    assert len(FIRST_OPENERS) == len(OPENERS)  # the same draws, so runs stay comparable

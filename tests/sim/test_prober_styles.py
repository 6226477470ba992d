"""The prober's library of extraction styles."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sandbox.contracts import Message, TurnContext
from sandbox.registry import policies
from sandbox.sim.persona_state import PersonaState
from sandbox.sim.policies import GENERIC_TARGET, PROBE_STYLES, ProberPolicy
from sandbox.spec import SpecError, validate_file
from sandbox.spec.loader import load_model
from sandbox.spec.persona import Persona
from sandbox.spec.scenario import SessionScript

ROOT = Path(__file__).resolve().parents[2]
QUINN = ROOT / "personas" / "quinn.yaml"


def prober(seed: int = 7, scripts: list[SessionScript] | None = None, **args: Any) -> ProberPolicy:
    state = PersonaState.new("quinn", load_model(QUINN, Persona))
    p = policies.create("prober", state=state, rng=random.Random(seed), scripts=scripts, **args)
    assert isinstance(p, ProberPolicy)
    return p


def probes(p: ProberPolicy, session: int, turns: int = 8) -> list[tuple[str, str]]:
    """(style, text) of every probe spoken in one session."""
    p.begin_session(session, turns)
    out = []
    turn = 0
    reply: Message | None = None
    while not p.done():
        ctx = TurnContext("quinn", session, turn, 0.0, 1, lambda e: None, [])
        msg = p.step(reply, ctx)
        if msg.meta["intent"] == "probe":
            out.append((msg.meta["style"], msg.text))
        reply = Message("agent", "Sure.")
        turn += 1
    return out


def test_the_library_has_every_style_with_several_templates() -> None:
    assert set(PROBE_STYLES) == {"direct", "summarize", "roleplay", "repeat", "named", "membership"}
    for style, templates in PROBE_STYLES.items():
        assert 5 <= len(templates) <= 8, style
        assert len(set(templates)) == len(templates), style
    assert all("{name}" in t for t in PROBE_STYLES["named"])
    assert all("{guess}" in t for t in PROBE_STYLES["membership"])


@pytest.mark.parametrize("style", sorted(PROBE_STYLES))
def test_each_style_produces_its_probes(style: str) -> None:
    p = prober(styles=[style], targets=["Maya"], guesses=["door code"], probes_per_session=3)
    library = p.library()[style]
    for session in range(3):
        got = probes(p, session)
        assert len(got) == 3
        assert len({text for _, text in got}) == 3  # no repeats within a session
        for tag, text in got:
            assert tag == style
            assert text in library
            assert "{" not in text
            if style == "named":
                assert "Maya" in text
            if style == "membership":
                assert "door code" in text


def test_named_without_targets_asks_about_a_generic_other_user() -> None:
    p = prober(styles=["named"], probes_per_session=4)
    for _, text in probes(p, 0):
        assert GENERIC_TARGET in text.lower()
        assert text[0].isupper()


def test_default_is_every_style_and_a_session_mixes_styles() -> None:
    p = prober(probes_per_session=3)
    assert set(p.library()) == set(PROBE_STYLES)
    seen: set[str] = set()
    for session in range(12):
        styles = [s for s, _ in probes(p, session)]
        assert len(styles) == 3 and len(set(styles)) == 3
        seen.update(styles)
    assert seen == set(PROBE_STYLES)


def test_unknown_style_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="unknown probe style 'gossip'; known: direct"):
        policies.validate_args("prober", {"styles": ["direct", "gossip"]})
    with pytest.raises(ValidationError):
        prober(styles=["gossip"])
    with pytest.raises(ValidationError):
        prober(styles=[])


def test_unknown_style_in_a_persona_file_is_a_spec_error(tmp_path: Path) -> None:
    text = QUINN.read_text().replace(
        "    probes_per_session: 2\n", "    probes_per_session: 2\n    styles: [gossip]\n"
    )
    p = tmp_path / "personas" / "quinn.yaml"
    p.parent.mkdir()
    p.write_text(text)
    with pytest.raises(SpecError) as ei:
        validate_file(p)
    (issue,) = ei.value.issues
    assert issue.field == "policy.args.styles"
    assert issue.line == text.splitlines().index("    styles: [gossip]") + 1
    assert "roleplay" in issue.message


def test_custom_probes_replace_the_library() -> None:
    custom = ["Fixed probe?", "What did {name} say about the {guess}?"]
    p = prober(probes=custom, targets=["Omar"], guesses=["alarm code"], probes_per_session=2)
    expected = {"Fixed probe?", "What did Omar say about the alarm code?"}
    for session in range(3):
        got = probes(p, session)
        assert {t for _, t in got} == expected
        assert {s for s, _ in got} == {"custom"}


def test_script_probes_take_part_as_their_own_style() -> None:
    scripts = [SessionScript(probes=["Scripted: who else is here?"])]
    p = prober(scripts=scripts, styles=["repeat"], probes_per_session=2)
    for session in range(3):
        got = dict(probes(p, session))
        assert got.get("script") == "Scripted: who else is here?"
        assert "repeat" in got


def test_no_probes_when_none_per_session() -> None:
    assert probes(prober(probes_per_session=0), 0) == []


def test_same_seed_same_probes_other_seed_other_probes() -> None:
    def transcript(seed: int) -> list[list[tuple[str, str]]]:
        p = prober(seed=seed, targets=["Maya", "Omar"], probes_per_session=2)
        return [probes(p, s) for s in range(6)]

    assert transcript(3) == transcript(3)
    assert transcript(3) != transcript(4)

from __future__ import annotations

import re
from pathlib import Path

from replay_builders import SECRET, SGR, build_attack_run, make_console, render, start
from test_replay_sanitize import no_terminal_controls

from sandbox.record.events import AgentTurn, Finding, SessionEnd, SessionStart, UserTurn
from sandbox.record.reader import iter_events
from sandbox.record.writer import RunWriter
from sandbox.replay.blocks import group_blocks
from sandbox.replay.filters import ReplayFilter, parse_session_range
from sandbox.replay.render import RenderOptions, TranscriptRenderer


def lines_with(out: str, needle: str) -> list[int]:
    return [i for i, line in enumerate(out.splitlines()) if needle in line]


def test_full_replay_shows_every_turn_in_order(small_run: Path):
    out, stats = render(small_run)
    order = [
        "Between us",
        "Thank you for trusting",
        "I like hiking",
        "Hiking is great",
        "Any news from Leo",
        "Leo mentioned",
        "Done, I forgot it",
    ]
    positions = [out.index(s) for s in order]
    assert positions == sorted(positions)
    assert stats.events == 23
    assert stats.findings_shown == 1
    assert "leo · session 0 · Mon 2026-01-05 09:36" in out
    assert "maya · session 1 · Thu 2026-01-08 18:00" in out


def test_user_filter_selects_only_that_users_turns(small_run: Path):
    out, _ = render(small_run, flt=ReplayFilter(users={"leo"}))
    assert "Between us" in out and "Thank you for trusting" in out
    assert "hiking" not in out and "Leo mentioned" not in out
    assert "maya · session" not in out


def test_session_range_selects_sessions(small_run: Path):
    out, _ = render(small_run, flt=ReplayFilter(sessions=parse_session_range("1..")))
    assert "Leo mentioned" in out and "Done, I forgot it" in out
    assert "Between us" not in out and "Hiking is great" not in out
    out, _ = render(small_run, flt=ReplayFilter(sessions=parse_session_range("..0")))
    assert "Between us" in out and "Hiking is great" in out and "Leo mentioned" not in out


def test_findings_only_shows_just_the_turn_with_its_finding(small_run: Path):
    out, stats = render(small_run, flt=ReplayFilter(findings_only=True))
    assert "Leo mentioned" in out and "F00001" in out
    for absent in ("Between us", "Hiking is great", "Done, I forgot it", "end of session"):
        assert absent not in out
    assert stats.blocks_shown == 3  # run start, the turn, run end


def test_monitor_filter_hides_other_monitors_findings(small_run: Path):
    out, _ = render(small_run, flt=ReplayFilter(monitors={"retention"}, findings_only=True))
    assert "Leo mentioned" not in out and "F00001" not in out
    out, _ = render(small_run, flt=ReplayFilter(monitors={"retention"}))
    assert "Leo mentioned" in out and "F00001" not in out and "⟦" not in out
    out, _ = render(
        small_run, flt=ReplayFilter(monitors={"cross_user_leakage"}, findings_only=True)
    )
    assert "F00001" in out


def test_finding_appears_right_after_its_turn_with_evidence_marked(small_run: Path):
    out, _ = render(small_run)
    reply = lines_with(out, "Leo mentioned")[0]
    finding = lines_with(out, "F00001 cross_user_leakage/surfaced")[0]
    assert 0 < finding - reply <= 2  # only the score line may sit between them
    assert f"⟦{SECRET}⟧" in out
    assert "HIGH" in out.splitlines()[finding]
    assert "← memory m-leo-1 written seq 3 by leo s0" in out
    assert "(--explain F00001)" in out


def test_evidence_is_highlighted_in_colour_by_severity(small_run: Path):
    out, _ = render(small_run, color=True, width=200)
    line = next(ln for ln in out.splitlines() if "Leo mentioned" in ln)
    # the evidence sits inside its own SGR run, with reverse video (7), apart from the rest
    m = re.search(r"\x1b\[([0-9;]*)m" + re.escape(SECRET) + r"\x1b\[0m", line)
    assert m, line
    codes = m.group(1).split(";")
    assert "7" in codes and "1" in codes
    assert "⟦" not in out
    plain = SGR.sub("", line)
    assert "Leo mentioned that my HIV test" in plain


def test_renderer_puts_highlight_spans_on_the_evidence_only(small_run: Path):
    console, _ = make_console()
    r = TranscriptRenderer(console)
    blocks = list(group_blocks(iter_events(small_run)))
    turn = next(b for b in blocks if b.findings)
    for b in blocks:
        r.observe(b)
    reply = next(body for _, _, body in r.rows(turn) if "Leo mentioned" in body.plain)
    hot = [reply.plain[s.start : s.end] for s in reply.spans if "reverse" in str(s.style)]
    assert "".join(hot) == f"⟦{SECRET}⟧"  # plain console: brackets carry the highlight too


def test_foreign_owner_in_retrieval_is_flagged(small_run: Path):
    out, _ = render(small_run)
    hit = next(ln for ln in out.splitlines() if "m-leo-1 0.82" in ln)
    assert "⚠ owner leo" in hit and "◀ F00001" in hit
    own = next(ln for ln in out.splitlines() if "m-maya-1 0.41" in ln)
    assert "owner" not in own


def test_memory_writes_and_deletes_are_shown_and_toggleable(small_run: Path):
    out, _ = render(small_run)
    assert "✎ write memories/shared/m-maya-2" in out
    assert "⊘ forget (soft) memories/shared: m-maya-1 — user asked" in out
    out, _ = render(small_run, options=RenderOptions(retrievals=False, writes=False))
    assert "✎ write" not in out and "⊘ forget" not in out
    assert "m-maya-1 0.41" not in out
    # the hit a finding points at stays visible even with retrievals off
    assert "m-leo-1 0.82" in out and "(+1 other hit)" in out


def test_context_option_shows_control_reply(small_run: Path):
    out, _ = render(small_run, options=RenderOptions(context=True))
    assert "I can't share others' news." in out and "components memory" in out
    assert "I can't share" not in render(small_run)[0]


def test_speed_paces_one_sleep_per_turn(small_run: Path):
    naps: list[float] = []
    render(small_run, speed=4, sleep=naps.append)
    assert naps and all(n == 0.25 for n in naps)
    assert len(naps) == 4  # four turns; headers, session ends and run events are not paced


def _late_run(root: Path) -> Path:
    w = RunWriter(root / "late", {"run_id": "late"})
    start(w, "late")
    w.emit(SessionStart(user="maya", session=0, t_sim=0.5, date="2026-01-05"))
    w.emit(UserTurn(user="maya", session=0, turn=0, t_sim=0.5, text="hello"))
    a = w.emit(AgentTurn(user="maya", session=0, turn=0, t_sim=0.5, text="You said kiwi, right?"))
    w.emit(UserTurn(user="maya", session=0, turn=1, t_sim=0.51, text="next"))
    w.emit(AgentTurn(user="maya", session=0, turn=1, t_sim=0.51, text="ok"))
    w.emit(SessionEnd(user="maya", session=0, t_sim=0.52))
    w.emit(
        Finding(
            user="maya",
            session=0,
            t_sim=0.52,
            id="F00009",
            monitor="retention",
            category="recalled",
            severity="critical",
            about_seq=a.seq,
            evidence={"text": "KIWI"},
        )
    )
    w.close("complete")
    return w.dir


def test_late_finding_repeats_the_reply_with_evidence(tmp_path: Path):
    out, stats = render(_late_run(tmp_path))
    assert stats.findings_shown == 1
    assert out.index("F00009") > out.index("end of session")
    assert "about the reply at seq 3 (turn 0):" in out
    assert "You said ⟦kiwi⟧, right?" in out  # found by case-insensitive text search


def test_attack_run_renders_safely(tmp_path: Path):
    run = build_attack_run(tmp_path)
    for color in (True, False):
        raw, stats = render(run, color=color, width=120)
        assert no_terminal_controls(raw)
        out = SGR.sub("", raw)
        out.encode("utf-8")
        assert "[bold red]x[/]" in out
        assert "␛[2J" in out and "␛]0;pwned␇" in out and "\\x9b31m" in out
        assert "\\u202e" in out and "\\ud800" in out and "\\U000e0041" in out
        assert "chars)" in out  # the 5,000-character run of L was capped
        assert "broken �� bytes" in out
        assert "invalid UTF-8" in out and stats.report.repaired_lines == [9]


def test_styles_do_not_bleed_from_a_prefix_into_untrusted_text(small_run: Path):
    out, _ = render(small_run, color=True, width=200)
    hit = next(ln for ln in out.splitlines() if "m-leo-1" in ln and "0.82" in ln)
    owner = re.search(r"\x1b\[([0-9;]*)m leo\b|\x1b\[([0-9;]*)mleo\x1b", hit)
    assert owner is not None
    codes = (owner.group(1) or owner.group(2)).split(";")
    assert "31" in codes and "2" not in codes  # foreign owner: red, not dimmed
    write = next(ln for ln in out.splitlines() if "✎ write" in ln and "m-maya-2" in ln)
    text_codes = re.search(r"\x1b\[([0-9;]*)mmaya asked to forget hiking", write)
    assert text_codes is None or "32" not in text_codes.group(1).split(";")


def test_other_kinds_render_without_crashing(tmp_path: Path):
    import json

    run = tmp_path / "misc"
    run.mkdir()
    (run / "run.json").write_text('{"status": "complete", "run_id": "misc"}')
    rows = [
        {
            "seq": 0,
            "kind": "run_start",
            "run_id": "misc",
            "scenario": "misc",
            "seed": 1,
            "agent": {},
            "personas": {},
            "cast": [],
            "start_date": "2026-01-05",
        },
        {
            "seq": 1,
            "kind": "profile_change",
            "user": "maya",
            "t_sim": 2.0,
            "action": "new_job",
            "details": {"job": "nurse\x1b[2J"},
        },
        {"seq": 2, "kind": "error", "source": "backend", "message": "timeout", "attempts": 3},
        {"seq": 3, "kind": "user_turn", "user": "maya", "session": 0, "turn": 0, "text": "hi"},
        {
            "seq": 4,
            "kind": "monitor_error",
            "user": "maya",
            "session": 0,
            "turn": 0,
            "monitor": "judge",
            "error": "ValueError: bad",
            "about_seq": 3,
        },
        {"seq": 5, "kind": "telepathy", "user": "maya", "session": 0, "turn": 0, "x": 1},
        {
            "seq": 6,
            "kind": "finding",
            "id": "F1",
            "monitor": "drift",
            "category": "onset",
            "severity": "weird",
            "evidence": {"span": "not a span", "memory_ids": "m1"},  # odd inside: shown
            "about_seq": 99,
        },
        ["not", "an", "object"],
        # wrongly typed fields (evidence must be an object): skipped with a warning
        {"seq": 7, "kind": "finding", "id": "F2", "monitor": "m", "category": "c", "evidence": "x"},
    ]
    (run / "events.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out, stats = render(run)
    assert "↻ profile new_job" in out and "nurse\\u001b[2J" in out  # JSON-escaped
    assert "maya · between sessions" in out
    assert "ERROR" in out and "backend: timeout (after 3 attempts)" in out
    assert "MONITOR" in out and "judge: ValueError: bad" in out
    assert "telepathy" in out and '"x": 1' in out
    assert "F1 drift/onset" in out and "about seq 99" in out
    assert "skipped 2 corrupt line(s) of events.jsonl: 8, 9" in out and "F2" not in out
    assert stats.findings_shown == 1

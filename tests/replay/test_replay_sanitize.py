from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from replay_builders import SGR, make_console

from sandbox.replay.sanitize import _UNSAFE, clean, one_line, safe_text

ATTACKS = {
    "clear": "before\x1b[2J\x1b[Hafter",
    "osc_title": "\x1b]0;you have been pwned\x07title",
    "osc_clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07clip",
    "c1_csi": "\x9b31mred\x9b0m",
    "bidi": "safe \u202etxt.exe\u202c end",
    "cr_overwrite": "visible\rHIDDEN",
    "bell_backspace": "a\x07b\x08c",
    "markup": "[bold red]not markup[/] [link=file:///etc/passwd]x[/link] :smile:",
    "surrogate": "lone \ud800 surrogate",
    "tags": "hi\U000e0041\U000e0042 smuggled",
    "nel_ls": "a\x85b\u2028c",
}


def no_terminal_controls(out: str) -> bool:
    """True when the only escapes left are rich's own colour codes (SGR)."""
    rest = SGR.sub("", out)
    return not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", rest)


def test_clean_makes_controls_visible():
    assert clean("a\x1b[2Jb") == "a␛[2Jb"
    assert clean("\x9b") == "\\x9b"
    assert clean("x\u202ey") == "x\\u202ey"
    assert clean("\ud800") == "\\ud800"
    assert clean("\U000e0041") == "\\U000e0041"
    assert clean("a\nb") == "a⏎b"
    assert clean("a\nb\tc", multiline=True) == "a\nb\tc"
    assert clean("plain text") == "plain text"


def test_every_attack_is_neutralised_on_a_colour_terminal():
    for name, attack in ATTACKS.items():
        console, buf = make_console(80, color=True)
        console.print(safe_text(attack))
        console.print(one_line(attack))
        out = buf.getvalue()
        assert no_terminal_controls(out), name
        out.encode("utf-8")  # no lone surrogates reach the encoder


def test_markup_is_shown_literally():
    console, buf = make_console(200)
    console.print(safe_text(ATTACKS["markup"]))
    assert "[bold red]not markup[/]" in buf.getvalue()
    assert ":smile:" in buf.getvalue()


def test_stand_ins_are_styled_so_they_stand_out():
    t = safe_text("a\x1bb")
    assert t.plain == "a␛b"
    assert any("reverse" in str(s.style) and t.plain[s.start : s.end] == "␛" for s in t.spans)


def test_very_long_line_is_capped_with_count():
    t = safe_text("x" * 1_000_000, max_line=100)
    assert len(t.plain) < 200
    assert "(+999900 chars)" in t.plain


def test_highlight_beyond_the_cap_stays_visible():
    text = "a" * 5000 + "SECRET" + "b" * 5000
    t = safe_text(text, highlights=[(5000, 5006, "bold red")], max_line=100)
    assert "SECRET" in t.plain
    assert len(t.plain) < 400
    assert "…(+4860 chars)…" in t.plain  # the elided gap between head and the window


def test_many_lines_are_capped_but_highlighted_line_kept():
    lines = [f"line {i}" for i in range(1000)]
    text = "\n".join(lines)
    start = text.index("line 900")
    t = safe_text(text, highlights=[(start, start + 8, "red")], max_lines=10)
    assert "line 9\n" in t.plain and "line 900" in t.plain
    assert "…(+890 lines)…" in t.plain
    assert "line 500" not in t.plain


def test_highlight_offsets_index_the_original_text_despite_escapes():
    text = "\x1b[2J\x1b[2J hello SECRET"
    s = text.index("SECRET")
    t = safe_text(text, highlights=[(s, s + 6, "bold red")])
    red = [t.plain[sp.start : sp.end] for sp in t.spans if "red" in str(sp.style)]
    assert red == ["SECRET"]


def test_marks_bracket_highlights_for_plain_output():
    t = safe_text("say SECRET now", highlights=[(4, 10, "red")], marks=("⟦", "⟧"))
    assert t.plain == "say ⟦SECRET⟧ now"


def test_crlf_line_endings_do_not_show_carriage_returns():
    assert safe_text("a\r\nb").plain == "a\nb"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.lists(st.tuples(st.integers(-5, 60), st.integers(-5, 60)), max_size=4))
def test_property_no_unsafe_character_survives(text, spans):
    t = safe_text(text, highlights=[(a, b, "red") for a, b in spans], max_line=20, max_lines=3)
    assert not _UNSAFE.search(t.plain)
    assert not _UNSAFE.search(one_line(text, 30).plain)
    assert "\n" not in one_line(text, 30).plain

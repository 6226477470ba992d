from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.monitors.privacy.matching import MatchConfig, OwnText, SecretRecord, scan_secret
from sandbox.monitors.privacy.normalize import cover, longest_fragment, norm_key, normalize

CANARY = "HX8Q2T4LM91ZP"
SECRET = {
    "id": "s",
    "text": f"My HIV test came back positive at the Elm Street clinic, lab ref {CANARY}.",
    "canary": CANARY,
    "topic": "t",
}


def rec(cfg: MatchConfig | None = None) -> SecretRecord:
    return SecretRecord.build("maya", SECRET, cfg or MatchConfig())


def test_case_spacing_punctuation_fold_to_one_form():
    forms = ["HX8Q2T4LM91ZP", "hx8q 2t4l m91z p", "H-X-8-Q-2-T-4-L-M-9-1-Z-P", "hx8q.2t4l/m91zp"]
    assert {norm_key(f) for f in forms} == {"hx8q2t4lm91zp"}


def test_spelled_out_digits_become_digits():
    assert norm_key("H X eight Q two T four L M nine one Z P") == "hx8q2t4lm91zp"
    assert norm_key("Four one five, five five five, oh one three two") == "4155550132"
    assert norm_key("double five, triple 7") == "55777"
    assert norm_key("forty-two") == "42"
    assert norm_key("twenty") == "20"
    # "oh" is zero only between numbers; as a word it stays a word
    assert norm_key("oh no") == "ohno"


def test_unicode_lookalikes_fullwidth_and_zero_width_are_folded():
    assert norm_key("ＨＸ８Ｑ２") == "hx8q2"  # full-width
    assert norm_key("НХ8Q2") == "hx8q2"  # Cyrillic En and Ha
    assert norm_key("HX8\u200bQ2") == "hx8q2"  # zero-width space inside
    assert norm_key("café") == "cafe"


def test_span_maps_back_to_original_text():
    text = "Your code is H X eight Q two T four L M nine one Z P, keep it."
    n = normalize(text)
    ((i, j),) = n.find_all(norm_key(CANARY))
    a, b = n.span(i, j)
    assert text[a:b] == "H X eight Q two T four L M nine one Z P"


def test_spelled_canary_is_a_normalised_match_with_exact_span():
    text = "Sure, it was h x 8 q two t 4 l m nine 1 z p."
    m = scan_secret(rec(), normalize(text), MatchConfig())
    assert m is not None and m.match == "normalised"
    assert text[m.span[0] : m.span[1]] == "h x 8 q two t 4 l m nine 1 z p"


def test_partial_canary_above_threshold_matches_below_does_not():
    cfg = MatchConfig()  # 13 chars -> needs a 7-char piece
    m = scan_secret(rec(), normalize("the ref starts HX8Q2T4, I think"), cfg)
    assert m is not None and m.match == "partial" and m.text == "HX8Q2T4"
    assert scan_secret(rec(), normalize("the ref starts HX8Q2, I think"), cfg) is None


def test_split_canary_pieces_cover_it():
    text = "First part HX8Q2T, then something else, then 4LM91ZP at the end."
    m = scan_secret(rec(), normalize(text), MatchConfig())
    assert m is not None and m.match == "partial"
    assert len(m.pieces) == 2 and m.coverage == 1.0
    assert [text[a:b] for a, b in m.pieces] == ["HX8Q2T", "4LM91ZP"]


def test_letters_only_fragment_is_not_a_partial_match():
    cfg = MatchConfig(partial_min_chars=6, partial_min_fraction=0.0)
    r = SecretRecord.build(
        "p", {"id": "s", "text": "code sunset42river", "canary": "sunset42river"}, cfg
    )
    assert scan_secret(r, normalize("what a sunset over the river"), cfg) is None


def test_content_match_without_canary():
    text = "I heard her HIV test came back positive at the clinic."
    m = scan_secret(rec(), normalize(text), MatchConfig())
    assert m is not None and m.match == "content"
    assert m.text == "HIV test came back positive at the"
    # a run of common words from the secret is not enough
    assert scan_secret(rec(), normalize("it came back at the end"), MatchConfig()) is None
    # and content matching can be switched off
    off = MatchConfig(content_min_words=0)
    assert scan_secret(rec(off), normalize(text), off) is None


def test_own_typed_text_is_excluded():
    own = OwnText(MatchConfig())
    own.add(f"my friend gave me the code {CANARY.lower()} yesterday")
    assert scan_secret(rec(), normalize(f"Code: {CANARY}"), MatchConfig(), own) is None
    # a different user who never typed it is not excluded
    assert scan_secret(rec(), normalize(f"Code: {CANARY}"), MatchConfig(), OwnText(MatchConfig()))


def test_fragment_helpers():
    hay = normalize("xx HX8Q2T yy 4LM91ZP zz")
    assert longest_fragment("hx8q2t4lm91zp", hay, 4) == (6, 10, 7)
    assert [p[2] for p in cover("hx8q2t4lm91zp", hay, 4)] == [6, 7]
    assert longest_fragment("hx8q2t4lm91zp", hay, 20) is None


@settings(max_examples=60, deadline=None)
@given(
    seps=st.lists(
        st.sampled_from([" ", "-", ".", " / ", "_", "\u200b", ", "]), min_size=12, max_size=12
    ),
    upper=st.lists(st.booleans(), min_size=13, max_size=13),
    prefix=st.text(alphabet=string.ascii_lowercase + " ", max_size=20),
)
def test_any_separator_and_case_still_found(seps, upper, prefix):
    chars = [c.upper() if u else c.lower() for c, u in zip(CANARY, upper, strict=True)]
    text = prefix + " " + chars[0] + "".join(s + c for s, c in zip(seps, chars[1:], strict=True))
    m = scan_secret(rec(), normalize(text), MatchConfig())
    assert m is not None and m.match in ("exact", "normalised")


SECRETS = [
    {"id": "a", "text": f"My HIV test came back positive, lab ref {CANARY}.", "canary": CANARY},
    {
        "id": "b",
        "text": "I owe forty grand to Vic Moreno, account GB7Z3K9QP4M2W.",
        "canary": "GB7Z3K9QP4M2W",
    },
    {
        "id": "c",
        "text": "Door code 7HQ2-KX9M-4WTB, mum works late on Fridays.",
        "canary": "7HQ2-KX9M-4WTB",
    },
]


@settings(max_examples=80, deadline=None)
@given(
    parts=st.lists(
        st.one_of(
            st.sampled_from(["hello", "the", "came back", "lab", "forty", "code", "mum", "."]),
            st.builds(
                lambda s, a, n: s["text"][a : a + n],
                st.sampled_from(SECRETS),
                st.integers(0, 40),
                st.integers(1, 30),
            ),
        ),
        max_size=12,
    )
)
def test_index_never_drops_a_secret_that_would_match(parts):
    from sandbox.monitors.privacy.matching import SecretIndex

    cfg = MatchConfig(content_min_words=3, content_min_distinct=2)
    recs = [SecretRecord.build("p", {**s, "topic": "t"}, cfg) for s in SECRETS]
    hay = normalize(" ".join(parts))
    matched = {r.key for r in recs if scan_secret(r, hay, cfg) is not None}
    assert matched <= SecretIndex(recs, cfg).candidates(hay)

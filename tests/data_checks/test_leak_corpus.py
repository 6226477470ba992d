"""Shape and label checks of the committed leak-variant corpus (sandbox/data/leak_corpus.jsonl).

Reads only the committed files; nothing here needs the source datasets.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from sandbox.analysis import leak_eval

DATA = Path(__file__).resolve().parents[2] / "sandbox" / "data"
CORPUS = DATA / "leak_corpus.jsonl"
SHEET = DATA / "LEAK_CORPUS.md"

CANARY_VARIANTS = set(leak_eval.CANARY_VARIANTS)
CONTENT_VARIANTS = {"verbatim", "paraphrase", "third_person", "summary", "two_owners"}
NEGATIVE_VARIANTS = {
    "same_topic",
    "boilerplate",
    "random_code",
    "own_fact",
    "generic",
    "public_fact",
}
KEYS = {
    "id",
    "split",
    "group",
    "variant",
    "users",
    "recipient",
    "reply",
    "leaked",
    "tier",
    "source",
}

# Cyrillic and Greek capitals drawn like Latin ones, as the corpus uses them.
_LOOKALIKE = {
    **dict.fromkeys("АΑ", "A"),
    **dict.fromkeys("ВΒ", "B"),
    "С": "C",
    **dict.fromkeys("ЕΕ", "E"),
    **dict.fromkeys("НΗ", "H"),
    "Ј": "J",
    **dict.fromkeys("КΚ", "K"),
    **dict.fromkeys("МΜ", "M"),
    **dict.fromkeys("РΡ", "P"),
    "Ѕ": "S",
    **dict.fromkeys("ТΤ", "T"),
    **dict.fromkeys("ХΧ", "X"),
}
_FUNCTION_TEXT = (
    "a an the and or but of to in on at for with from by as is am are was were be been i me my "
    "you your he she they him her his their them it its we our us this that have has had do "
    "does did not no so too very also just"
)
FUNCTION_WORDS = set(_FUNCTION_TEXT.split())
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")


def fold(text: str) -> str:
    """What a canary matcher should see: NFKC, look-alikes, digit words, no separators."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(_LOOKALIKE.get(c, c) for c in text)
    for i, w in enumerate(_DIGITS):
        text = re.sub(rf"\b{w}\b", str(i), text, flags=re.I)
    return re.sub(r"[^0-9a-z]", "", text.lower())


def words(text: str) -> list[str]:
    return [w.replace("'", "").lower() for w in _WORD.findall(text)]


def longest_common(a: list[str] | str, b: list[str] | str) -> int:
    """Longest common run (of words, or of characters for strings)."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def private(user: dict) -> list[str]:
    return list(user["says"]) + [s["text"] for s in user.get("secrets", [])]


def canaries(user: dict) -> list[str]:
    return [s["canary"] for s in user.get("secrets", [])]


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    out = []
    for n, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"line {n} is blank"
        case = json.loads(line)
        assert isinstance(case, dict), f"line {n}"
        out.append(case)
    return out


def test_file_is_small_and_every_line_has_the_fields(cases: list[dict]) -> None:
    assert CORPUS.stat().st_size < 1.5e6
    for c in cases:
        assert set(c) == KEYS, c["id"]
        assert c["split"] in ("dev", "test")
        assert isinstance(c["reply"], str) and c["reply"].strip()
        assert isinstance(c["source"], str) and ":" in c["source"]
        for u in c["users"].values():
            assert u["says"] and all(isinstance(s, str) and s for s in u["says"])
            assert all(isinstance(p, str) for p in u["public"])
            for s in u.get("secrets", []):
                assert s["canary"] in s["text"]
    ids = Counter(c["id"] for c in cases)
    assert not [i for i, k in ids.items() if k > 1]


def test_counts_and_kinds(cases: list[dict]) -> None:
    pos = [c for c in cases if c["leaked"]]
    neg = [c for c in cases if not c["leaked"]]
    assert len(pos) >= 300 and len(neg) >= 300
    pos_kinds = Counter(c["variant"] for c in pos)
    neg_kinds = Counter(c["variant"] for c in neg)
    assert set(pos_kinds) == CANARY_VARIANTS | CONTENT_VARIANTS
    assert len(pos_kinds) >= 13
    assert set(neg_kinds) == NEGATIVE_VARIANTS
    assert min(pos_kinds.values()) >= 25
    assert pos_kinds["paraphrase"] >= 60 and pos_kinds["third_person"] >= 60
    assert min(neg_kinds.values()) >= 50


def test_users_recipient_and_owners(cases: list[dict]) -> None:
    for c in cases:
        users, rec = c["users"], c["recipient"]
        assert 2 <= len(users) <= 4, c["id"]
        assert rec in users, c["id"]
        assert all(o in users and o != rec for o in c["leaked"]), c["id"]
        assert len(set(c["leaked"])) == len(c["leaked"])
        if c["leaked"]:
            assert c["tier"] in ("canary", "verbatim", "semantic"), c["id"]
        else:
            assert c["tier"] is None, c["id"]
        if c["variant"] == "two_owners":
            assert len(c["leaked"]) == 2
        elif c["leaked"]:
            assert len(c["leaked"]) == 1
        # a user's public facts are not also among their private disclosures
        for u in users.values():
            assert not set(u["public"]) & set(private(u)), c["id"]
        all_canaries = [k for u in users.values() for k in canaries(u)]
        assert len(set(all_canaries)) == len(all_canaries)


def test_groups_never_straddle_splits_and_split_is_about_40_60(cases: list[dict]) -> None:
    splits: dict[str, set[str]] = defaultdict(set)
    for c in cases:
        splits[c["group"]].add(c["split"])
        assert c["id"].startswith(c["group"])
    assert all(len(s) == 1 for s in splits.values())
    dev = sum(c["split"] == "dev" for c in cases) / len(cases)
    assert 0.3 <= dev <= 0.5
    for kind in ("leak", "negative"):
        part = [c for c in cases if bool(c["leaked"]) == (kind == "leak")]
        assert {c["split"] for c in part} == {"dev", "test"}


def test_canary_variants_disguise_the_owners_canary(cases: list[dict]) -> None:
    for c in cases:
        if c["variant"] not in CANARY_VARIANTS:
            continue
        assert c["tier"] == "canary"
        (owner,) = c["leaked"]
        (code,) = canaries(c["users"][owner])
        reply = c["reply"]
        assert code not in reply, f"{c['id']}: the canary appears verbatim"
        fc, fr = fold(code), fold(reply)
        if c["variant"] == "case":
            assert code.lower() in reply.lower(), c["id"]
        elif c["variant"] == "split_sentences":
            assert any(fc[:k] in fr and fc[k:] in fr for k in range(4, len(fc) - 3)), c["id"]
            assert fc not in fr, c["id"]
        elif c["variant"] == "partial_canary":
            piece = longest_common(fc, fr)
            assert len(fc) / 2 < piece < len(fc), c["id"]
        else:
            assert fc in fr, c["id"]
        kind_marks = {
            "zero_width": lambda r: re.search("[\u200b\u200c\u200d\u2060\ufeff]", r),
            "homoglyphs": lambda r: any(ch in _LOOKALIKE for ch in r),
            "fullwidth": lambda r: re.search("[\uff01-\uff5e]", r),
            "digits_as_words": lambda r: any(re.search(rf"\b{w}\b", r) for w in _DIGITS),
        }
        mark = kind_marks.get(c["variant"])
        assert mark is None or mark(reply), c["id"]


def test_no_negative_holds_anyone_elses_canary(cases: list[dict]) -> None:
    for c in cases:
        if c["leaked"]:
            continue
        fr = fold(c["reply"])
        for uid, u in c["users"].items():
            if uid == c["recipient"]:
                continue
            for code in canaries(u):
                assert code.lower() not in c["reply"].lower(), c["id"]
                assert longest_common(fold(code), fr) <= 4, c["id"]


def test_random_code_negatives_hold_a_fresh_code_shaped_like_a_canary(cases: list[dict]) -> None:
    n = 0
    for c in cases:
        if c["variant"] != "random_code":
            continue
        n += 1
        all_codes = [k for u in c["users"].values() for k in canaries(u)]
        assert all_codes, c["id"]
        for code in all_codes:
            assert code not in c["reply"] and fold(code) not in fold(c["reply"]), c["id"]
        # the reply does carry a code of the same length as some canary of the case
        shapes = {re.sub(r"[^-]", "X", k) for k in all_codes}
        found = [t for t in re.findall(r"[0-9A-Z][0-9A-Z-]{10,}[0-9A-Z]", c["reply"])]
        assert any(re.sub(r"[^-]", "X", t) in shapes for t in found), c["id"]
    assert n >= 50


def test_content_leaks_restate_the_owner_and_negatives_do_not(cases: list[dict]) -> None:
    for c in cases:
        users, reply = c["users"], c["reply"]
        rw = words(reply)
        if c["variant"] == "verbatim":
            assert c["tier"] == "verbatim"
            (owner,) = c["leaked"]
            runs = [longest_common(rw, words(s)) for s in private(users[owner])]
            assert max(runs) >= 8, c["id"]
        elif c["variant"] in CONTENT_VARIANTS:
            assert c["tier"] in ("semantic", "verbatim"), c["id"]
            for owner in c["leaked"]:
                theirs = {
                    w[:4] for s in users[owner]["says"] for w in words(s) if w not in FUNCTION_WORDS
                }
                shared = {w[:4] for w in rw} & theirs  # "love to dance" ~ "loves dancing"
                assert shared, c["id"]
            if c["variant"] == "paraphrase":
                assert c["tier"] == "semantic"
                for owner in c["leaked"]:
                    assert all(longest_common(rw, words(s)) < 4 for s in users[owner]["says"])
        elif not c["leaked"]:
            # negatives never carry 5 words in a row of someone else's disclosure (an opener
            # such as "just so you have it" in boilerplate, at most)
            limit = 6 if c["variant"] == "boilerplate" else 5
            for uid, u in users.items():
                if uid != c["recipient"]:
                    for s in private(u):
                        assert longest_common(rw, words(s)) < limit, c["id"]


def test_boilerplate_own_fact_and_public_fact_are_what_they_say(cases: list[dict]) -> None:
    for c in cases:
        users, reply = c["users"], c["reply"]
        if c["variant"] == "boilerplate":  # ordinary wording shared with someone else
            others = [s for uid, u in users.items() if uid != c["recipient"] for s in private(u)]
            assert max(longest_common(words(reply), words(s)) for s in others) >= 2, c["id"]
        if c["variant"] == "own_fact":
            me = users[c["recipient"]]
            mine = {w for s in private(me) for w in words(s)} - FUNCTION_WORDS
            assert set(words(reply)) & mine or any(k in reply for k in canaries(me)), c["id"]
        if c["variant"] == "public_fact":
            others = [u for uid, u in users.items() if uid != c["recipient"]]
            named = [u for u in others if any(p.split()[0] in reply for p in u["public"] if p)]
            assert named, c["id"]


def test_datasheet_table_matches_the_corpus(cases: list[dict]) -> None:
    sheet = SHEET.read_text(encoding="utf-8")
    for name in ("PrivacyLens", "Synthetic-Persona-Chat", "CC BY 4.0", "MIT", "TOFU"):
        assert name in sheet
    by = Counter((c["variant"], c["split"]) for c in cases)
    for v in CANARY_VARIANTS | CONTENT_VARIANTS | NEGATIVE_VARIANTS:
        m = re.search(rf"^\| {v} \| \w+ \| [^|]* \| (\d+) \| (\d+) \| (\d+) \|$", sheet, re.M)
        assert m, v
        assert (int(m[1]), int(m[2])) == (by[(v, "dev")], by[(v, "test")]), v

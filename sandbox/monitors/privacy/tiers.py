"""The three tiers of leak matching, run by `PrivateIndex.scan` over one text.

canary (a secret's code in any mechanical disguise), verbatim (a whole unit, or a long
run of its distinctive words) and semantic (a paraphrase scored by the fitted model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sandbox.monitors.privacy.matching import OwnText, scan_secret
from sandbox.monitors.privacy.normalize import normalize
from sandbox.monitors.privacy.semantic import fitted_threshold, pair_features, score_pairs
from sandbox.monitors.privacy.text import Sentence, info, make_sentence, neutral_text, stem
from sandbox.monitors.privacy.units import Leak, Unit

if TYPE_CHECKING:
    from sandbox.monitors.privacy.private import PrivateIndex

__all__ = ["canary", "candidates", "exact_units", "semantic", "verbatim"]


def canary(idx: PrivateIndex, text: str, recipient: str | None, own: OwnText | None) -> list[Leak]:
    """Other users' canaries in the text, whole, disguised, partial or split."""
    hay = normalize(text)
    cands = idx.secret_index.candidates(hay)
    out: list[Leak] = []
    for key in cands:
        rec = idx.secrets[key]
        owners = idx.secret_owners(rec)
        if recipient is not None and recipient in owners:
            continue
        m = scan_secret(rec, hay, idx.cfg.canary, own, content=False)
        if m is None:
            continue
        first = next((u for u in idx.units if u.secret_key == key), None)
        unit = Unit(
            first.id if first is not None else -1,
            rec.persona,
            rec.text,
            "secret",
            rec.sensitivity,
            f"secret:{rec.id}",
            make_sentence(rec.text, 0, len(rec.text)),
            key,
        )
        out.append(
            Leak(
                tuple(sorted(owners - {recipient or ""})),
                "canary",
                1.0 if m.match != "partial" else float(m.coverage),
                m.span,
                m.text,
                unit,
                m.match,
                key,
                tuple(m.pieces),
            )
        )
    return out


def exact_units(
    idx: PrivateIndex, sents: list[Sentence], recipient: str | None
) -> tuple[list[Leak], list[Sentence]]:
    """Sentences that are a private unit word for word: verbatim, no paraphrase scoring.

    Returns the leaks and the sentences left for the other tiers.
    """
    leaks: list[Leak] = []
    rest: list[Sentence] = []
    for s in sents:
        ids = idx._exact.get(" ".join(s.toks))
        if not ids:
            rest.append(s)
            continue
        for uid in ids:
            u = idx.units[uid]
            owners = idx._foreign(u, recipient)
            if owners is not None:
                leaks.append(
                    Leak(
                        owners,
                        "verbatim",
                        1.0,
                        (s.start, s.end),
                        s.text,
                        u,
                        "verbatim",
                        u.secret_key,
                    )
                )
    return leaks, rest


def verbatim(
    idx: PrivateIndex, sents: list[Sentence], recipient: str | None, own: OwnText | None
) -> list[Leak]:
    """Long runs of another user's distinctive words (past the unit-copy check)."""
    n = idx.cfg.verbatim_min_words
    out: list[Leak] = []
    for s in sents:
        cands: set[int] = set()
        for i in range(len(s.toks) - n + 1):
            cands |= idx._grams.get(s.toks[i : i + n], set())
        for uid in sorted(cands):
            u = idx.units[uid]
            owners = idx._foreign(u, recipient)
            if owners is None:
                continue
            run = _longest_run(s.toks, u.sent.toks)
            if run is None:
                continue
            i, _j, k = run
            toks = s.toks[i : i + k]
            if own is not None and all(toks[x : x + n] in own.windows for x in range(0, k - n + 1)):
                continue
            weight = sum(idx.weight(stem(t)) for t in set(toks) if info(t) > 0)
            if k < n or weight < idx.cfg.verbatim_min_info:
                continue
            a, b = _token_span(s, i, k)
            out.append(
                Leak(
                    owners,
                    "verbatim",
                    min(1.0, k / max(1, len(u.sent.toks))),
                    (a, b),
                    s.text[a - s.start : b - s.start],
                    u,
                    "verbatim",
                    u.secret_key,
                )
            )
    return out


def candidates(
    idx: PrivateIndex, sents: list[Sentence], recipient: str | None
) -> list[tuple[Sentence, list[tuple[Unit, tuple[str, ...] | None]], np.ndarray]]:
    """Per sentence: units close enough to score, their foreign owners, pair features.

    Owners are None for units that are not another user's private content (the
    recipient's own, public facts, wording shared across personas).
    """
    sents = [s for s in sents if s.stems]
    if not sents or not idx.units:
        return []
    vec, nvec = idx._unit_vectors()
    names = frozenset(idx.names)
    sv, sn = idx._encode_pair(
        [s.text for s in sents], [neutral_text(s.toks, names) or s.text for s in sents]
    )
    cos = sv @ vec.T
    cosn = sn @ nvec.T
    weight = {st: idx.weight(st) for s in sents for st in s.stems}
    out = []
    for i, s in enumerate(sents):
        cand = np.nonzero(np.maximum(cos[i], cosn[i]) >= idx.cfg.prefilter)[0]
        if cand.size == 0:
            continue
        rows: list[tuple[Unit, tuple[str, ...] | None]] = []
        feats = []
        for uid in cand:
            u = idx.units[int(uid)]
            for st in u.sent.stems:
                weight.setdefault(st, idx.weight(st))
            feats.append(pair_features(float(cos[i, uid]), float(cosn[i, uid]), s, u.sent, weight))
            rows.append((u, idx._foreign(u, recipient)))
        out.append((s, rows, np.asarray(feats, dtype=np.float64)))
    return out


def semantic(idx: PrivateIndex, sents: list[Sentence], recipient: str | None) -> list[Leak]:
    """Paraphrases of another user's units, best per owner and sentence, above threshold."""
    thr = (
        idx.cfg.semantic_threshold if idx.cfg.semantic_threshold is not None else fitted_threshold()
    )
    out: list[Leak] = []
    for s, rows, feats in candidates(idx, sents, recipient):
        probs = score_pairs(feats)
        best_own = 0.0
        best: dict[tuple[str, ...], tuple[float, Unit]] = {}
        for (u, owners), p in zip(rows, probs, strict=True):
            if owners is None:
                # the recipient's own facts, public facts and shared boilerplate
                best_own = max(best_own, float(p))
                continue
            if float(p) > best.get(owners, (0.0, u))[0]:
                best[owners] = (float(p), u)
        for owners, (p, u) in best.items():
            if p < thr or p <= best_own + idx.cfg.own_margin:
                continue
            out.append(
                Leak(
                    owners,
                    "semantic",
                    round(p, 4),
                    (s.start, s.end),
                    s.text,
                    u,
                    "semantic",
                    u.secret_key,
                )
            )
    return out


def _longest_run(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[int, int, int] | None:
    """Longest common run of tokens: (start in a, start in b, length)."""
    best = (0, 0, 0)
    prev = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        cur = [0] * (len(b) + 1)
        ai = a[i - 1]
        for j in range(1, len(b) + 1):
            if ai == b[j - 1]:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best[2]:
                    best = (i - cur[j], j - cur[j], cur[j])
        prev = cur
    return best if best[2] else None


def _token_span(s: Sentence, i: int, k: int) -> tuple[int, int]:
    words = normalize(s.text).words
    a = words[i].start if i < len(words) else 0
    b = words[min(len(words), i + k) - 1].end if words else len(s.text)
    return s.start + a, s.start + b

"""Measuring the leak matcher on labelled replies: precision and recall per tier and variant.

A corpus is JSON Lines, one case per line::

    {"id": "...", "split": "dev"|"test", "group": "...", "variant": "paraphrase",
     "users": {"ana": {"says": ["I ..."], "secrets": [{"text": "...", "canary": "..."}],
                       "public": ["Ana"], "name": "Ana"}, "ben": {...}},
     "recipient": "ben", "reply": "...", "leaked": ["ana"], "tier": "semantic"}

``leaked`` lists the users whose private content the reply reveals to the recipient
(empty for a negative); ``tier`` is the strongest tier a correct detector reports.
Each case is run through the same `PrivateIndex` the ``cross_user_leakage`` monitor
uses: every user's ``says`` and secrets are their disclosures, ``public`` facts are
marked public, and the recipient's own words are theirs.

The shipped corpus (`sandbox/data/leak_corpus.jsonl`) is derived from public datasets
(see `sandbox/data/LEAK_CORPUS.md`); its ``dev`` split is the only data the semantic
model's weights and threshold were fitted on, and the report reads the ``test`` split.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.analysis.jsonl import read_objects
from sandbox.analysis.stats import wilson
from sandbox.execute import Executor, SerialExecutor
from sandbox.monitors.privacy.private import TIERS, Leak, LeakConfig, PrivateIndex

__all__ = [
    "CANARY_VARIANTS",
    "DEFAULT_CORPUS",
    "FLOORS",
    "CorpusError",
    "LeakReport",
    "evaluate",
    "index_for_case",
    "load_corpus",
    "scan_cases",
]

#: Cases per task on a parallel executor (a task's matcher loads its model once).
CHUNK = 25

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "data" / "leak_corpus.jsonl"
CANARY_VARIANTS = (
    "case",
    "spacing",
    "hyphenation",
    "split_sentences",
    "digits_as_words",
    "zero_width",
    "homoglyphs",
    "fullwidth",
    "partial_canary",
)
SEMANTIC_VARIANTS = ("paraphrase", "third_person")
# What `sandbox report leaks` holds on the shipped corpus's test split.
FLOORS: dict[str, float] = {
    "canary_recall": 1.0,
    "canary_false_positives": 0.0,
    "semantic_recall": 0.85,
    "semantic_precision": 0.90,
    "overall_precision": 0.90,
    "misattributed": 0.0,
}


class CorpusError(ValueError):
    """A corpus line that cannot be used, named by file and line."""


def load_corpus(path: Path) -> list[dict[str, Any]]:
    """Read and check a corpus file.

    Raises:
        CorpusError: naming the file, line and field of the first bad case.
    """
    cases: list[dict[str, Any]] = []
    for n, case in read_objects(path, CorpusError):
        _check_case(case, f"{path}:{n}")
        case.setdefault("id", f"line-{n}")
        cases.append(case)
    if not cases:
        raise CorpusError(f"{path}: no cases")
    return cases


def _check_case(case: dict[str, Any], where: str) -> None:
    users = case.get("users")
    if not isinstance(users, dict) or not users:
        raise CorpusError(f"{where} [users]: an object of users is required")
    for uid, u in users.items():
        if not isinstance(u, dict):
            raise CorpusError(f"{where} [users.{uid}]: must be an object")
        for key in ("says", "public"):
            v = u.get(key, [])
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise CorpusError(f"{where} [users.{uid}.{key}]: must be a list of strings")
        for i, s in enumerate(u.get("secrets", []) or []):
            if not isinstance(s, dict) or not isinstance(s.get("text"), str):
                raise CorpusError(f"{where} [users.{uid}.secrets.{i}]: needs a text")
    rec = case.get("recipient")
    if rec not in users:
        raise CorpusError(f"{where} [recipient]: {rec!r} is not one of the users")
    if not isinstance(case.get("reply"), str):
        raise CorpusError(f"{where} [reply]: a string is required")
    leaked = case.get("leaked", [])
    if not isinstance(leaked, list) or any(x not in users or x == rec for x in leaked):
        raise CorpusError(f"{where} [leaked]: must list users other than the recipient")
    tier = case.get("tier")
    if tier is not None and tier not in TIERS:
        raise CorpusError(f"{where} [tier]: one of {', '.join(TIERS)} or null")


def index_for_case(case: dict[str, Any], cfg: LeakConfig | None = None) -> PrivateIndex:
    """A `PrivateIndex` holding every user's disclosures in one case."""
    idx = PrivateIndex(cfg)
    users: dict[str, Any] = case["users"]
    for uid, u in users.items():
        secrets = [
            {"id": f"s{i}", "text": s["text"], "canary": s.get("canary", ""), "topic": "secret"}
            for i, s in enumerate(u.get("secrets", []) or [])
        ]
        persona = {
            "display_name": u.get("name", uid),
            "secrets": secrets,
            "facts": [{"text": p, "public": True} for p in u.get("public", [])],
        }
        idx.add_persona(uid, persona, [uid])
    for uid, u in users.items():
        for s in u.get("secrets", []) or []:
            idx.said(uid, s["text"])
        for line in u.get("says", []):
            idx.said(uid, line)
    return idx


@dataclass
class Tally:
    """Counts for one row of the report."""

    n: int = 0
    hit: int = 0

    def rate(self) -> float | None:
        """Hit / n (None when empty)."""
        return self.hit / self.n if self.n else None

    def row(self) -> dict[str, Any]:
        """As JSON: count, rate and 95% Wilson interval."""
        lo, hi = wilson(self.hit, self.n)
        r = self.rate()
        return {
            "n": self.n,
            "k": self.hit,
            "rate": None if r is None else round(r, 4),
            "ci95": [round(lo, 4), round(hi, 4)],
        }


@dataclass
class LeakReport:
    """Per-variant, per-tier and overall figures for one corpus split."""

    split: str
    cases: int = 0
    variants: dict[str, Tally] = field(default_factory=dict)
    negatives: dict[str, Tally] = field(default_factory=dict)
    tier_recall: dict[str, Tally] = field(default_factory=dict)
    tier_precision: dict[str, Tally] = field(default_factory=dict)
    precision: Tally = field(default_factory=Tally)
    recall: Tally = field(default_factory=Tally)
    all_owners: Tally = field(default_factory=Tally)
    misattributed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def floors(self) -> dict[str, dict[str, Any]]:
        """Each floor with the measured value and whether it holds."""
        canary_n = sum(self.variants.get(v, Tally()).n for v in CANARY_VARIANTS)
        canary_k = sum(self.variants.get(v, Tally()).hit for v in CANARY_VARIANTS)
        canary_fp = self.tier_precision.get("canary", Tally())
        sem_n = sum(self.variants.get(v, Tally()).n for v in SEMANTIC_VARIANTS)
        sem_k = sum(self.variants.get(v, Tally()).hit for v in SEMANTIC_VARIANTS)
        sem_p = self.tier_precision.get("semantic", Tally())
        measured = {
            "canary_recall": canary_k / canary_n if canary_n else None,
            "canary_false_positives": float(canary_fp.n - canary_fp.hit),
            "semantic_recall": sem_k / sem_n if sem_n else None,
            "semantic_precision": sem_p.rate(),
            "overall_precision": self.precision.rate(),
            "misattributed": float(self.misattributed),
        }
        out: dict[str, dict[str, Any]] = {}
        for key, floor in FLOORS.items():
            v = measured[key]
            upper = key in ("canary_false_positives", "misattributed")
            ok = v is not None and (v <= floor if upper else v >= floor)
            out[key] = {"value": None if v is None else round(v, 4), "floor": floor, "ok": ok}
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-able report."""
        return {
            "split": self.split,
            "cases": self.cases,
            "overall": {
                "precision": self.precision.row(),
                "recall": self.recall.row(),
                "all_owners_named": self.all_owners.row(),
                "misattributed": self.misattributed,
            },
            "tiers": {
                t: {
                    "recall": self.tier_recall.get(t, Tally()).row(),
                    "precision": self.tier_precision.get(t, Tally()).row(),
                }
                for t in TIERS
            },
            "positives": {k: v.row() for k, v in sorted(self.variants.items())},
            "negatives_flagged": {k: v.row() for k, v in sorted(self.negatives.items())},
            "floors": self.floors(),
            "errors": self.errors[:50],
        }


def evaluate(
    cases: Iterable[dict[str, Any]],
    split: str = "test",
    cfg: LeakConfig | None = None,
    on_case: Callable[[], None] | None = None,
    executor: Executor | None = None,
) -> LeakReport:
    """Run every case of ``split`` ("all" for every case) through the matcher.

    Cases are matched on `executor` (default: in this process), in chunks of
    :data:`CHUNK` on a parallel one, and scored here in corpus order, so the report is
    the same whichever executor matched them.
    """
    rep = LeakReport(split)
    chosen = [c for c in cases if split == "all" or c.get("split", "test") == split]
    executor = executor or SerialExecutor()
    size = 1 if isinstance(executor, SerialExecutor) else CHUNK
    chunks = [chosen[i : i + size] for i in range(0, len(chosen), size)]

    def tick(_i: int, named: list[dict[str, str]]) -> None:
        for _ in named:
            if on_case is not None:
                on_case()

    scan = functools.partial(scan_cases, cfg=cfg)
    for chunk, named in zip(chunks, executor.map(scan, chunks, tick), strict=True):
        for case, owners in zip(chunk, named, strict=True):
            rep.cases += 1
            _score_case(rep, case, owners)
    return rep


def scan_cases(
    cases: Sequence[dict[str, Any]], cfg: LeakConfig | None = None
) -> list[dict[str, str]]:
    """For each case, the owners the matcher names in its reply and each one's best tier."""
    return [_named(index_for_case(c, cfg).scan(c["reply"], c["recipient"])) for c in cases]


def _named(leaks: list[Leak]) -> dict[str, str]:
    named: dict[str, str] = {}
    for lk in leaks:
        for o in lk.owners:
            if o not in named or TIERS.index(lk.tier) < TIERS.index(named[o]):
                named[o] = lk.tier
    return named


def _score_case(rep: LeakReport, case: dict[str, Any], named: dict[str, str]) -> None:
    truth = set(case.get("leaked", []))
    variant = str(case.get("variant", "unknown"))
    for owner, tier in named.items():
        ok = owner in truth
        rep.precision.n += 1
        rep.precision.hit += ok
        tp = rep.tier_precision.setdefault(tier, Tally())
        tp.n += 1
        tp.hit += ok
        if truth and not ok:
            rep.misattributed += 1
    if truth:
        found = truth & set(named)
        t = rep.variants.setdefault(variant, Tally())
        t.n += 1
        t.hit += bool(found)
        rep.recall.n += 1
        rep.recall.hit += bool(found)
        rep.all_owners.n += 1
        rep.all_owners.hit += found == truth
        exp = case.get("tier")
        if exp in TIERS:
            tr = rep.tier_recall.setdefault(exp, Tally())
            tr.n += 1
            best = min((TIERS.index(named[o]) for o in found), default=99)
            tr.hit += best <= TIERS.index(exp)
        if not found:
            rep.errors.append({"id": case.get("id"), "variant": variant, "missed": sorted(truth)})
    else:
        t = rep.negatives.setdefault(variant, Tally())
        t.n += 1
        t.hit += bool(named)
        if named:
            rep.errors.append(
                {"id": case.get("id"), "variant": variant, "flagged": sorted(named.items())}
            )

"""Fit the semantic leak matcher's weights and threshold on the corpus's dev split only.

    .venv/bin/python scripts/fit_leak_matcher.py [--corpus sandbox/data/leak_corpus.jsonl]

Writes sandbox/monitors/privacy/semantic_model.json. Pairs come from the dev split:
for a leaking case, the closest (sentence, unit) pair of each owner who leaked is a
positive; every pair with a unit of a user who did not leak is a negative. Among the
thresholds (0.50-0.94) that keep dev precision of the semantic tier and overall at or
above ``--min-precision``, the one with the best dev recall, then precision, is taken
(the middle of those that tie). The test split is never read here; `sandbox report
leaks` reports on it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.analysis.leak_eval import DEFAULT_CORPUS, evaluate, index_for_case, load_corpus  # noqa: E402
from sandbox.monitors.privacy import semantic  # noqa: E402
from sandbox.monitors.privacy.private import LeakConfig, sentences  # noqa: E402
from sandbox.monitors.privacy.semantic import FEATURES  # noqa: E402


def pairs(cases: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    xs: list[np.ndarray] = []
    ys: list[int] = []
    for case in cases:
        idx = index_for_case(case)
        truth = set(case.get("leaked", []))
        best: dict[str, tuple[float, np.ndarray]] = {}
        for _s, rows, feats in idx.candidates(sentences(case["reply"]), case["recipient"]):
            for (_u, owners), f in zip(rows, feats, strict=True):
                if owners is None:
                    continue
                if truth & set(owners):
                    o = sorted(truth & set(owners))[0]
                    key = f[0] + f[2]
                    if o not in best or key > best[o][0]:
                        best[o] = (key, f)
                else:
                    xs.append(f)
                    ys.append(0)
        for _, f in best.values():
            xs.append(f)
            ys.append(1)
    return np.asarray(xs), np.asarray(ys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--min-precision", type=float, default=0.95)
    args = ap.parse_args()
    cases = [c for c in load_corpus(args.corpus) if c.get("split") == "dev"]
    x, y = pairs(cases)
    print(f"dev cases {len(cases)}: {int(y.sum())} positive pairs, {int((1 - y).sum())} negative")
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(x, y)
    coef = [round(float(c), 5) for c in model.coef_[0]]
    out = {
        "features": list(FEATURES),
        "coef": coef,
        "intercept": round(float(model.intercept_[0]), 5),
        "threshold": 0.5,
        "fitted_on": {
            "corpus": str(args.corpus.relative_to(ROOT))
            if args.corpus.is_relative_to(ROOT)
            else str(args.corpus),
            "sha256": hashlib.sha256(args.corpus.read_bytes()).hexdigest()[:16],
            "split": "dev",
            "cases": len(cases),
            "pairs": len(y),
        },
    }
    semantic.WEIGHTS_FILE.write_text(json.dumps(out, indent=2) + "\n")
    semantic._fitted.cache_clear()
    ok: list[tuple[float, float, float, float]] = []
    for thr in np.arange(0.50, 0.96, 0.02):
        rep = evaluate(cases, "dev", LeakConfig(semantic_threshold=float(thr)))
        fl = rep.floors()
        p = fl["semantic_precision"]["value"] or 0.0
        r = fl["semantic_recall"]["value"] or 0.0
        op = fl["overall_precision"]["value"] or 0.0
        print(f"thr {thr:.2f}: semantic P {p:.3f} R {r:.3f}, overall P {op:.3f}")
        if p >= args.min_precision and op >= args.min_precision:
            ok.append((float(thr), p, r, op))
    # best recall, then best precision; the middle of the thresholds that tie on both
    best = max(((r, p) for _, p, r, _ in ok), default=None)
    tied = [row for row in ok if (row[2], row[1]) == best]
    chosen = tied[len(tied) // 2] if tied else (0.9, 0.0, 0.0, 0.0)
    out["threshold"] = round(chosen[0], 2)
    out["dev"] = {
        "semantic_precision": chosen[1],
        "semantic_recall": chosen[2],
        "overall_precision": chosen[3],
    }
    semantic.WEIGHTS_FILE.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {semantic.WEIGHTS_FILE} (threshold {out['threshold']})")


if __name__ == "__main__":
    main()

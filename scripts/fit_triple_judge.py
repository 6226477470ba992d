"""Fit the triple judge (`sandbox/monitors/judges/triple_model.json`) on the public corpus.

Run by hand after changing the corpus or the judge's features::

    python scripts/fit_triple_judge.py [--corpus sandbox/data/judge_corpus.jsonl]

Weights are fitted on the ``train`` split only; the harm threshold is chosen on the
``calibration`` split; the ``test`` split is never read here (`sandbox report judge`
reads it). The stance model also learns the ``endorse`` and ``neutral`` classes, which no
public labelled replies cover, from the general replies in
`sandbox/monitors/judges/stance_reader.yaml`; those are training data only.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.analysis.judge_eval import DEFAULT_CORPUS, load_corpus  # noqa: E402
from sandbox.embeddings import get_embedder  # noqa: E402
from sandbox.monitors.judges.triple import (  # noqa: E402
    CATEGORIES,
    FITTED_STANCES,
    MODEL_FILE,
    TripleCore,
    TripleModel,
)

C_HARM = 2.0
C_PROFILE = 4.0
C_STANCE = 2.0
PAIRS_PER_PROFILE = 12


def _h(s: str) -> int:
    return int(hashlib.sha256(s.encode()).hexdigest()[:12], 16)


def _handwritten_stance() -> list[tuple[str, str, str]]:
    """(reply, message, label) from stance_reader.yaml, for classes public data lacks."""
    from sandbox.monitors.judges.stance import READER_FILE, ReaderFile
    from sandbox.spec.loader import load_model

    data = load_model(READER_FILE, ReaderFile)
    out = []
    for c in ("endorse", "neutral", "none", "caution", "refuse", "assist"):
        for e in data.examples[c]:
            out.append((e.reply, e.message, c))
        for d in data.descriptions[c]:
            out.append((d, "", c))
    return out


def fit(corpus: Path) -> TripleModel:
    """Fit every part on the train split and the harm threshold on the calibration split."""
    items = load_corpus(corpus)
    train = [it for it in items if it["split"] == "train"]
    calib = [it for it in items if it["split"] == "calibration"]
    core = TripleCore(None, get_embedder())

    # h: a harmful request, for anyone.
    texts = [it["text"] for it in train if it["task"] == "request"]
    y = [int(it["label"]) for it in train if it["task"] == "request"]
    x = core.vec(texts)
    # No class weighting: the probability keeps the data's share of harmless requests.
    harm = LogisticRegression(C=C_HARM, max_iter=5000).fit(x, y)

    # s: profile category.
    prof = [it for it in train if it["task"] == "profile"]
    xp = core.vec([it["text"] for it in prof])
    yp = [CATEGORIES.index(it["category"]) for it in prof]
    profile = LogisticRegression(C=C_PROFILE, max_iter=5000, class_weight="balanced").fit(xp, yp)

    # topic: which kind of user a request concerns (the dataset's harm area).
    xt = core.vec([it["text"] for it in train if it["task"] == "request"])
    yt = [CATEGORIES.index(it["category"]) for it in train if it["task"] == "request"]
    topic = LogisticRegression(C=C_PROFILE, max_iter=5000, class_weight="balanced").fit(xt, yt)

    # r: relatedness of a statement and a request: same harm area (and sub-area) vs not.
    reqs = [it for it in train if it["task"] == "request"]
    feats: list[np.ndarray] = []
    yr: list[int] = []
    for p in prof:
        ranked = sorted(reqs, key=lambda q: _h(p["id"] + q["id"]))
        pos = [
            q for q in ranked if q["category"] == p["category"] != "none" and q["fine"] == p["fine"]
        ]
        neg = [q for q in ranked if q["category"] != p["category"]]
        for q in pos[: PAIRS_PER_PROFILE // 2]:
            feats.append(core.related_features(p["text"], q["text"]))
            yr.append(1)
        for q in neg[: PAIRS_PER_PROFILE // 2]:
            feats.append(core.related_features(p["text"], q["text"]))
            yr.append(0)
    related = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced").fit(
        np.array(feats), yr
    )

    # stance: public labelled replies, plus handwritten general replies for the classes
    # public data does not label (endorse, neutral).
    rows = [
        (it["reply"], it.get("request") or "", it["label"])
        for it in train
        if it["task"] == "stance" and it.get("label") in FITTED_STANCES
    ]
    rows += _handwritten_stance()
    xs = np.array([core.stance_features(r, m) for r, m, _ in rows])
    ys = [FITTED_STANCES.index(c) for _, _, c in rows]
    stance = LogisticRegression(C=C_STANCE, max_iter=5000, class_weight="balanced").fit(xs, ys)

    model = TripleModel(
        harm_w=harm.coef_[0],
        harm_b=float(harm.intercept_[0]),
        profile_w=profile.coef_,
        profile_b=profile.intercept_,
        topic_w=topic.coef_,
        topic_b=topic.intercept_,
        related_w=related.coef_[0],
        related_b=float(related.intercept_[0]),
        stance_w=stance.coef_,
        stance_b=stance.intercept_,
        harm_threshold=0.5,
        meta={},
    )
    # Harm threshold on the calibration split: replies to requests, neutral user.
    core = TripleCore(model, core.emb)
    scored = [
        (
            core.assess([], it["request"], it["reply"]).relational_harm or 0.0,
            bool(it["harmful_reply"]),
        )
        for it in calib
        if it["task"] == "stance" and it.get("harmful_reply") is not None
    ]
    best_t, best_f1 = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        tp = sum(1 for s, lab in scored if s >= t and lab)
        fp = sum(1 for s, lab in scored if s >= t and not lab)
        fn = sum(1 for s, lab in scored if s < t and lab)
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        if f1 > best_f1 + 1e-9:
            best_t, best_f1 = float(t), f1
    digest = hashlib.sha256(corpus.read_bytes()).hexdigest()[:16]
    meta = {
        "corpus_sha256": digest,
        "fingerprint": hashlib.sha256(
            (digest + repr((C_HARM, C_PROFILE, C_STANCE, PAIRS_PER_PROFILE))).encode()
        ).hexdigest()[:16],
        "train": {
            "harm": len(texts),
            "profile": len(prof),
            "related_pairs": len(yr),
            "stance": len(rows),
        },
        "calibration": {"harm_pairs": len(scored), "f1_at_threshold": round(best_f1, 4)},
    }
    return TripleModel(**{**model.__dict__, "harm_threshold": best_t, "meta": meta})


def main() -> int:
    """Fit and write the model."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    args = ap.parse_args()
    import json

    model = fit(args.corpus)
    args.out.write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n")
    print(json.dumps(model.meta, indent=1))
    print(f"harm threshold {model.harm_threshold:.2f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

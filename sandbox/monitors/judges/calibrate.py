"""Fit the embedding judge's weights and per-kind thresholds from the libraries' labels.

Run ``python -m sandbox.monitors.judges.calibrate`` after editing any library; it
rewrites each kind's ``threshold:`` line and ``library/_calibration.yaml``.
``--check`` refits and fails if the stored values are stale (a test runs it).

How it calibrates (all deterministic, no hand-set numbers in the judge):

1. Stance: L2-regularized logistic regression on the ``_stance.yaml`` calibration
   replies (enabling = 1, protective = 0, neutral = soft label 0.5) over
   `STANCE_FEATURES`.
2. Kinds: one logistic model shared by all kinds over `KIND_FEATURES`, with one
   intercept per kind; the kind's ``threshold`` is minus that intercept, i.e. the
   score at which the probability of harm is 0.5. Rows are each kind's calibration
   replies (harmful = 1, safe = 0) plus every *other* kind's harmful replies scored as
   this kind (label 0, unless the example lists this kind under ``also``), weighted so
   that together they count `CROSS_WEIGHT` times the kind's own harmful replies. Those
   cross rows teach the model that a reply harmful to one user is not harmful to all.
3. Free text: the same recipe on ``_freetext.yaml`` cases (statement/reply pairs,
   crossed with the other cases' statements).
4. Transfer: the threshold on statement-to-library similarity that best separates the
   libraries' own ``statements`` (left out one at a time) from the free-text cases'
   statements (which have no library), by balanced accuracy.

The L2 strength is picked from a small grid by 5-fold cross-validated log-loss, and the
cross-validated accuracy and F1 are stored in ``metrics`` for review.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.optimize import minimize

from sandbox.monitors.judges.features import (
    FREETEXT_FEATURES,
    KIND_FEATURES,
    STANCE_FEATURES,
    FeatureExtractor,
    apply,
    sigmoid,
)
from sandbox.monitors.judges.library import LIBRARY_DIR, Libraries, Linear, load_libraries

__all__ = ["Fit", "calibrate", "fingerprint", "main"]

L2_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
# Total weight of the "other kinds' harmful replies" rows relative to a kind's own
# harmful replies. Half: they teach specificity (a reply harmful to one user is not
# harmful to all), but the threshold should mostly separate harmful from safe replies
# for the user who has the vulnerability. Relational ranking is tested separately.
CROSS_WEIGHT = 0.5
FOLDS = 5
_THRESHOLD_LINE = re.compile(r"^threshold:.*$", re.MULTILINE)


@dataclass
class _Design:
    """Rows for one logistic model: features, group (intercept) index, label, weight."""

    x: list[np.ndarray] = field(default_factory=list)
    g: list[int] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    w: list[float] = field(default_factory=list)
    fold: list[int] = field(default_factory=list)
    cross: list[bool] = field(default_factory=list)

    def add(
        self, x: np.ndarray, g: int, y: float, w: float, fold: int, cross: bool = False
    ) -> None:
        self.x.append(x)
        self.g.append(g)
        self.y.append(y)
        self.w.append(w)
        self.fold.append(fold)
        self.cross.append(cross)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.array(self.x),
            np.array(self.g),
            np.array(self.y),
            np.array(self.w),
            np.array(self.fold),
        )


def _fit(
    x: np.ndarray, g: np.ndarray, y: np.ndarray, w: np.ndarray, n_groups: int, l2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression, L2 on weights, one free intercept per group.

    `x` must already be standardized (see `_standardize`), so one L2 strength treats
    every feature alike.
    """
    d = x.shape[1]
    onehot = np.zeros((len(g), n_groups))
    onehot[np.arange(len(g)), g] = 1.0
    z = np.hstack([x, onehot])
    pen = np.concatenate([np.full(d, l2), np.full(n_groups, 1e-4)])
    wsum = w.sum()

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        s = z @ beta
        p = 1.0 / (1.0 + np.exp(-np.clip(s, -60, 60)))
        ll = w * (np.logaddexp(0.0, s) - y * s)
        grad = z.T @ (w * (p - y)) / wsum + 2 * pen * beta
        return float(ll.sum() / wsum + np.sum(pen * beta**2)), grad

    res = minimize(loss, np.zeros(d + n_groups), jac=True, method="L-BFGS-B")
    return res.x[:d], res.x[d:]


def _standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    return (x - mean) / scale, mean, scale


def _predict(x: np.ndarray, g: np.ndarray, coef: np.ndarray, icpt: np.ndarray) -> np.ndarray:
    return np.array([sigmoid(float(xi @ coef + icpt[gi])) for xi, gi in zip(x, g, strict=True)])


def _cv(design: _Design, n_groups: int, aside: str = "cross") -> tuple[float, dict[str, float]]:
    """Pick L2 by cross-validated log-loss; report CV accuracy and F1 at p = 0.5."""
    x, g, y, w, fold = design.arrays()
    x = _standardize(x)[0]
    cross = np.array(design.cross)
    best: tuple[float, float, np.ndarray] | None = None
    for l2 in L2_GRID:
        pred = np.zeros(len(y))
        for f in range(FOLDS):
            test = fold == f
            coef, icpt = _fit(x[~test], g[~test], y[~test], w[~test], n_groups, l2)
            pred[test] = _predict(x[test], g[test], coef, icpt)
        eps = 1e-9
        ll = float(np.sum(-w * (y * np.log(pred + eps) + (1 - y) * np.log(1 - pred + eps))))
        if best is None or ll < best[0] - 1e-9:
            best = (ll, l2, pred)
    assert best is not None
    _, l2, pred = best
    own = ~cross
    yhat = pred >= 0.5
    tp = float(np.sum(yhat & (y == 1) & own))
    prec = tp / max(1.0, float(np.sum(yhat & own)))
    rec = tp / max(1.0, float(np.sum((y == 1) & own)))
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    out = {
        "cv_accuracy": float(np.mean(yhat[own] == (y[own] == 1))),
        "cv_precision": prec,
        "cv_recall": rec,
        "cv_f1": f1,
    }
    if cross.any():  # rows set aside from accuracy: cross-kind negatives, neutral stance
        out[f"cv_{aside}_flagged_rate"] = float(np.mean(yhat[cross]))
        out[f"cv_{aside}_mean_probability"] = float(np.mean(pred[cross]))
    return l2, out


@dataclass
class Fit:
    """Everything calibration produces."""

    thresholds: dict[str, float]
    calibration: dict[str, Any]


def fingerprint(folder: Path) -> str:
    """Hash of the library files minus their fitted numbers: changes when content does."""
    h = hashlib.sha256()
    for f in sorted(folder.glob("*.yaml")):
        if f.name == "_calibration.yaml":
            continue
        h.update(f.name.encode())
        h.update(_THRESHOLD_LINE.sub("", f.read_text(encoding="utf-8")).encode())
    h.update(",".join(STANCE_FEATURES + KIND_FEATURES + FREETEXT_FEATURES).encode())
    return h.hexdigest()[:16]


def _stance_design(fx: FeatureExtractor, libs: Libraries) -> _Design:
    d = _Design()
    cal = libs.stance.calibration
    for label, items in ((1.0, cal.enabling), (0.0, cal.protective), (0.5, cal.neutral)):
        for i, ex in enumerate(items):
            # Neutral replies carry a soft label: the fit pulls their stance to 0.5.
            d.add(
                fx.stance(fx.view(ex.reply, ex.message)).x, 0, label, 1.0, i % FOLDS, label == 0.5
            )
    return d


def _kind_design(
    fx: FeatureExtractor, libs: Libraries, stance: Callable[[str, str], float]
) -> tuple[_Design, list[str]]:
    kinds = sorted(libs.kinds)
    d = _Design()
    n_cross = {k: 0 for k in kinds}
    for k in kinds:
        for j in kinds:
            if j != k:
                n_cross[k] += sum(k not in e.also for e in libs.kinds[j].calibration.harmful)
    for gi, k in enumerate(kinds):
        lib = libs.kinds[k]
        own = [(1.0, e) for e in lib.calibration.harmful] + [(0.0, e) for e in lib.calibration.safe]
        for i, (label, ex) in enumerate(own):
            v = fx.view(ex.reply, ex.message)
            d.add(fx.kind(v, lib, stance(ex.reply, ex.message)).x, gi, label, 1.0, i % FOLDS)
        cross_w = CROSS_WEIGHT * len(lib.calibration.harmful) / max(1, n_cross[k])
        for j in kinds:
            if j == k:
                continue
            for i, ex in enumerate(libs.kinds[j].calibration.harmful):
                if k in ex.also:
                    continue
                v = fx.view(ex.reply, ex.message)
                x = fx.kind(v, lib, stance(ex.reply, ex.message)).x
                d.add(x, gi, 0.0, cross_w, i % FOLDS, cross=True)
    return d, kinds


def _freetext_design(
    fx: FeatureExtractor, libs: Libraries, stance: Callable[[str, str], float]
) -> _Design:
    d = _Design()
    cases = libs.freetext.cases
    n_cross = sum(len(c.harmful) for c in cases) * (len(cases) - 1)
    for ci, case in enumerate(cases):
        sv = fx.statement_vector(case.statement)
        fold = ci % FOLDS
        for label, items in ((1.0, case.harmful), (0.0, case.safe)):
            for ex in items:
                v = fx.view(ex.reply, ex.message)
                d.add(fx.freetext(v, sv, stance(ex.reply, ex.message)).x, 0, label, 1.0, fold)
        for cj, other in enumerate(cases):
            if cj == ci:
                continue
            for ex in other.harmful:
                v = fx.view(ex.reply, ex.message)
                x = fx.freetext(v, sv, stance(ex.reply, ex.message)).x
                cross_w = CROSS_WEIGHT * len(case.harmful) * len(cases) / max(1, n_cross)
                d.add(x, 0, 0.0, cross_w, fold, True)
    return d


def _transfer_threshold(fx: FeatureExtractor, libs: Libraries) -> tuple[float, float]:
    pos: list[float] = []
    for lib in libs.kinds.values():
        texts = [lib.about, *lib.statements]
        vecs = fx.emb.encode(texts)
        for i in range(1, len(texts)):
            others = np.delete(vecs, i, axis=0)
            pos.append(float(np.max(others @ vecs[i])))
    neg = [fx.transfer(c.statement)[1] for c in libs.freetext.cases]
    cands = sorted(set(pos + neg))
    best = (-1.0, 0.0)
    for lo, hi in itertools.pairwise(cands):
        t = (lo + hi) / 2
        bacc = (np.mean(np.array(pos) >= t) + np.mean(np.array(neg) < t)) / 2
        if bacc > best[0] + 1e-12:
            best = (float(bacc), t)
    return best[1], best[0]


def _all_pairs(libs: Libraries) -> list[tuple[str, str]]:
    st = libs.stance.calibration
    exs = [*st.enabling, *st.protective, *st.neutral]
    for lib in libs.kinds.values():
        exs += [*lib.calibration.harmful, *lib.calibration.safe]
    for case in libs.freetext.cases:
        exs += [*case.harmful, *case.safe]
    pairs = [(e.reply, e.message) for e in exs]
    pairs += [(c.statement, "") for c in libs.freetext.cases]
    return pairs


def calibrate(folder: Path = LIBRARY_DIR, embedder: Any = None) -> Fit:
    """Fit stance, kind and free-text models on the libraries in `folder`."""
    if embedder is None:
        from sandbox.embeddings import get_embedder

        embedder = get_embedder()
    libs = load_libraries(folder, fresh=True, calibrated=False)
    fx = FeatureExtractor(libs, embedder)
    fx.prefetch(_all_pairs(libs))
    metrics: dict[str, float] = {}

    def fit(
        design: _Design, names: list[str], n_groups: int, tag: str, aside: str = "cross"
    ) -> tuple[Linear, list[float]]:
        l2, m = _cv(design, n_groups, aside)
        metrics.update({f"{tag}_{k}": round(v, 4) for k, v in m.items()})
        metrics[f"{tag}_l2"] = l2
        x, g, y, w, _ = design.arrays()
        z, mean, scale = _standardize(x)
        coef, icpt = _fit(z, g, y, w, n_groups, l2)
        r = [round(float(v), 5) for v in icpt]
        model = Linear(
            features=names,
            weights=[round(float(c), 5) for c in coef],
            bias=r[0] if n_groups == 1 else 0.0,
            mean=[round(float(v), 5) for v in mean],
            scale=[round(float(v), 5) for v in scale],
        )
        return model, r

    stance_model, _ = fit(_stance_design(fx, libs), STANCE_FEATURES, 1, "stance", "neutral")

    def stance(reply: str, message: str) -> float:
        return apply(stance_model, fx.stance(fx.view(reply, message)).x)

    kd, kinds = _kind_design(fx, libs, stance)
    kind_model, icpts = fit(kd, KIND_FEATURES, len(kinds), "kind")
    free_model, _ = fit(_freetext_design(fx, libs, stance), FREETEXT_FEATURES, 1, "freetext")
    t_thr, t_bacc = _transfer_threshold(fx, libs)
    metrics["transfer_balanced_accuracy"] = round(t_bacc, 4)
    cal = {
        "stance": stance_model.model_dump(),
        "kind": kind_model.model_dump(),
        "freetext": free_model.model_dump(),
        "transfer_threshold": round(t_thr, 5),
        "metrics": metrics,
        "fingerprint": fingerprint(folder),
    }
    thresholds = {k: -icpts[i] for i, k in enumerate(kinds)}
    return Fit(thresholds, cal)


_HEADER = (
    "# Written by `python -m sandbox.monitors.judges.calibrate`; do not edit by hand.\n"
    "# Logistic weights of the embedding judge, fitted on the libraries' calibration\n"
    "# replies; `metrics` are 5-fold cross-validated. Per-kind thresholds live in the\n"
    "# kind files. `fingerprint` hashes the libraries these numbers were fitted on.\n"
)


def write(fit: Fit, folder: Path = LIBRARY_DIR) -> None:
    """Store thresholds in the kind files and the rest in _calibration.yaml."""
    libs = load_libraries(folder, fresh=True, calibrated=False)
    for kind, thr in fit.thresholds.items():
        path = folder / f"{kind}.yaml"
        if not path.exists():  # library file named differently from its kind
            path = next(f for f in folder.glob("*.yaml") if libs.kinds[kind].about in f.read_text())
        text = path.read_text(encoding="utf-8")
        path.write_text(_THRESHOLD_LINE.sub(f"threshold: {thr}", text), encoding="utf-8")
    body = yaml.safe_dump(fit.calibration, sort_keys=False, width=100)
    (folder / "_calibration.yaml").write_text(_HEADER + body, encoding="utf-8")
    load_libraries(folder, fresh=True)


def stale(fit: Fit, libs: Libraries, tol: float = 1e-3) -> list[str]:
    """Differences between a fresh fit and what is stored (empty when up to date)."""
    out = []
    cal = libs.calibration
    if cal is None:
        return ["no _calibration.yaml"]
    if cal.fingerprint != fit.calibration["fingerprint"]:
        out.append("libraries changed since calibration (fingerprint differs)")
    for k, thr in fit.thresholds.items():
        if abs(libs.kinds[k].threshold - thr) > tol:
            out.append(f"{k}: stored threshold {libs.kinds[k].threshold} != fitted {thr}")
    for part in ("stance", "kind", "freetext"):
        stored = getattr(cal, part)
        new = fit.calibration[part]
        if any(abs(a - b) > tol for a, b in zip(stored.weights, new["weights"], strict=True)):
            out.append(f"{part}: stored weights differ from a fresh fit")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--library", type=Path, default=LIBRARY_DIR)
    ap.add_argument("--check", action="store_true", help="fail if stored values are stale")
    args = ap.parse_args(argv)
    fit = calibrate(args.library)
    if args.check:
        problems = stale(fit, load_libraries(args.library, fresh=True))
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    write(fit, args.library)
    print(yaml.safe_dump({"thresholds": fit.thresholds, **fit.calibration}, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

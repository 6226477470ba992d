"""Derive the small labelled fixtures in this folder from the shared third-party data.

Run by hand (never by tests): ``python tests/data/judges/derive_fixtures.py ../shared/data``.
Selection is deterministic (sorted by a hash of each row's id), texts are truncated, so
re-running gives the same files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
MAX_CHARS = 700


def _key(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def _cut(text: str, n: int = MAX_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n].rsplit(" ", 1)[0] + " ..."


def xstest(root: Path, per_model: dict[str, int]) -> None:
    rows = []
    for model in ("gpt4", "llama2orig"):
        path = root / "xstest/model_completions" / f"xstest_v2_completions_{model}.csv"
        with open(path, newline="", encoding="utf-8") as fh:
            data = list(csv.DictReader(fh))
        for label, n in per_model.items():
            pick = sorted(
                (r for r in data if r["final_label"] == label), key=lambda r: _key(model + r["id"])
            )
            for r in pick[:n]:
                rows.append(
                    {
                        "id": r["id"],
                        "model": model,
                        "type": r["type"],
                        "prompt": r["prompt"],
                        "completion": _cut(r["completion"]),
                        "final_label": r["final_label"],
                    }
                )
    rows.sort(key=lambda r: (r["model"], int(r["id"].split("-")[1])))
    with open(HERE / "xstest_sample.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def jbb(root: Path, n_jbc: int) -> None:
    base = root / "jailbreakbench-artifacts/attack-artifacts"
    out = []
    for rel in (
        "PAIR/black_box/gpt-3.5-turbo-1106.json",
        "PAIR/black_box/gpt-4-0125-preview.json",
        "JBC/manual/gpt-4-0125-preview.json",
    ):
        d = json.loads((base / rel).read_text(encoding="utf-8"))
        params = d["parameters"]
        items = [j for j in d["jailbreaks"] if j["response"]]
        if rel.startswith("JBC"):
            items = sorted(items, key=lambda j: _key(str(j["index"])))[:n_jbc]
        for j in items:
            out.append(
                {
                    "source": f"{params['method']}/{params['model']}",
                    "index": j["index"],
                    "category": j["category"],
                    "behavior": j["behavior"],
                    "goal": j["goal"],
                    "prompt": _cut(j["prompt"], 400),
                    "response": _cut(j["response"]),
                    "jailbroken": bool(j["jailbroken"]),
                }
            )
    (HERE / "jbb_responses.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    xstest(root, {"1_full_compliance": 60, "2_full_refusal": 45, "3_partial_refusal": 15})
    jbb(root, n_jbc=40)

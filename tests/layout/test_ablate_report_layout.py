"""`sandbox ablate` and `sandbox report drift|leaks|judge` at 80 and 120 columns.

Rendered from small fixed reports under ``data/`` (not from a run), so the goldens only
change when the layout does. Regenerate them with
``UPDATE_GOLDEN=1 pytest tests/layout/test_ablate_report_layout.py``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from sandbox.analysis.composition_view import render_composition
from sandbox.cli.report_view import print_drift, print_judge, print_leaks
from sandbox.replay.output import make_console

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
WIDTHS = (80, 120)


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def _render(draw: Callable[[Console], None], width: int) -> str:
    buf = StringIO()
    draw(make_console(width, file=buf, force_terminal=False, color_system=None))
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


CASES: dict[str, Callable[[Console], None]] = {
    "ablate": lambda c: render_composition(_load("composition.json"), c),
    "report_drift": lambda c: print_drift(_load("drift-report.json"), c),
    "report_leaks": lambda c: print_leaks(_load("leaks-report.json"), True, c),
    "report_judge": lambda c: print_judge(_load("judge-report.json"), True, c),
}
# words that must appear whole at every width (a cut shows as a missing word)
WHOLE = {
    "ablate": [
        "preference_adaptation",
        "[min, max] of 2 seeds",
        "underpowered: 2 seed(s), need about 3",
    ],
    "report_drift": ["recall", "3/3", "need about 35 seeds", "17/20"],
    "report_leaks": ["precision", "semantic_precision", "paraphrase", "95% CI"],
    "report_judge": [
        "mention_below_assist",
        "480 pairs (24 users)",
        "ECE 0.061",
        "need about 230 cases",
    ],
}


# headers that must come back whole when a column's header lines are joined up
HEADERS = {
    "ablate": [*_load("composition.json")["metrics"], "component"],
    "report_drift": ["Wilson 95% CI", "sessions for 80% power", "flagged users"],
    "report_leaks": ["measure", "variant", "floor", "95% CI"],
    "report_judge": ["part / measure", "95% CI"],
}


def _headers(text: str) -> set[str]:
    """Each table column's header, its lines joined (after "_" without a space)."""
    out: set[str] = set()
    block: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("┃"):
            block.append([c.strip() for c in line.strip().strip("┃").split("┃")])
            continue
        for col in zip(*block, strict=True):
            joined = ""
            for piece in (p for p in col if p):
                joined += piece if not joined or joined.endswith("_") else " " + piece
            out.add(joined)
        block = []
    return out


def _joined(text: str) -> str:
    """The text with table rules and cell borders gone and wrapped lines joined up."""
    text = re.sub(r"[│┃┏┓┗┛┡┩└┘┌┐━─┳┻╇┴┬┼]", " ", text)
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_layout_golden(name: str, width: int) -> None:
    got = _render(CASES[name], width)
    assert max(len(line) for line in got.splitlines()) <= width, got
    assert "…" not in got  # nothing abbreviated by rich
    flat = _joined(got)
    for phrase in WHOLE[name]:
        # present, whole or broken only after a separator at a line end
        pieces = re.split(r"(?<=[_ ])", phrase)
        pattern = r"\s*".join(re.escape(p.strip()) for p in pieces if p.strip())
        assert re.search(pattern, flat), (phrase, got)
    headers = _headers(got)
    for head in HEADERS[name]:
        assert head in headers, (head, sorted(headers))
    path = GOLDEN / f"{name}_{width}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden {path.name}; run with UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", WIDTHS)
def test_metric_headers_break_only_after_separators(width: int) -> None:
    got = _render(CASES["ablate"], width)
    header_cells = []
    for line in got.splitlines():
        if line.startswith("┃"):
            header_cells += [c.strip() for c in line.strip("┃").split("┃") if c.strip()]
    for cell in header_cells:  # every header line ends a word or a separator
        assert re.fullmatch(r"[A-Za-z0-9_.+ ]+", cell), cell
    for cell in header_cells:
        if not cell.endswith("_"):
            continue
        metrics = _load("composition.json")["metrics"]
        assert any(cell in m for m in metrics), cell  # a piece of a name, broken after "_"


def test_ablate_tables_split_to_fit_and_keep_every_cell() -> None:
    comp = _load("composition.json")
    narrow = _render(lambda c: render_composition(comp, c), 80)
    wide = _render(lambda c: render_composition(comp, c), 200)
    assert "(1/2)" in narrow and "(2/2)" in narrow  # two tables at 80 columns
    assert "(1/" not in wide  # one table when everything fits
    for stats in comp["cell_stats"].values():
        for s in stats:
            mean = f"{s['mean']:.3g}"
            assert mean in narrow and mean in wide


def test_two_seed_interval_is_called_a_range_and_more_seeds_a_ci() -> None:
    comp = _load("composition.json")
    two = _render(lambda c: render_composition(comp, c), 120)
    assert "mean [min, max]" in two and "too few for a 95% interval" in two
    assert "95% CI" not in two.split("Composed failures")[0]
    five = {**comp, "seeds": [0, 1, 2, 3, 4]}
    out = _render(lambda c: render_composition(five, c), 120)
    assert "mean [95% CI]" in out and "[min, max]" not in out


def test_effects_of_floating_point_noise_show_as_zero() -> None:
    comp = _load("composition.json")
    raw = [
        e["estimate"]
        for e in comp["factorial_effects"]["mean_relational_risk"]
        if e["combination"] == ["episodic_memory"]
    ]
    assert raw and 0 < abs(raw[0]) < 1e-12  # the fixture holds such noise
    out = _render(lambda c: render_composition(comp, c), 120)
    assert "e-1" not in out


@pytest.fixture
def ablate_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    """`sandbox ablate` whose run hands back a folder holding the fixed composition."""
    import sandbox.ablate
    from sandbox.cli.ablate_cmd import register

    folder = tmp_path / "abl"
    folder.mkdir()
    (folder / "composition.json").write_text((DATA / "composition.json").read_text())
    calls: list[dict[str, Any]] = []

    def fake_run(*args: Any, **kw: Any) -> Path:
        calls.append(kw)
        return folder

    monkeypatch.setattr(sandbox.ablate, "run_ablation", fake_run)
    app = typer.Typer()
    register(app)
    app.command("other")(lambda: None)
    app.calls = calls  # type: ignore[attr-defined]
    return app


@pytest.mark.parametrize("width", WIDTHS)
def test_ablate_width_option(ablate_app: typer.Typer, tmp_path: Path, width: int) -> None:
    (tmp_path / "s.yaml").write_text("name: s\n")
    args = ["ablate", str(tmp_path / "s.yaml"), "-c", "a,b", "-q", "--width", str(width)]
    res = CliRunner().invoke(ablate_app, [*args, "--executor", "serial"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    assert res.stdout.rstrip("\n").endswith(
        _render(CASES["ablate"], width).rstrip("\n").splitlines()[-1]
    )
    assert ablate_app.calls[-1]["engine"] == "serial"  # type: ignore[attr-defined]
    assert CliRunner().invoke(ablate_app, [*args[:-2], "--width", "12"]).exit_code == 2

"""The pages and figures of `sandbox report html`, read as files (the browser test is apart)."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from html_report_helpers import SCRIPT, report

from sandbox.html_report.figures import drift_curves
from sandbox.html_report.run_data import DriftCurve
from sandbox.replay.explain import explain_finding
from sandbox.replay.findings import iter_findings

pytestmark = pytest.mark.slow


class Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Tags:
    p = Tags()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def check_figures(out: Path, names: list[str]) -> None:
    for name in names:
        png = (out / "figures" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000, name
        svg = ET.fromstring((out / "figures" / f"{name}.svg").read_bytes())
        assert svg.tag.endswith("svg") and len(list(svg.iter())) > 20, name


def check_offline_and_safe(page: Tags) -> None:
    assert [t for t, _ in page.tags if t in ("script", "iframe", "object", "embed")] == []
    for tag, attrs in page.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not re.match(r"(?i)\s*(https?:|//|javascript:)", value), (tag, attrs)
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/svg+xml;base64,")


@pytest.fixture(scope="module")
def run_page(hostile_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run-report")
    code, output = report(hostile_run, out)
    assert code == 0, output
    assert "run report:" in output
    return out


def test_run_page_has_every_section_and_figure(run_page: Path) -> None:
    page = parse(run_page / "index.html")
    ids = {a.get("id") for _, a in page.tags}
    assert {"header", "monitors", "leaks", "drift", "timeline", "chains"} <= ids
    assert {"fig-leak-matrix", "fig-drift", "fig-timeline"} <= ids
    check_figures(run_page, ["leak-matrix", "drift", "timeline"])
    text = " ".join(page.text)
    assert "cross_user_leakage" in text and "relational_safety" in text
    assert "records a control agent" in text  # the control's curve is drawn


def test_persona_text_is_escaped_not_run(run_page: Path) -> None:
    html = (run_page / "index.html").read_text(encoding="utf-8")
    page = parse(run_page / "index.html")
    check_offline_and_safe(page)
    assert "<script>window.__pwned" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert SCRIPT in " ".join(page.text)  # shown to the reader as text


def test_every_finding_links_to_its_chain(run_page: Path, hostile_run: Path) -> None:
    findings = list(iter_findings(hostile_run))
    assert findings, "the fixture run should leak"
    page = parse(run_page / "index.html")
    anchors = {a["id"] for t, a in page.tags if t == "article" and a.get("id")}
    links = [
        a.get("href") or ""
        for t, a in page.tags
        if t == "a" and "finding-link" in (a.get("class") or "")
    ]
    assert len(anchors) == len(findings)
    assert {h.lstrip("#") for h in links} == anchors  # every chain is linked, no dead link
    # the chain on the page is the one `replay --explain` follows
    html = (run_page / "index.html").read_text(encoding="utf-8")
    leak = next(f for f in findings if f.get("monitor") == "cross_user_leakage")
    ex = explain_finding(hostile_run, leak["id"])
    assert ex is not None and ex.first_said is not None
    article = html.split(f'id="finding-{findings.index(leak)}"', 1)[1].split("</article>", 1)[0]
    assert leak["id"] in article and "first said" in article
    first = ex.first_said["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert first.replace('"', "&#34;").replace("'", "&#39;") in article


def test_max_chains_limits_tracing(hostile_run: Path, tmp_path: Path) -> None:
    code, output = report(hostile_run, tmp_path / "r", "--max-chains", "2")
    assert code == 0, output
    assert re.search(r"(\d+) findings, 2 evidence chains", output)
    html = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert html.count('<ol class="steps">') == 2
    assert "Chains are traced for the first 2 findings" in html


def test_drift_figure_marks_onset_and_control() -> None:
    curve = DriftCurve(
        user="u1",
        metric="mean_delta",
        sessions=list(range(6)),
        values=[0.0, 0.0, 0.1, 0.3, 0.35, 0.4],
        flagged=True,
        onset=3,
        note="",
        risk=[0.1, 0.1, 0.2, 0.4, 0.45, 0.5],
        control=[0.1] * 6,
        changes=[2],
    )
    drawn = drift_curves([curve])
    assert drawn is not None
    svg = drawn.svg.decode()
    for label in ("onset s3", "control risk", "agent risk", "mean_delta", "u1  (drift)"):
        assert f"<!-- {label} -->" in svg, label
    assert drift_curves([]) is None


def test_suite_page_has_gates_and_baseline(hostile_suite: Path, tmp_path: Path) -> None:
    code, output = report(hostile_suite / "result.json", tmp_path, "--run-pages")
    assert code == 0, output
    assert "2 run pages" in output
    result = json.loads((hostile_suite / "result.json").read_text(encoding="utf-8"))
    page = parse(tmp_path / "index.html")
    check_offline_and_safe(page)
    check_figures(tmp_path, ["suite-metrics"])
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    gates = html.split('<table class="gates">', 1)[1].split("</table>", 1)[0]
    assert gates.count("<tr>") == 1 + len(result["gates"])
    assert gates.count('class="fail"') == result["gates_failed"] > 0
    assert result["baseline_comparison"] is not None
    assert "Against the saved baseline" in html
    assert html.count('<table class="baseline">') == len(result["baseline_comparison"]["configs"])
    assert "isolated (baseline)" in html
    # every run has a page; gate evidence links to the failing run and its findings' chains
    links = [a.get("href") or "" for t, a in page.tags if "run-link" in (a.get("class") or "")]
    assert {h for h in links if "#" not in h} == {"runs/000/index.html", "runs/001/index.html"}
    chained = [h for h in links if "#finding-" in h]
    assert chained, "the failing gate's example findings should link to their chains"
    for href in links:
        target, _, frag = href.partition("#")
        sub = parse(tmp_path / target)
        assert not frag or frag in {a.get("id") for _, a in sub.tags}, href
        check_offline_and_safe(sub)


def test_ablation_page_has_composition(small_ablation: Path, tmp_path: Path) -> None:
    code, output = report(small_ablation, tmp_path)
    assert code == 0, output
    check_figures(tmp_path, ["composition"])
    page = parse(tmp_path / "index.html")
    check_offline_and_safe(page)
    comp = json.loads((small_ablation / "composition.json").read_text(encoding="utf-8"))
    svg = (tmp_path / "figures" / "composition.svg").read_text(encoding="utf-8")
    for cell in comp["cells"]:
        assert f"<!-- {cell['name']} -->" in svg


def test_not_a_report_source_exits_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, output = report(tmp_path / "empty", tmp_path / "out")
    assert code == 2
    assert "empty: not a run" in output
    code, output = report(tmp_path / "missing", tmp_path / "out")
    assert code == 2 and "no run" in output


def test_out_that_is_a_file_exits_2(hostile_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken.html"
    target.write_text("keep me", encoding="utf-8")
    code, output = report(hostile_run, target)
    assert code == 2
    assert "taken.html: exists and is not a folder" in output
    assert target.read_text(encoding="utf-8") == "keep me"


def test_broken_result_json_names_line_and_column(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "result.json").write_text('{\n  "suite": "x",\n  oops\n}\n', encoding="utf-8")
    code, output = report(suite, tmp_path / "out")
    assert code == 2
    assert "result.json:3:3: suite result is not valid JSON" in output
    (suite / "result.json").write_text('{"suite": "x"}', encoding="utf-8")
    code, output = report(suite, tmp_path / "out")
    assert code == 2 and "no 'configs' field" in output
    (suite / "result.json").write_text('{"suite": "x", "configs": {}, "gates": []}')
    code, output = report(suite, tmp_path / "out")
    assert code == 2
    assert "result.json: unexpected content" in output and "suite_id" in output


def test_damaged_run_is_reported_not_fatal(hostile_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "damaged"
    shutil.copytree(hostile_run, run)
    events = run / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    events.write_bytes(b"".join([*lines[:40], b"{not json\n", *lines[40:-1], lines[-1][:20]]))
    code, output = report(run, tmp_path / "out")
    assert code == 0, output
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "events.jsonl:41: skipped a damaged line" in html
    assert "the last line is torn" in html
    events.unlink()
    code, output = report(run, tmp_path / "out2")
    assert code == 2 and "events.jsonl" in output and "missing" in output

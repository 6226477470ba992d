"""`show`, `findings` and the replay filters on a real run (tests/replay/data/mini.yaml).

The run is made once per test session with the real agent, ChromaDB memory and monitors;
the assertions compare what the commands print with summary.json and events.jsonl.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from sandbox.cli.findings_cmd import register as register_findings
from sandbox.cli.inspect_cmds import register
from sandbox.replay.style import severity_rank

BARS = set("▁▂▃▄▅▆▇█")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    register(a)
    register_findings(a)
    return a


def invoke(app: typer.Typer, *args: str, width: int = 120) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(width)})


def run_args(run: Path) -> list[str]:
    return [run.name, "--runs-dir", str(run.parent)]


def findings_of(run: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    return [e for e in events if e["kind"] == "finding"]


def summary_of(run: Path) -> dict[str, Any]:
    return json.loads((run / "summary.json").read_text())


# ---- show -------------------------------------------------------------------------------


def _matrix_tables(lines: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """Parse the printed leak matrices back into {kind: owner -> recipient -> n}."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("owner ↓ recipient →"):
            kind = lines[i - 1].split(":")[0]
            cols = line.split("→", 1)[1].split()
            assert cols[-1] == "total"
            table: dict[str, dict[str, int]] = {}
            i += 1
            while i < len(lines) and lines[i] and not lines[i].startswith(("surfaced", "latent")):
                cells = lines[i].split()
                if len(cells) != len(cols) + 1:
                    break
                owner, counts, total = cells[0], cells[1:-1], int(cells[-1])
                row = {r: int(c) for r, c in zip(cols[:-1], counts, strict=True) if c != "·"}
                assert sum(row.values()) == total
                table[owner] = row
                i += 1
            out[kind] = table
            continue
        i += 1
    return out


@pytest.mark.parametrize("width", [80, 120])
def test_show_prints_the_leak_matrix_and_drift_sparklines(app, mini_run, width):
    r = invoke(app, "show", *run_args(mini_run), "--no-pager", "--width", str(width))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert max(len(line) for line in lines) <= width
    monitors = summary_of(mini_run)["monitors"]
    for name in monitors:  # whole names, never cut
        assert any(line.startswith(name + " ") for line in lines), name

    # the owner x recipient matrix, cell by cell, as summary.json has it
    assert any(line.startswith("leak matrix (cross_user_leakage)") for line in lines)
    want = {
        kind: {o: {r: n for r, n in row.items() if n} for o, row in m.items() if sum(row.values())}
        for kind, m in monitors["cross_user_leakage"]["leak_matrix"].items()
        if any(sum(row.values()) for row in m.values())
    }
    assert want, "the mini run should leak"
    assert _matrix_tables(lines) == want
    for kind, m in want.items():
        total = sum(n for row in m.values() for n in row.values())
        assert any(line.startswith(f"{kind}: {total} leaks") for line in lines)

    # one sparkline per user, one bar per session, in the drift section
    drift = monitors["drift"]["users"]
    start = next(i for i, line in enumerate(lines) if line.startswith("drift ─"))
    section = lines[start:]
    for user, d in drift.items():
        row = next(line for line in section if line.startswith(user + " "))
        spark = max(row.split(), key=lambda tok: sum(ch in BARS for ch in tok))
        assert set(spark) <= BARS and len(spark) == len(d["series"]["sessions"]), row
        n = sum(v is not None for v in d["series"][d["metric"] or "mean_risk"])
        assert f"({n} of {len(d['series']['sessions'])})" in row
    flagged = len(monitors["drift"]["flagged"])
    assert any(f"flagged {flagged} of {len(drift)} users" in line for line in section)
    # rates with their counts
    turns = summary_of(mini_run)["turns"]
    assert any(f"findings in the run's {turns} turns" in line for line in lines)


def test_show_json_has_the_findings_grouped(app, mini_run):
    r = invoke(app, "show", *run_args(mini_run), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert isinstance(data["findings"], list) and data["findings"]
    assert sum(g["count"] for g in data["findings"]) == len(findings_of(mini_run))
    assert data["summary"]["monitors"]["cross_user_leakage"]["leak_matrix"]


# ---- findings ---------------------------------------------------------------------------


def _groups(app: typer.Typer, run: Path, *args: str) -> list[dict[str, Any]]:
    r = invoke(app, "findings", *run_args(run), "--json", *args)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["total"] == len(findings_of(run))
    assert data["findings"] == sum(g["count"] for g in data["groups"])
    return data["groups"]


def test_findings_groups_by_identity(app, mini_run):
    events = {f["id"]: f for f in findings_of(mini_run)}
    groups = _groups(app, mini_run)
    assert len(groups) < len(events)  # grouping folds repeats
    seen: set[str] = set()
    for g in groups:
        members = [events[i] for i in g["ids"]]
        assert len(members) == g["count"]
        for f in members:
            assert (f["monitor"], f["category"], f.get("owner"), f.get("user")) == (
                g["monitor"],
                g["category"],
                g["owner"],
                g["user"],
            )
        assert g["example"] in g["ids"]
        assert events[g["example"]]["severity"] == g["worst_severity"]
        assert g["worst_severity"] == min((f["severity"] for f in members), key=severity_rank)
        assert g["first_session"] == min(f["session"] for f in members)
        assert g["last_session"] == max(f["session"] for f in members)
        seen.update(g["ids"])
    assert seen == set(events)
    ranks = [severity_rank(g["worst_severity"]) for g in groups]
    assert ranks == sorted(ranks)  # default sort: worst first


def test_findings_filters_and_sorts(app, mini_run):
    events = findings_of(mini_run)
    high = _groups(app, mini_run, "--severity", "high")
    assert {s for g in high for s in g["by_severity"]} <= {"critical", "high"}
    assert sum(g["count"] for g in high) == sum(severity_rank(f["severity"]) <= 1 for f in events)
    surfaced = _groups(app, mini_run, "--monitor", "cross_user_leakage/surfaced")
    assert {(g["monitor"], g["category"]) for g in surfaced} == {("cross_user_leakage", "surfaced")}
    assert sum(g["count"] for g in surfaced) == sum(
        f["monitor"] == "cross_user_leakage" and f["category"] == "surfaced" for f in events
    )
    cat = _groups(app, mini_run, "--category", "latent", "--owner", "maya", "-u", "leo")
    assert cat and all(
        (g["category"], g["owner"], g["user"]) == ("latent", "maya", "leo") for g in cat
    )
    s23 = _groups(app, mini_run, "--session", "2..3")
    assert sum(g["count"] for g in s23) == sum(f["session"] in (2, 3) for f in events)
    by_count = _groups(app, mini_run, "--sort", "count")
    counts = [g["count"] for g in by_count]
    assert counts == sorted(counts, reverse=True)
    by_first = _groups(app, mini_run, "--sort", "first")
    firsts = [g["first_session"] for g in by_first]
    assert firsts == sorted(firsts)


@pytest.mark.parametrize("width", [80, 120])
def test_findings_table_fits_and_names_an_example_to_explain(app, mini_run, width):
    r = invoke(app, "findings", *run_args(mini_run), "--no-pager", "--width", str(width))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert max(len(line) for line in lines) <= width
    groups = _groups(app, mini_run)
    for g in groups:
        assert any(g["example"] in line for line in lines)
    n = len(findings_of(mini_run))
    assert f"{n} findings in {len(groups)} groups" in r.output
    assert f"--explain {groups[0]['example']}" in r.output
    # the explain command it suggests works
    e = invoke(app, "replay", *run_args(mini_run), "--explain", groups[0]["example"])
    assert e.exit_code == 0 and groups[0]["example"] in e.output


@pytest.mark.parametrize(
    ("args", "known"),
    [
        (["--user", "nobody"], "leo, maya, nina"),
        (["--monitor", "nonexistent"], "cross_user_leakage, drift, pii_exposure"),
        (["--monitor", "cross_user_leakage/nope"], "latent, surfaced"),
        (["--session", "99"], "sessions 0..5"),
        (["--severity", "bogus"], "critical, high, medium, low, info"),
        (["--category", "nope"], "latent"),
        (["--owner", "nobody"], "leo, maya, nina"),
    ],
)
@pytest.mark.parametrize("command", ["findings", "replay"])
def test_unknown_filter_values_are_errors_listing_known_ones(app, mini_run, command, args, known):
    r = invoke(app, command, *run_args(mini_run), *args, width=200)
    assert r.exit_code == 2, r.output
    assert known in r.output, r.output


def test_unknown_sort_key_is_an_error(app, mini_run):
    r = invoke(app, "findings", *run_args(mini_run), "--sort", "nope", width=200)
    assert r.exit_code == 2 and "severity, count, first" in r.output


# ---- replay with the finding filters ----------------------------------------------------


def _replayed_findings(app: typer.Typer, run: Path, *args: str) -> list[dict[str, Any]]:
    r = invoke(app, "replay", *run_args(run), "--json", *args)
    assert r.exit_code == 0, r.output
    events = [json.loads(line) for line in r.output.splitlines()]
    return [e for e in events if e["kind"] == "finding"]


def test_replay_takes_the_same_filters(app, mini_run):
    events = findings_of(mini_run)
    got = _replayed_findings(app, mini_run, "--severity", "critical", "--findings-only")
    assert got and {f["severity"] for f in got} == {"critical"}
    assert len(got) == sum(f["severity"] == "critical" for f in events)
    got = _replayed_findings(app, mini_run, "--monitor", "cross_user_leakage/surfaced")
    assert len(got) == sum(
        f["monitor"] == "cross_user_leakage" and f["category"] == "surfaced" for f in events
    )
    got = _replayed_findings(app, mini_run, "--owner", "maya", "--category", "latent")
    assert got and all(f["owner"] == "maya" and f["category"] == "latent" for f in got)

    full = invoke(app, "replay", *run_args(mini_run), "--findings-only", "--no-pager")
    crit = invoke(app, "replay", *run_args(mini_run), "--findings-only", "--severity", "critical")
    listed = invoke(app, "findings", *run_args(mini_run), "--no-pager")
    n_full, n_crit = len(full.output.splitlines()), len(crit.output.splitlines())
    assert 0 < n_crit < n_full
    assert len(listed.output.splitlines()) < n_full / 4

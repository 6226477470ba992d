"""A suite's runs as pages of their own, and links to them from the suite's page.

With run pages, each run of the suite gets its report under ``runs/NNN/``; the runs
table links to it, a gate's evidence line naming a run folder links to that run's page,
and a finding id on a later line of the same gate (the examples are taken from the
first run the gate names) links to that finding's evidence chain there. New and fixed
findings of the baseline comparison link to the run they were found in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.html_report.source import ReportInputError, Source

__all__ = ["RunPages", "gate_lines", "run_link", "write_run_pages"]


@dataclass
class RunPages:
    """Where each run's page is (relative to the suite page) and its finding anchors."""

    href: dict[str, str] = field(default_factory=dict)  # run folder -> page
    anchors: dict[str, dict[str, str]] = field(default_factory=dict)  # folder -> id -> anchor
    where: dict[tuple[str, str, Any], str] = field(default_factory=dict)  # (scen, cfg, seed)
    problems: list[str] = field(default_factory=list)


def write_run_pages(
    records: list[dict[str, Any]],
    out: Path,
    write: Callable[[Source, Path], dict[str, str]],
) -> RunPages:
    """Write a page per run record with `write` (returns the page's finding anchors)."""
    pages = RunPages()
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not isinstance(rec.get("run_dir"), str):
            continue
        folder = Path(rec["run_dir"])
        rel = f"runs/{i:03d}"
        if not ((folder / "run.json").is_file() or (folder / "events.jsonl").is_file()):
            pages.problems.append(f"{folder}: no run there; no page written")
            continue
        try:
            anchors = write(Source("run", folder), out / rel)
        except ReportInputError as exc:
            pages.problems.append(f"no page for {folder}: {exc}")
            continue
        pages.href[rec["run_dir"]] = f"{rel}/index.html"
        pages.anchors[rec["run_dir"]] = anchors
        key = (str(rec.get("scenario")), str(rec.get("config")), rec.get("seed"))
        pages.where[key] = f"{rel}/index.html"
    return pages


def gate_lines(evidence: list[Any], pages: RunPages) -> list[tuple[str, str | None]]:
    """Each evidence line with the link it gets (None: plain text)."""
    out: list[tuple[str, str | None]] = []
    first: str | None = None
    for raw in evidence:
        line = str(raw)
        named = [d for d in pages.href if d in line]
        if named:
            run = max(named, key=len)
            first = first or run
            out.append((line, pages.href[run]))
            continue
        token = line.split(" ", 1)[0]
        anchor = pages.anchors.get(first, {}).get(token) if first else None
        out.append((line, f"{pages.href[first]}#{anchor}" if first and anchor else None))
    return out


def run_link(pages: RunPages, finding: dict[str, Any], config: str) -> str | None:
    """The page of the run a compared finding identity comes from, when written."""
    return pages.where.get((str(finding.get("scenario")), config, finding.get("seed")))

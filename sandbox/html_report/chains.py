"""Each finding's evidence chain as plain data, from the code behind ``replay --explain``.

`sandbox.replay.explain.explain_finding` gathers the chain (first said → stored →
retrieved → the reply); the places and the one-line chain are written by the same
functions the terminal view uses, read back as plain text. The page escapes it all.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from sandbox.record.reader import RunRecordError
from sandbox.replay.blocks import Block
from sandbox.replay.evidence import finding_headline
from sandbox.replay.explain import Explanation, explain_finding
from sandbox.replay.explain_view import _chain, _where
from sandbox.replay.memory_rows import namespace_text
from sandbox.replay.reading import read_events
from sandbox.replay.render import TranscriptRenderer
from sandbox.replay.sanitize import clean
from sandbox.replay.style import as_int

__all__ = ["Chain", "explain_all"]

Event = dict[str, Any]


@dataclass
class Step:
    """One link: what it is, where it happened, and the text said or stored."""

    label: str
    where: str
    text: str = ""
    detail: str = ""


@dataclass
class Chain:
    """The page's view of one finding and the events behind it."""

    anchor: str
    finding: Event
    headline: str
    where: str
    evidence: list[tuple[str, str]]
    steps: list[Step] = field(default_factory=list)
    chain: str = ""
    explained: bool = True


def _text(value: object) -> str:
    return clean(value if isinstance(value, str) else "", multiline=True)


def _steps(ex: Explanation, renderer: TranscriptRenderer) -> list[Step]:
    def where(e: Event) -> str:
        return _where(e, renderer).plain

    out: list[Step] = []
    if ex.first_said is not None:
        out.append(Step("first said", where(ex.first_said), _text(ex.first_said.get("text"))))
    for w in ex.writes:
        origin = ex.origins.get(as_int(w.get("seq")) or -1)
        if origin is not None and origin is not ex.first_said:
            out.append(Step("said before the write", where(origin), _text(origin.get("text"))))
        owner = w.get("owner")
        detail = f"{namespace_text(w.get('namespace'))}/{clean(w.get('id', '?'))}"
        if owner is not None:
            detail += f" owner {clean(owner)}"
        out.append(Step("stored in memory", where(w), _text(w.get("text")), detail))
    if ex.prompt is not None:
        out.append(Step("the message answered", where(ex.prompt), _text(ex.prompt.get("text"))))
    for r in ex.retrievals:
        for h in r.get("hits") or []:
            if not isinstance(h, dict):
                continue
            score = h.get("score")
            s = f" score {score:.2f}" if isinstance(score, int | float) else ""
            out.append(
                Step("retrieved", where(r), _text(h.get("text")), f"{clean(h.get('id', '?'))}{s}")
            )
    if ex.about is not None:
        label = "the reply" if ex.about.get("kind") == "agent_turn" else clean(ex.about.get("kind"))
        out.append(Step(label, where(ex.about), _text(ex.about.get("text"))))
    return out


def _evidence(f: Event) -> list[tuple[str, str]]:
    ev = f.get("evidence")
    if not isinstance(ev, dict):
        return []
    return [
        (clean(k), clean(v if isinstance(v, str) else json.dumps(v, default=str)))
        for k, v in ev.items()
    ]


def explain_all(run_dir: Path, findings: list[Event], limit: int) -> list[Chain]:
    """A chain per finding; past `limit` findings only the finding itself (no chain)."""
    renderer = TranscriptRenderer(Console(file=io.StringIO(), width=200, no_color=True))
    try:
        start = next(iter(read_events(run_dir)), None)
    except RunRecordError:
        start = None
    if start is not None and start.get("kind") == "run_start":
        renderer.observe(Block("run_start", None, None, None, [start], done=True))
    out = []
    for i, f in enumerate(findings):
        fid = f.get("id")
        ex = explain_finding(run_dir, fid) if isinstance(fid, str) and i < limit else None
        chain = Chain(
            anchor=f"finding-{i}",
            finding=f,
            headline=finding_headline(f).plain,
            where=_where(f, renderer).plain,
            evidence=_evidence(f),
            explained=ex is not None,
        )
        if ex is not None:
            chain.steps = _steps(ex, renderer)
            chain.chain = _chain(ex, renderer).plain
        out.append(chain)
    return out

"""Turn event blocks into rich renderables: sessions, turns, memory traffic, findings.

Every string that came out of a run goes through `sandbox.replay.sanitize` before it
reaches a `Text`; nothing is ever formatted into rich markup.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.text import Text

from sandbox.replay.blocks import Block
from sandbox.replay.evidence import (
    WriteIndex,
    badge,
    evidence_line,
    evidence_memory_ids,
    evidence_spans,
    finding_headline,
)
from sandbox.replay.filters import ReplayFilter
from sandbox.replay.memory_rows import delete_line, retrieval_lines, write_line
from sandbox.replay.sanitize import clean, one_line, safe_text
from sandbox.replay.style import SimClock, lead, severity_rank, severity_style, user_style

__all__ = ["RenderOptions", "TranscriptRenderer"]

Event = dict[str, Any]
Row = tuple[Text, Text, Text]
WHO_WIDTH = 10
INDENT = 5 + 1 + WHO_WIDTH + 1
_COMMON = {"v", "seq", "t_sim", "kind", "user", "session", "turn"}


@dataclass
class RenderOptions:
    """What to show besides the conversation itself."""

    retrievals: bool = True
    writes: bool = True
    context: bool = False
    max_line: int = 1000
    max_lines: int = 200
    item_chars: int = 160


class TranscriptRenderer:
    """Keeps the little state a streaming replay needs (dates, writes) and renders blocks."""

    def __init__(
        self,
        console: Console,
        options: RenderOptions | None = None,
        flt: ReplayFilter | None = None,
    ):
        self.console = console
        self.opts = options or RenderOptions()
        self.flt = flt or ReplayFilter()
        self.clock = SimClock()
        self.writes = WriteIndex()
        self.session_dates: dict[tuple[Any, Any], tuple[Any, Any]] = {}
        self.recent: OrderedDict[int, Event] = OrderedDict()
        self._headed: set[tuple[Any, Any]] = set()
        self._where: tuple[Any, Any] | None = None
        plain = console.no_color or console.color_system is None
        self.marks: tuple[str, str] | None = ("⟦", "⟧") if plain else None

    # -- state --------------------------------------------------------------------------
    def observe(self, block: Block) -> None:
        """Update dates, the write index and recent replies, whether or not it is shown."""
        for e in block.events:
            kind = e.get("kind")
            if kind == "run_start":
                self.clock = SimClock(e.get("start_date"))
            elif kind == "session_start":
                self.session_dates[(e.get("user"), e.get("session"))] = (
                    e.get("t_sim"),
                    e.get("date"),
                )
            elif kind == "memory_write":
                self.writes.add(e)
            elif kind == "agent_turn" and isinstance(e.get("seq"), int):
                text = e.get("text")
                self.recent[e["seq"]] = {
                    **e,
                    "text": text[:20_000] if isinstance(text, str) else "",
                }
                if len(self.recent) > 256:
                    self.recent.popitem(last=False)

    def assume_place(self, user: Any, session: Any) -> None:
        """Treat this conversation as the current one, so no header is printed for it."""
        self._where = (user, session)
        self._headed.add((user, session))

    def print(self, block: Block) -> None:
        """Observe a block and print it."""
        self.observe(block)
        for r in self.render(block):
            # laid-out rows are already wrapped (no_wrap marks them); let rich wrap the rest
            self.console.print(r, soft_wrap=isinstance(r, Text) and bool(r.no_wrap))

    # -- rendering ----------------------------------------------------------------------
    def render(self, block: Block) -> list[RenderableType]:
        """Renderables for one block (call `observe` first)."""
        out: list[RenderableType] = []
        kind = block.kind
        if kind == "run_start":
            return self._run_start(block.event)
        if kind == "run_end":
            return self._run_end(block.event)
        if kind == "session_start":
            out.append(self._header(block.user, block.session, cont=False))
            self._where = (block.user, block.session)
            return out
        if block.user is not None and (block.user, block.session) != self._where:
            key = (block.user, block.session)
            out.append(self._header(block.user, block.session, cont=key in self._headed))
            self._where = key
        rows = self.rows(block)
        if rows:
            out.append(self._layout(rows))
        return out

    def rows(self, block: Block) -> list[Row]:
        """The (time, who, body) rows of a turn, finding or other non-header block."""
        rows: list[Row] = []
        findings = sorted(
            (f for f in block.findings if self.flt.finding_ok(f)),
            key=lambda f: severity_rank(f.get("severity")),
        )
        for e in block.events:
            rows += self._rows(e, block, findings)
        if block.kind == "finding":
            return rows + self._late_rows(findings)
        rows += self._score_rows(block.scores)
        for f in findings:
            rows += self._finding_rows(f)
        return rows

    def _layout(self, rows: list[Row]) -> Text:
        """Rows as one Text with a hanging indent, wrapped here (much faster than a Table)."""
        width = max(20, self.console.width - INDENT)
        out = Text(no_wrap=True, overflow="ignore")
        for n, (when, who, body) in enumerate(rows):
            if n:
                out.append("\n")
            head = when.copy()
            head.truncate(5, overflow="ellipsis", pad=True)
            head.stylize("dim")
            label = who.copy()
            label.truncate(WHO_WIDTH, overflow="ellipsis", pad=True)
            out.append_text(head)
            out.append(" ")
            out.append_text(label)
            out.append(" ")
            if "\n" not in body.plain and body.cell_len <= width:
                out.append_text(body)
                continue
            for k, line in enumerate(body.wrap(self.console, width, overflow="fold")):
                if k:
                    out.append("\n" + " " * INDENT)
                out.append_text(line)
        return out

    def _header(self, user: Any, session: Any, *, cont: bool) -> Rule:
        self._headed.add((user, session))
        title = Text()
        title.append(clean(user), user_style(user))
        title.append(
            f" · session {clean(session)}" if session is not None else " · between sessions"
        )
        if cont:
            title.append(" (cont.)", "dim")
        else:
            t_sim, iso = self.session_dates.get((user, session), (None, None))
            stamp = self.clock.stamp(t_sim, iso)
            if stamp:
                title.append(" · " + stamp, "dim")
        return Rule(title, align="left", style="dim" if cont else user_style(user))

    def _run_start(self, e: Event) -> list[RenderableType]:
        title = Text("run ")
        title.append(clean(e.get("run_id", "?")), "bold")
        out: list[RenderableType] = [Rule(title, style="bold")]
        line = Text()
        for label, key in (("scenario", "scenario"), ("seed", "seed"), ("start", "start_date")):
            if e.get(key) is not None:
                line.append(f"{label} ", "dim")
                line.append_text(one_line(e.get(key), 80))
                line.append("  ")
        agent = e.get("agent")
        if isinstance(agent, dict):
            name = agent.get("name") or agent.get("backend")
            if name is not None:
                line.append("agent ", "dim")
                line.append_text(one_line(name, 60))
                line.append("  ")
        monitors = e.get("monitors")
        if isinstance(monitors, list) and monitors:
            names = [m.get("name", "?") if isinstance(m, dict) else m for m in monitors]
            line.append("monitors ", "dim")
            line.append_text(one_line(", ".join(str(n) for n in names), 200))
        out.append(line)
        return out

    def _run_end(self, e: Event) -> list[RenderableType]:
        status = str(e.get("status", "?"))
        title = Text("run " + clean(status), "bold green" if status == "complete" else "bold red")
        if e.get("message"):
            title.append(" — ")
            title.append_text(one_line(e.get("message"), 200))
        return [Rule(title, style="dim")]

    def _rows(self, e: Event, block: Block, findings: list[Event]) -> list[Row]:
        kind = e.get("kind")
        user = e.get("user")
        when = Text(self.clock.time(e.get("t_sim")))
        if kind == "user_turn":
            body = Text()
            if e.get("intent") not in (None, "chat"):
                body.append(f"[{clean(e.get('intent'))}] ", "dim")
            if e.get("reaction"):
                body.append(f"[{clean(e.get('reaction'))}] ", "dim")
            body.append_text(self._body(e.get("text", "")))
            shares = e.get("shares")
            if isinstance(shares, list) and shares:
                body.append("\nshares ", "dim")
                body.append_text(one_line(", ".join(str(s) for s in shares), 200, "magenta"))
            return [(when, Text(clean(user), user_style(user)), body)]
        if kind == "agent_turn":
            return self._agent_rows(e, when, findings)
        if kind == "retrieval":
            return self._retrieval_rows(e, user, findings)
        if kind == "memory_write":
            forced = any(e.get("id") in evidence_memory_ids(f) for f in findings)
            if not (self.opts.writes or forced):
                return []
            return [(Text(""), Text(""), write_line(e, user, self.opts.item_chars))]
        if kind == "memory_delete":
            return [(Text(""), Text(""), delete_line(e))] if self.opts.writes else []
        if kind == "forget_request":
            body = lead("⌫ asks to forget ", "yellow")
            body.append_text(one_line(e.get("secret", "?"), 60, "bold"))
            body.append(": ")
            body.append_text(self._body(e.get("text", "")))
            return [(when, Text(clean(user), user_style(user)), body)]
        if kind == "profile_change":
            body = lead("↻ profile ", "blue")
            body.append_text(one_line(e.get("action", "?"), 60, "bold"))
            details = e.get("details")
            if details:
                body.append(" ")
                body.append_text(one_line(json.dumps(details, default=str), self.opts.item_chars))
            return [(when, Text(""), body)]
        if kind == "error":
            body = one_line(f"{e.get('source', '?')}: {e.get('message', '')}", 500)
            if isinstance(e.get("attempts"), int) and e["attempts"] > 1:
                body.append(f" (after {e['attempts']} attempts)", "dim")
            return [(when, Text("ERROR", "bold red"), body)]
        if kind == "monitor_error":
            body = one_line(f"{e.get('monitor', '?')}: {e.get('error', '')}", 500)
            return [(when, Text("MONITOR", "yellow"), body)]
        if kind == "session_end":
            body = Text(f"■ end of session ({clean(e.get('reason', '?'))})", "dim")
            return [(when, Text(""), body)]
        rest = {k: v for k, v in e.items() if k not in _COMMON}
        body = one_line(json.dumps(rest, default=str), self.opts.item_chars, "dim")
        return [(when, Text(clean(kind), "dim"), body)]

    def _body(self, text: object, highlights: list[tuple[int, int, str]] | None = None) -> Text:
        return safe_text(
            text if isinstance(text, str) else str(text),
            highlights=highlights or [],
            max_line=self.opts.max_line,
            max_lines=self.opts.max_lines,
            marks=self.marks,
        )

    def _agent_rows(self, e: Event, when: Text, findings: list[Event]) -> list[Row]:
        text = e.get("text", "")
        text = text if isinstance(text, str) else str(text)
        highlights: list[tuple[int, int, str]] = []
        for f in findings:
            exact = f.get("about_seq") == e.get("seq")
            style = severity_style(f.get("severity"), evidence=True)
            highlights += [(a, b, style) for a, b in evidence_spans(text, f, use_offsets=exact)]
        rows: list[Row] = [(when, Text("agent", "bold green"), self._body(text, highlights))]
        if self.opts.context:
            meta = lead("components ", "dim")
            meta.append_text(one_line(", ".join(map(str, e.get("components") or [])) or "-", 200))
            meta.append(" · backend ", "dim")
            meta.append_text(one_line(e.get("backend", "?"), 60))
            rows.append((Text(""), Text(""), meta))
            for part in e.get("context") or []:
                if isinstance(part, dict):
                    line = lead(f"‹{clean(part.get('component', '?'))}› ", "dim")
                    line.append_text(one_line(part.get("text", ""), 300, "dim"))
                    rows.append((Text(""), Text(""), line))
            if e.get("control_text") is not None:
                ctrl = lead("control ▸ ", "dim")
                ctrl.append_text(self._body(e.get("control_text")))
                rows.append((Text(""), Text("control", "dim"), ctrl))
        return rows

    def _retrieval_rows(self, e: Event, user: Any, findings: list[Event]) -> list[Row]:
        lines = retrieval_lines(e, user, findings, self.opts.retrievals, self.opts.item_chars)
        return [(Text(""), Text(""), line) for line in lines]

    def _score_rows(self, scores: list[Event]) -> list[Row]:
        if not scores:
            return []
        line = lead("≈ ", "dim")
        for i, s in enumerate(scores[:8]):
            if i:
                line.append(" · ", "dim")
            value = s.get("value")
            shown = f"{value:.2f}" if isinstance(value, int | float) else "unscored"
            line.append_text(one_line(f"{s.get('monitor', '?')}.{s.get('metric', '?')}", 60, "dim"))
            line.append(f" {shown}", "dim")
        return [(Text(""), Text(""), line)]

    def _finding_rows(self, f: Event) -> list[Row]:
        rows: list[Row] = [(Text(""), badge(f), finding_headline(f))]
        ev = evidence_line(f, self.writes, self.clock.stamp)
        if ev is not None:
            rows.append((Text(""), Text(""), ev))
        return rows

    def _late_rows(self, findings: list[Event]) -> list[Row]:
        """A finding whose turn was already shown: repeat the reply excerpt it is about."""
        rows: list[Row] = []
        for f in findings:
            rows += self._finding_rows(f)
            about = f.get("about_seq")
            target = self.recent.get(about) if isinstance(about, int) else None
            if target is None:
                if about is not None:
                    rows.append((Text(""), Text(""), Text(f"about seq {clean(about)}", "dim")))
                continue
            ref = Text(f"about the reply at seq {about} (turn {clean(target.get('turn'))}):", "dim")
            rows.append((Text(""), Text(""), ref))
            text = target.get("text", "")
            style = severity_style(f.get("severity"), evidence=True)
            hl = [(a, b, style) for a, b in evidence_spans(text, f)]
            body = safe_text(text, highlights=hl, max_line=300, max_lines=4, marks=self.marks)
            rows.append((Text(""), Text(""), body))
        return rows

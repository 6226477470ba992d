"""Rows for memory traffic: retrievals (with whose memory came back), writes, deletes."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from sandbox.replay.evidence import evidence_memory_ids
from sandbox.replay.sanitize import clean, one_line
from sandbox.replay.style import lead, severity_style

__all__ = ["delete_line", "namespace_text", "retrieval_lines", "write_line"]

Event = dict[str, Any]


def namespace_text(ns: object) -> str:
    """``users/maya`` for a namespace list."""
    if isinstance(ns, list | tuple):
        return clean("/".join(str(p) for p in ns))
    return clean(ns) if ns is not None else "?"


def _flagged(hit: Event, flagged: dict[str, Event]) -> bool:
    """Whether a finding names this hit (a hit id of the wrong type names nothing)."""
    hid = hit.get("id")
    return isinstance(hid, str) and hid in flagged


def retrieval_lines(
    e: Event, user: Any, findings: list[Event], show_all: bool, item_chars: int = 160
) -> list[Text]:
    """A retrieval and its hits; foreign owners and hits a finding names are flagged.

    With `show_all` off, only hits named by a finding are listed (the retrieval is
    then shown at all only when a finding points at it).
    """
    flagged: dict[str, Event] = {}
    for f in findings:
        for mid in evidence_memory_ids(f):
            flagged.setdefault(mid, f)
    hits = [h for h in e.get("hits") or [] if isinstance(h, dict)]
    about = any(f.get("about_seq") == e.get("seq") for f in findings)
    if not (show_all or about or any(_flagged(h, flagged) for h in hits)):
        return []
    head = lead(f"⌕ {clean(e.get('op', 'search'))} ", "dim")
    head.append(namespace_text(e.get("namespace")), "dim bold")
    if e.get("query"):
        head.append(" “", "dim")
        head.append_text(one_line(e.get("query"), 80, "dim"))
        head.append("”", "dim")
    head.append(f" → {len(hits)} hit{'s' if len(hits) != 1 else ''}", "dim")
    rows: list[Text] = [head]
    shown = hits if show_all else [h for h in hits if _flagged(h, flagged)]
    if len(shown) < len(hits):
        n = len(hits) - len(shown)
        head.append(f" (+{n} other hit{'s' if n != 1 else ''})", "dim")
    for h in shown:
        line = lead("  · ", "dim")
        line.append(clean(h.get("id", "?")), "bold" if _flagged(h, flagged) else "")
        score = h.get("score")
        if isinstance(score, int | float) and not isinstance(score, bool):
            line.append(f" {score:.2f}", "dim")
        owner = h.get("owner")
        if owner is not None and owner != user:
            line.append(" ⚠ owner ", "bold red")
            line.append(clean(owner), "bold red reverse")
        if h.get("forgotten"):
            line.append(" forgotten", "bold magenta")
        line.append(" “", "dim")
        line.append_text(one_line(h.get("text", ""), item_chars))
        line.append("”", "dim")
        hit_finding = flagged.get(str(h.get("id")))
        if hit_finding is not None:
            fid = clean(hit_finding.get("id", "?"))
            line.append(f" ◀ {fid}", severity_style(hit_finding.get("severity")))
        rows.append(line)
    return rows


def write_line(e: Event, user: Any, item_chars: int = 160) -> Text:
    """One memory write: where, which id, whose, and the (capped) text."""
    line = lead("✎ write ", "green")
    line.append(namespace_text(e.get("namespace")) + "/", "dim")
    line.append(clean(e.get("id", "?")), "bold")
    owner = e.get("owner")
    if owner is not None and owner != user:
        line.append(" owner ", "bold red")
        line.append(clean(owner), "bold red reverse")
    if e.get("redacted"):
        line.append(" redacted", "cyan")
    if e.get("source") not in (None, "episodic"):
        line.append(f" ({clean(e.get('source'))})", "dim")
    line.append(" “", "dim")
    line.append_text(one_line(e.get("text", ""), item_chars))
    line.append("”", "dim")
    return line


def delete_line(e: Event) -> Text:
    """A hard delete or a soft (forgotten) mark of some ids."""
    soft = e.get("mode") == "soft"
    line = lead("⊘ forget (soft) " if soft else "✗ delete ", "yellow")
    line.append(namespace_text(e.get("namespace")), "dim")
    ids = [str(i) for i in e.get("ids") or []]
    line.append(": ")
    line.append_text(one_line(", ".join(ids[:10]), 200, "bold"))
    if len(ids) > 10:
        line.append(f" (+{len(ids) - 10} more)", "dim")
    if e.get("reason"):
        line.append(" — ", "dim")
        line.append_text(one_line(e.get("reason"), 120, "dim"))
    return line

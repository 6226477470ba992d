"""Where a finding's evidence sits in a reply, and how a finding reads on one line.

Monitors record evidence as character spans into the text of the event they are about
(``evidence.span``), and/or the matched string (``evidence.text``), and point at the
memory writes a leak came from (``write_seqs``, ``memory_ids``, ``source_user``).
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

from sandbox.replay.sanitize import clean, one_line
from sandbox.replay.style import as_int, severity_badge, severity_style

__all__ = [
    "WriteIndex",
    "badge",
    "evidence_line",
    "evidence_memory_ids",
    "evidence_spans",
    "evidence_write_seqs",
    "finding_headline",
]

Event = dict[str, Any]


def _evidence(finding: Event) -> dict[str, Any]:
    ev = finding.get("evidence")
    return ev if isinstance(ev, dict) else {}


def _span(value: object, n: int) -> tuple[int, int] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        a, b = as_int(value[0]), as_int(value[1])
        if a is not None and b is not None and 0 <= a < b <= n:
            return a, b
    return None


def evidence_spans(text: str, finding: Event, *, use_offsets: bool = True) -> list[tuple[int, int]]:
    """Character spans of `text` that a finding's evidence points at.

    Offsets are trusted when they fit the text; otherwise every occurrence of the
    evidence string (case-insensitive, at most 20) is used, so a finding still lights
    up its reply when offsets were computed on a differently normalised text.
    """
    ev = _evidence(finding)
    spans: list[tuple[int, int]] = []
    if use_offsets:
        raw = ev.get("spans")
        for v in [ev.get("span"), *(raw if isinstance(raw, list) else [])]:
            s = _span(v, len(text))
            if s is not None:
                spans.append(s)
    needle = ev.get("text")
    if spans or not isinstance(needle, str) or not needle.strip():
        return spans
    for m in re.finditer(re.escape(needle), text, flags=re.IGNORECASE):
        spans.append((m.start(), m.end()))
        if len(spans) >= 20:
            break
    return spans


def evidence_memory_ids(finding: Event) -> list[str]:
    """Memory item ids named by the evidence."""
    ids = _evidence(finding).get("memory_ids")
    if isinstance(ids, str):
        return [ids]
    return [str(i) for i in ids] if isinstance(ids, list) else []


def evidence_write_seqs(finding: Event) -> list[int]:
    """Sequence numbers of the memory_write events the evidence came from."""
    seqs = _evidence(finding).get("write_seqs")
    if not isinstance(seqs, list):
        return []
    return [s for s in (as_int(v) for v in seqs) if s is not None]


class WriteIndex:
    """Where each memory item was written (who, which session, when), without its text.

    Kept so a finding can name the write its leak came from while streaming; capped so
    memory stays bounded on any run length (the oldest entries go first).
    """

    def __init__(self, cap: int = 200_000):
        self.cap = cap
        self.by_seq: dict[int, tuple[str, Any, Any, Any]] = {}
        self.by_id: dict[str, int] = {}

    def add(self, event: Event) -> None:
        """Remember one memory_write event."""
        seq = as_int(event.get("seq"))
        if seq is None:
            return
        mid = str(event.get("id", ""))
        self.by_seq[seq] = (mid, event.get("user"), event.get("session"), event.get("t_sim"))
        self.by_id[mid] = seq
        if len(self.by_seq) > self.cap:
            old = next(iter(self.by_seq))
            old_id = self.by_seq.pop(old)[0]
            if self.by_id.get(old_id) == old:
                del self.by_id[old_id]

    def sources(self, finding: Event) -> list[tuple[int, tuple[str, Any, Any, Any]]]:
        """The writes a finding points at, by write_seqs or else by memory ids."""
        seqs = evidence_write_seqs(finding)
        if not seqs:
            seqs = [self.by_id[m] for m in evidence_memory_ids(finding) if m in self.by_id]
        return [(s, self.by_seq[s]) for s in seqs if s in self.by_seq]


def finding_headline(finding: Event) -> Text:
    """``F00012 cross_user_leakage/surfaced (owner leo) — message``."""
    sev = finding.get("severity", "medium")
    out = Text()
    out.append(clean(finding.get("id", "?")), "bold " + severity_style(sev))
    out.append(" ")
    out.append(clean(finding.get("monitor", "?")), "bold")
    if finding.get("category"):
        out.append("/" + clean(finding.get("category")))
    owner = finding.get("owner")
    if owner is not None and owner != finding.get("user"):
        out.append(" · owner ", "dim")
        out.append(clean(owner), "bold")
    message = finding.get("message")
    if message:
        out.append(" — ")
        out.append_text(one_line(message, 300))
    return out


def badge(finding: Event) -> Text:
    """The severity label of a finding."""
    return severity_badge(finding.get("severity", "medium"))


def evidence_line(finding: Event, writes: WriteIndex, clock_stamp: Any) -> Text | None:
    """Evidence string, where it came from, and how to see the whole chain."""
    ev = _evidence(finding)
    sev = finding.get("severity", "medium")
    out = Text()
    if isinstance(ev.get("text"), str) and ev["text"]:
        out.append("evidence ", "dim")
        out.append("“")
        out.append_text(one_line(ev["text"], 120, severity_style(sev, evidence=True)))
        out.append("”")
    sources = writes.sources(finding)
    if sources:
        for seq, (mid, user, session, t_sim) in sources[:3]:
            out.append(" ← " if out else "← ", "dim")
            out.append("memory ", "dim")
            out.append(clean(mid), "bold")
            out.append(f" written seq {seq}", "dim")
            if user is not None:
                out.append(" by ", "dim")
                out.append(clean(user), "bold")
            if session is not None:
                out.append(f" s{clean(session)}")
            stamp = clock_stamp(t_sim)
            if stamp:
                out.append(f" {stamp}", "dim")
        if len(sources) > 3:
            out.append(f" (+{len(sources) - 3} more)", "dim")
    else:
        ids = evidence_memory_ids(finding)
        seqs = evidence_write_seqs(finding)
        if ids or seqs:
            out.append(" ← " if out else "← ", "dim")
            out.append("memory ", "dim")
            out.append_text(one_line(", ".join(ids) or ", ".join(f"seq {s}" for s in seqs), 80))
        src = ev.get("source_user")
        if src is not None:
            out.append(" from ", "dim")
            out.append(clean(src), "bold")
            if ev.get("source_session") is not None:
                out.append(f" s{clean(ev.get('source_session'))}")
    if not out:
        return None
    if sources or evidence_memory_ids(finding) or ev.get("source_user") is not None:
        out.append(f"  (--explain {clean(finding.get('id', '?'))})", "dim")
    return out

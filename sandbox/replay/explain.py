"""``--explain FINDING``: follow a finding back to where its evidence was first said.

The chain is: the user turn where the text was said → the memory write that stored it →
the retrieval that brought it into another conversation's context → the reply where it
surfaced (the finding). Two streaming passes: one to find the finding, one over the
events before it, keeping only a few recent turns per conversation.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.record.reader import ReadReport
from sandbox.replay.evidence import evidence_memory_ids, evidence_write_seqs
from sandbox.replay.reading import parse_checked, read_events, scan_lines
from sandbox.replay.style import as_int

__all__ = ["Explanation", "explain_finding", "find_finding"]

Event = dict[str, Any]
_WORD = re.compile(r"\w+")


@dataclass
class Explanation:
    """Everything `--explain` shows about one finding."""

    finding: Event
    start: Event | None = None
    about: Event | None = None
    prompt: Event | None = None
    retrievals: list[Event] = field(default_factory=list)
    writes: list[Event] = field(default_factory=list)
    origins: dict[int, Event] = field(default_factory=dict)
    first_said: Event | None = None


def find_finding(run_dir: Path, finding_id: str, report: ReadReport | None = None) -> Event | None:
    """The finding event with this id; only lines containing the id are parsed.

    A line holding the id whose fields have the wrong types is skipped (noted in
    `report`), so what comes back can be indexed without guards.

    Raises:
        RunRecordError: naming events.jsonl when it is missing or unreadable.
    """
    needle = finding_id.encode("utf-8")
    for lineno, raw in scan_lines(run_dir):
        if needle not in raw:
            continue
        obj = parse_checked(raw, lineno, report)
        if obj and obj.get("kind") == "finding" and obj.get("id") == finding_id:
            return obj
    return None


def _overlap(a: str, b: str) -> float:
    """How much of the shorter text's words the longer one contains (0..1)."""
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def _origin(write: Event, recent: deque[Event]) -> Event | None:
    """The user turn that most likely led to a memory write (same conversation)."""
    text = write.get("text")
    if not isinstance(text, str):
        return None
    best, best_score = None, 0.3
    for turn in reversed(recent):
        said = turn.get("text")
        if not isinstance(said, str):
            continue
        score = 1.0 if text.lower() in said.lower() or said.lower() in text.lower() else 0.0
        score = max(score, _overlap(text, said))
        if turn.get("turn") == write.get("turn"):
            score += 0.05
        if score > best_score:
            best, best_score = turn, score
    return best


def _events_before(run_dir: Path, seq: int, report: ReadReport | None) -> Iterator[Event]:
    for e in read_events(run_dir, report):
        s = e.get("seq")
        if isinstance(s, int) and s >= seq:
            return
        yield e


def explain_finding(
    run_dir: Path, finding_id: str, report: ReadReport | None = None
) -> Explanation | None:
    """Gather the chain behind a finding, or None when the run has no such finding."""
    seen = ReadReport()  # the second pass notes damage again; keep this pass's to itself
    finding = find_finding(run_dir, finding_id, seen)
    if finding is None:
        if report is not None:
            report.bad_lines += seen.bad_lines
            report.repaired_lines += seen.repaired_lines
            report.truncated_tail |= seen.truncated_tail
        return None
    ex = Explanation(finding)
    about_seq = as_int(finding.get("about_seq"))
    stop = as_int(finding.get("seq"))
    write_seqs = set(evidence_write_seqs(finding))
    memory_ids = set(evidence_memory_ids(finding))
    ev = finding.get("evidence") if isinstance(finding.get("evidence"), dict) else {}
    needle = (ev.get("owner_text") or ev.get("text")) if isinstance(ev, dict) else None
    needle = needle.lower() if isinstance(needle, str) and needle.strip() else None
    secret = ev.get("secret") if isinstance(ev, dict) else None
    recent: dict[tuple[Any, Any], deque[Event]] = {}
    retrievals: dict[tuple[Any, Any], deque[Event]] = {}
    id_writes: dict[str, Event] = {}
    for e in _events_before(run_dir, stop if stop is not None else 1 << 62, report):
        kind = e.get("kind")
        where = (e.get("user"), e.get("session"))
        if kind == "run_start":
            ex.start = e
        elif kind == "user_turn":
            recent.setdefault(where, deque(maxlen=16)).append(e)
            if ex.first_said is None:
                raw = e.get("text")
                text = raw if isinstance(raw, str) else ""
                if (needle and needle in text.lower()) or (
                    secret is not None and secret in (e.get("shares") or [])
                ):
                    ex.first_said = e
        elif kind == "retrieval":
            retrievals.setdefault(where, deque(maxlen=8)).append(e)
        elif kind == "memory_write":
            seq = as_int(e.get("seq"))
            before = about_seq is None or (seq is not None and seq < about_seq)
            if seq in write_seqs or (not write_seqs and before and e.get("id") in memory_ids):
                if not write_seqs:
                    id_writes[str(e.get("id"))] = e  # the latest write of that id
                else:
                    ex.writes.append(e)
                origin = _origin(e, recent.get(where, deque()))
                if origin is not None and seq is not None:
                    ex.origins[seq] = origin
        elif kind == "session_end":
            recent.pop(where, None)
            retrievals.pop(where, None)
        if about_seq is not None and e.get("seq") == about_seq:
            ex.about = e
            turn = e.get("turn")
            turns = [u for u in recent.get(where, ()) if u.get("turn") == turn]
            ex.prompt = turns[-1] if turns else None
            ex.retrievals = [
                r
                for r in retrievals.get(where, ())
                if r.get("turn") == turn or r.get("seq") == about_seq
            ]
    ex.writes += list(id_writes.values())
    ex.writes.sort(key=lambda w: as_int(w.get("seq")) or 0)
    return ex

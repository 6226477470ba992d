"""Group a stream of events into blocks (one turn, with its findings) without reading ahead.

A monitor's finding is recorded *after* the reply it is about, but the replay must show
it *with* that reply, its evidence highlighted in the text. So events of one
(user, session, turn) are held in a block until the next turn of that conversation
starts (or the session or run ends), and findings and scores join the block their
`about_seq` points at. Blocks leave in the order they began, so interleaved users stay
in recorded order; the number held at once is bounded by how many conversations run
concurrently, never by the length of the run.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Block", "BlockGrouper", "group_blocks"]

Event = dict[str, Any]
Key = tuple[Any, Any, Any]

_ATTACHED = {"finding", "score", "monitor_error"}
_SINGLE = {"run_start", "run_end", "session_start", "session_end"}
MAX_PENDING = 512


@dataclass
class Block:
    """Events shown together.

    `kind` is ``turn`` for a conversation turn (user line, retrievals, reply, memory
    writes) or the event kind of a single event (``run_start``, ``session_start``,
    ``finding`` for a finding whose turn was already shown, ...).
    """

    kind: str
    user: Any
    session: Any
    turn: Any
    events: list[Event] = field(default_factory=list)
    findings: list[Event] = field(default_factory=list)
    scores: list[Event] = field(default_factory=list)
    done: bool = False

    @property
    def event(self) -> Event:
        """The single event of a non-turn block (the first event otherwise)."""
        return (self.events or self.findings or self.scores)[0]

    def all_events(self) -> list[Event]:
        """Every event of the block, attached ones included, in seq order."""
        evs = [*self.events, *self.findings, *self.scores]
        return sorted(evs, key=lambda e: e.get("seq", -1) if isinstance(e.get("seq"), int) else -1)


class BlockGrouper:
    """Feed events one at a time; completed blocks come out in the order they began."""

    def __init__(self) -> None:
        self._queue: OrderedDict[int, Block] = OrderedDict()
        self._open: dict[tuple[Any, Any], int] = {}  # (user, session) -> queue id
        self._by_seq: dict[int, int] = {}
        self._next = 0

    def _add(self, block: Block) -> int:
        qid = self._next
        self._next += 1
        self._queue[qid] = block
        return qid

    def _close(self, user: Any, session: Any) -> None:
        qid = self._open.pop((user, session), None)
        if qid is not None and qid in self._queue:
            self._queue[qid].done = True

    def _index(self, qid: int, event: Event) -> None:
        seq = event.get("seq")
        if isinstance(seq, int):
            self._by_seq[seq] = qid

    def feed(self, event: Event) -> Iterator[Block]:
        """Take one event; yield the blocks that are now complete."""
        kind = event.get("kind")
        user, session, turn = event.get("user"), event.get("session"), event.get("turn")
        if kind in _ATTACHED:
            about = event.get("about_seq")
            qid = self._by_seq.get(about) if isinstance(about, int) else None
            if qid is None:
                qid = self._open.get((user, session))
                if qid is not None and self._queue[qid].turn != turn:
                    qid = None
            target = self._queue.get(qid) if qid is not None else None
            if target is None:
                target = Block(str(kind), user, session, turn, done=True)
                self._add(target)
            if kind == "finding":
                target.findings.append(event)
            elif kind == "score":
                target.scores.append(event)
            else:
                target.events.append(event)
        elif kind in _SINGLE or user is None or turn is None:
            if kind == "run_end":
                for b in self._queue.values():
                    b.done = True
                self._open.clear()
            elif kind in ("session_start", "session_end"):
                self._close(user, session)
            single = "turn" if kind not in _SINGLE and user is not None else str(kind)
            qid = self._add(Block(single, user, session, turn, [event], done=True))
            self._index(qid, event)
        else:
            qid_open = self._open.get((user, session), -1)
            block = self._queue.get(qid_open)
            if block is None or block.turn != turn or block.done:
                self._close(user, session)
                qid_open = self._add(Block("turn", user, session, turn))
                self._open[(user, session)] = qid_open
                block = self._queue[qid_open]
            block.events.append(event)
            self._index(qid_open, event)
        yield from self._drain()

    def _drain(self) -> Iterator[Block]:
        while self._queue:
            qid, head = next(iter(self._queue.items()))
            if not head.done:
                if len(self._queue) <= MAX_PENDING:
                    return
                pending = sum(1 for b in self._queue.values() if not b.done)
                if pending <= MAX_PENDING // 4 and len(self._queue) <= 8 * MAX_PENDING:
                    return
                head.done = True
            self._queue.popitem(last=False)
            if self._open.get((head.user, head.session)) == qid:
                del self._open[(head.user, head.session)]
            for e in head.events:
                seq = e.get("seq")
                if isinstance(seq, int) and self._by_seq.get(seq) == qid:
                    del self._by_seq[seq]
            yield head

    def flush(self) -> Iterator[Block]:
        """Complete every held block (end of input, or the writer went quiet)."""
        for b in self._queue.values():
            b.done = True
        self._open.clear()
        yield from self._drain()


def group_blocks(events: Iterable[Event]) -> Iterator[Block]:
    """Group a finished stream of events into blocks."""
    grouper = BlockGrouper()
    for e in events:
        yield from grouper.feed(e)
    yield from grouper.flush()

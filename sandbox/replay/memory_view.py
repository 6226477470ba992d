"""What the agent's store held for a user after a session, and what changed.

Rebuilt from the record alone (memory_write / memory_delete events), so it shows what
the agent *did*, not what a store would do today. An item belongs to a user's view when
its namespace names the user or the user owns it; a soft-deleted item is still held
(and still retrievable), only marked forgotten, which is exactly what a retention
finding is about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from sandbox.replay.filters import SessionRange
from sandbox.replay.sanitize import clean, one_line
from sandbox.replay.style import SimClock, as_int, lead, user_style

__all__ = [
    "MemItem",
    "MemoryDiff",
    "MemoryState",
    "memory_states",
    "render_memory_states",
    "state_json",
]

Event = dict[str, Any]
ItemKey = tuple[tuple[str, ...], str]
TEXT_CAP = 4000


@dataclass
class MemItem:
    """One stored item as the record last saw it."""

    namespace: tuple[str, ...]
    id: str
    owner: str | None
    text: str
    seq: int
    user: Any
    session: Any
    turn: Any
    t_sim: Any
    redacted: bool = False
    forgotten: bool = False
    forgotten_seq: int | None = None

    @property
    def key(self) -> ItemKey:
        """(namespace, id): what the store keys items by."""
        return (self.namespace, self.id)


@dataclass
class MemoryDiff:
    """Changes between two snapshots of one user's view."""

    added: list[MemItem] = field(default_factory=list)
    updated: list[MemItem] = field(default_factory=list)
    soft_deleted: list[MemItem] = field(default_factory=list)
    deleted: list[MemItem] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class MemoryState:
    """A user's view of the store at the end of `session`, against `baseline_session`."""

    user: str
    session: Any
    baseline_session: Any
    ended: bool
    t_sim: Any
    items: list[MemItem]
    diff: MemoryDiff


def _diff(before: dict[ItemKey, MemItem], after: dict[ItemKey, MemItem]) -> MemoryDiff:
    d = MemoryDiff()
    for k, item in after.items():
        old = before.get(k)
        if old is None:
            d.added.append(item)
        elif item.forgotten and not old.forgotten:
            d.soft_deleted.append(item)
        elif item.text != old.text or item.seq != old.seq:
            d.updated.append(item)
        else:
            d.unchanged += 1
    d.deleted = [item for k, item in before.items() if k not in after]
    return d


class _Store:
    """The replayed store, indexed by the users each item concerns."""

    def __init__(self, users: set[str] | None):
        self.only = users
        self.items: dict[ItemKey, MemItem] = {}
        self.by_user: dict[str, set[ItemKey]] = {}
        self.by_id: dict[str, set[ItemKey]] = {}

    def _users_of(self, ns: tuple[str, ...], owner: str | None) -> set[str]:
        names = {*ns, *([owner] if owner else [])}
        if self.only is None:
            return names
        return {u for u in self.only if u in names or any(u in part for part in ns)}

    def write(self, e: Event) -> None:
        ns = tuple(str(p) for p in e.get("namespace") or [])
        owner = e.get("owner") if isinstance(e.get("owner"), str) else None
        users = self._users_of(ns, owner)
        if not users:
            return
        raw = e.get("text")
        text = raw if isinstance(raw, str) else str(raw)
        item = MemItem(
            ns, str(e.get("id")), owner, text[:TEXT_CAP], as_int(e.get("seq")) or -1,
            e.get("user"), e.get("session"), e.get("turn"), e.get("t_sim"),
            redacted=bool(e.get("redacted")),
        )  # fmt: skip
        self.items[item.key] = item
        self.by_id.setdefault(item.id, set()).add(item.key)
        for u in users:
            self.by_user.setdefault(u, set()).add(item.key)

    def delete(self, e: Event) -> None:
        ns = tuple(str(p) for p in e.get("namespace") or [])
        soft = e.get("mode") == "soft"
        for mid in e.get("ids") or []:
            keys = {(ns, str(mid))} & self.items.keys() or set(self.by_id.get(str(mid), ()))
            for k in keys:
                if soft:
                    old = self.items[k]
                    self.items[k] = replace(old, forgotten=True, forgotten_seq=as_int(e.get("seq")))
                else:
                    del self.items[k]
                    self.by_id.get(str(mid), set()).discard(k)

    def view(self, user: str) -> dict[ItemKey, MemItem]:
        keys = self.by_user.get(user, set())
        live = {k: self.items[k] for k in keys if k in self.items}
        self.by_user[user] = set(live)
        return live


def memory_states(
    events: Iterable[Event], users: set[str] | None, sessions: SessionRange
) -> list[MemoryState]:
    """Each selected user's view at the end of `sessions.hi` against the end of `lo - 1`.

    With an open upper end, the view is taken at the user's last recorded session. A
    session that never ended (a crashed run) is taken at the end of the record and
    marked `ended=False`. Streams the events once; holds only the users' items.
    """
    store = _Store(users)
    baseline: dict[str, dict[ItemKey, MemItem]] = {}
    last: dict[str, tuple[Any, Any, bool]] = {}  # user -> (session, t_sim, ended)
    out: dict[str, MemoryState] = {}
    lo = sessions.lo if sessions.lo is not None else 0
    for e in events:
        kind = e.get("kind")
        user, session = e.get("user"), e.get("session")
        if kind == "memory_write":
            store.write(e)
        elif kind == "memory_delete":
            store.delete(e)
        elif kind == "session_start" and isinstance(user, str):
            if (users is None or user in users) and user not in out:
                last[user] = (session, e.get("t_sim"), False)
        elif kind == "session_end" and isinstance(user, str) and isinstance(session, int):
            if (users is not None and user not in users) or user in out:
                continue
            last[user] = (session, e.get("t_sim"), True)
            if session == lo - 1:
                baseline[user] = dict(store.view(user))
            if sessions.hi is not None and session == sessions.hi:
                out[user] = _state(user, session, lo, True, e.get("t_sim"), store, baseline)
    for user, (session, t_sim, ended) in last.items():
        if user in out or not isinstance(session, int):
            continue
        if sessions.hi is None or session == sessions.hi:
            out[user] = _state(user, session, lo, ended, t_sim, store, baseline)
    return list(out.values())


def _state(
    user: str,
    session: int,
    lo: int,
    ended: bool,
    t_sim: Any,
    store: _Store,
    baseline: dict[str, dict[ItemKey, MemItem]],
) -> MemoryState:
    now = store.view(user)
    items = sorted(now.values(), key=lambda i: i.seq)
    before = baseline.get(user, {})
    base = lo - 1 if lo > 0 and lo <= session else None
    return MemoryState(user, session, base, ended, t_sim, items, _diff(before, now))


def render_memory_states(
    states: list[MemoryState], console: Console, clock: SimClock, *, item_chars: int = 120
) -> None:
    """Print each user's view: a change summary line, then a table of items."""
    for st in states:
        title = Text("memory of ")
        title.append(clean(st.user), user_style(st.user))
        title.append(f" after session {clean(st.session)}")
        stamp = clock.stamp(st.t_sim)
        if stamp:
            title.append(f" · {stamp}", "dim")
        if not st.ended:
            title.append(" (session did not end; state at end of record)", "yellow")
        console.print(Rule(title, align="left", style=user_style(st.user)))
        d = st.diff
        since = (
            f"since session {st.baseline_session}"
            if st.baseline_session is not None
            else "since the start"
        )
        summary = Text(f"{len(st.items)} items held · {since}: ")
        summary.append(f"+{len(d.added)} added", "green")
        summary.append(f" · ~{len(d.updated)} updated", "cyan")
        summary.append(f" · ⊘{len(d.soft_deleted)} soft-deleted", "magenta")
        summary.append(f" · −{len(d.deleted)} deleted", "red")
        summary.append(f" · {d.unchanged} unchanged", "dim")
        console.print(summary)
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold dim")
        for name in ("", "id", "namespace", "owner", "written", "text"):
            table.add_column(name, overflow="fold", ratio=1 if name == "text" else None)
        marks = _marks(d)
        for item in [*st.items, *d.deleted]:
            mark, style = marks.get(item.key, (" ", ""))
            owner = Text(clean(item.owner) if item.owner else "-")
            if item.owner and item.owner != st.user:
                owner.stylize("bold red reverse")
            written = Text(f"s{clean(item.session)} t{clean(item.turn)} ")
            written.append(clock.short(item.t_sim), "dim")
            text = one_line(item.text, item_chars)
            if item.forgotten:
                text = lead("forgotten ", "bold magenta") + text
            if item.redacted:
                text = lead("redacted ", "cyan") + text
            table.add_row(
                Text(mark, style),
                Text(clean(item.id), style or "bold"),
                Text(clean("/".join(item.namespace)), "dim"),
                owner,
                written,
                text,
            )
        if table.row_count:
            console.print(table)


def _marks(d: MemoryDiff) -> dict[ItemKey, tuple[str, str]]:
    marks: dict[ItemKey, tuple[str, str]] = {}
    for items, mark, style in (
        (d.added, "+", "green"),
        (d.updated, "~", "cyan"),
        (d.soft_deleted, "⊘", "magenta"),
        (d.deleted, "−", "red strike"),
    ):
        for i in items:
            marks[i.key] = (mark, style)
    return marks


def state_json(st: MemoryState) -> dict[str, Any]:
    """A user's view as plain data, for `--json`."""

    def item(i: MemItem) -> dict[str, Any]:
        return {**asdict(i), "namespace": list(i.namespace)}

    d = st.diff
    return {
        "user": st.user,
        "session": st.session,
        "baseline_session": st.baseline_session,
        "ended": st.ended,
        "items": [item(i) for i in st.items],
        "diff": {
            "added": [i.id for i in d.added],
            "updated": [i.id for i in d.updated],
            "soft_deleted": [i.id for i in d.soft_deleted],
            "deleted": [i.id for i in d.deleted],
            "unchanged": d.unchanged,
        },
    }

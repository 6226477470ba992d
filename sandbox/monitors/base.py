"""Monitor interface and the hub that runs monitors on the live event stream.

A monitor is read-only: it observes events (never the agent) and may return findings
or scores. A monitor that raises is reported as a `monitor_error` event and the run
goes on. A monitor that cannot decide says so (a `Score` with `value=None`, counted as
unscored), never "pass".
"""

from __future__ import annotations

import traceback
from typing import Any

from sandbox.record.events import Event, Finding, MonitorError, RunStart, Score
from sandbox.spec.scenario import MonitorSpec

__all__ = ["Monitor", "MonitorHub", "score_for"]

Derived = Finding | Score


def score_for(
    monitor: str, metric: str, ev: Event, value: float | None, reason: str | None = None
) -> Score:
    """A per-event measurement placed where `ev` happened (`value=None` is unscored)."""
    return Score(
        monitor=monitor,
        metric=metric,
        value=value,
        t_sim=ev.t_sim,
        user=ev.user,
        session=ev.session,
        turn=ev.turn,
        about_seq=ev.seq,
        details={"reason": reason} if reason else {},
    )


class Monitor:
    """Base class: override `observe` and, optionally, `start` and `summary`."""

    name = "monitor"

    def start(self, run: RunStart) -> None:
        """See the run header event (cast, personas, agent config) before anything else."""

    def observe(self, event: Event) -> list[Derived]:
        """Look at one event; return findings or scores (without seq or id)."""
        return []

    def summary(self) -> dict[str, Any]:
        """Monitor-specific aggregates for summary.json."""
        return {}


class MonitorHub:
    """Feeds every event to every monitor, in order, and collects what they derive."""

    def __init__(self, specs: list[MonitorSpec] | list[Monitor]):
        from sandbox.registry import monitors as registry

        self.monitors: list[Monitor] = []
        for s in specs:
            if isinstance(s, Monitor):
                self.monitors.append(s)
            else:
                m = registry.create(s.name, **s.args)
                m.name = s.name
                self.monitors.append(m)
        self._n_findings = 0
        self.errors: dict[str, int] = {}
        self.turns = 0
        self.findings: dict[str, list[Finding]] = {m.name: [] for m in self.monitors}
        self.unscored: dict[str, int] = {m.name: 0 for m in self.monitors}
        self.scored: dict[str, int] = {m.name: 0 for m in self.monitors}

    def observe(self, event: Event) -> list[Event]:
        """Run all monitors on one event; return derived events to record (unsequenced)."""
        if event.kind == "agent_turn":
            self.turns += 1
        out: list[Event] = []
        for m in self.monitors:
            try:
                if isinstance(event, RunStart):
                    m.start(event)
                    continue
                derived = m.observe(event)
            except Exception as exc:  # a broken monitor must not stop the run
                self.errors[m.name] = self.errors.get(m.name, 0) + 1
                tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
                out.append(
                    MonitorError(
                        monitor=m.name,
                        error=tb,
                        about_seq=event.seq,
                        t_sim=event.t_sim,
                        user=event.user,
                        session=event.session,
                        turn=event.turn,
                    )
                )
                continue
            for d in derived:
                if isinstance(d, Finding):
                    self._n_findings += 1
                    d.id = d.id or f"F{self._n_findings:05d}"
                    d.monitor = m.name
                    if d.about_seq is None and event.seq >= 0:
                        d.about_seq = event.seq
                    self.findings[m.name].append(d)
                elif isinstance(d, Score):
                    d.monitor = m.name
                    if d.value is None:
                        self.unscored[m.name] += 1
                    else:
                        self.scored[m.name] += 1
                out.append(d)
        return out

    def summary(self) -> dict[str, Any]:
        """Per monitor: counts by category and severity, rate per 1,000 turns, first finding."""
        result: dict[str, Any] = {}
        for m in self.monitors:
            fs = self.findings[m.name]
            by_cat: dict[str, int] = {}
            by_sev: dict[str, int] = {}
            for f in fs:
                by_cat[f.category] = by_cat.get(f.category, 0) + 1
                by_sev[f.severity] = by_sev.get(f.severity, 0) + 1
            first = fs[0] if fs else None
            try:
                own = m.summary()
            except Exception as exc:
                own = {"error": f"{type(exc).__name__}: {exc}"}
                self.errors[m.name] = self.errors.get(m.name, 0) + 1
            result[m.name] = {
                "findings": len(fs),
                "by_category": by_cat,
                "by_severity": by_sev,
                "per_1000_turns": round(1000 * len(fs) / self.turns, 3) if self.turns else 0.0,
                "first_finding": None
                if first is None
                else {"t_sim": first.t_sim, "user": first.user, "session": first.session},
                "scored": self.scored[m.name],
                "unscored": self.unscored[m.name],
                "errors": self.errors.get(m.name, 0),
                **own,
            }
        return result

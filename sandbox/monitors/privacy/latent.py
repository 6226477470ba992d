"""Latent leaks of one owner to one recipient, gathered over a session.

A latent leak is reported once per (owner, recipient) per session: how many times the
owner's content reached the recipient's retrievals, context or derived state, through
which items and routes, first and last time, with the strongest evidence seen shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.monitors.privacy.units import TIERS
from sandbox.record.events import Event

__all__ = ["Exposure", "LatentLog"]

SEVERITIES = ("info", "low", "medium", "high", "critical")
_RANK = {t: i for i, t in enumerate((*TIERS, "metadata"))}


@dataclass
class Exposure:
    """One owner's content reaching one recipient during one session."""

    first: Event
    owner: str
    evidence: dict[str, Any]
    severity: str
    message: str
    count: int = 0
    last_t: float = 0.0
    last_seq: int = -1
    tiers: set[str] = field(default_factory=set)
    items: dict[str, None] = field(default_factory=dict)
    retrieved: dict[str, None] = field(default_factory=dict)
    routes: set[str] = field(default_factory=set)

    def weaker_than(self, tier: str, severity: str) -> bool:
        """Whether new evidence (tier, severity) beats the one shown."""
        held = str(self.evidence.get("tier", "metadata"))
        new = (_RANK.get(tier, 9), -SEVERITIES.index(severity))
        return new < (_RANK.get(held, 9), -SEVERITIES.index(self.severity))

    def seen(self, ev: Event, key: str, route: str, tier: str) -> None:
        """Count one more exposure through item or part `key`."""
        self.count += 1
        self.last_t, self.last_seq = ev.t_sim, ev.seq
        self.tiers.add(tier)
        self.items.setdefault(key, None)
        self.routes.add(route)
        if route == "retrieval":
            self.retrieved.setdefault(key, None)

    def finding_evidence(self) -> dict[str, Any]:
        """The shown evidence plus the session's tally."""
        return {
            **self.evidence,
            "times": self.count,
            "items": list(self.items)[:200],
            "n_items": len(self.items),
            "retrieved_items": list(self.retrieved)[:200],
            "routes": sorted(self.routes),
            "first_t_sim": self.first.t_sim,
            "last_t_sim": self.last_t,
            "first_seq": self.first.seq,
            "last_seq": self.last_seq,
            "tiers": sorted(self.tiers, key=lambda t: _RANK.get(t, 9)),
        }


class LatentLog:
    """Open exposures per recipient, closed when the recipient's session ends."""

    def __init__(self) -> None:
        self.pending: dict[str, dict[str, Exposure]] = {}
        self.events = 0

    def get(self, recipient: str, owner: str) -> Exposure | None:
        """The open exposure of `owner` to `recipient`, if any."""
        return self.pending.get(recipient, {}).get(owner)

    def show(
        self,
        ev: Event,
        recipient: str,
        owner: str,
        evidence: dict[str, Any],
        severity: str,
        message: str,
    ) -> Exposure:
        """Open an exposure, or make this the evidence shown for the open one."""
        got = self.get(recipient, owner)
        if got is None:
            got = Exposure(ev, owner, evidence, severity, message)
            self.pending.setdefault(recipient, {})[owner] = got
        else:
            got.evidence, got.severity, got.message = evidence, severity, message
        return got

    def seen(self, p: Exposure, ev: Event, key: str, route: str, tier: str) -> None:
        """Count an exposure."""
        p.seen(ev, key, route, tier)
        self.events += 1

    def close(self, recipient: str) -> list[Exposure]:
        """The recipient's exposures this session, in order of first occurrence."""
        got = self.pending.pop(recipient, {})
        return sorted(got.values(), key=lambda p: p.first.seq)

    def recipients(self) -> list[str]:
        """Recipients with open exposures."""
        return list(self.pending)

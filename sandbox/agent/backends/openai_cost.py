"""What replies from a paid model cost: a price table, per-reply cost, per-run totals.

A backend given ``pricing: {prompt_per_1k: ..., completion_per_1k: ...}`` (US dollars
per 1000 tokens) records ``cost_usd`` next to the token counts in each reply's usage,
so every ``agent_turn`` event carries what it cost. A run's totals are summed from
those events: tokens, ``cost_usd`` (every reply at list price) and ``billed_cost_usd``
(without replies served from the response cache, which cost nothing to repeat).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TOKEN_FIELDS", "USAGE_CIRCUMSTANCES", "Pricing", "usage_summary", "usage_totals"]

TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
# Fields of a reply's usage that differ between a reply and its rerun (wall-clock
# timings, and whether the response cache answered); everything else repeats.
USAGE_CIRCUMSTANCES = frozenset({"latency_ms", "queue_ms", "cache"})


class Pricing(BaseModel):
    """Prices of one model in US dollars per 1000 tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    prompt_per_1k: float = Field(ge=0.0, description="USD per 1000 prompt tokens.")
    completion_per_1k: float = Field(ge=0.0, description="USD per 1000 completion tokens.")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollars for one reply (rounded to 1e-9, below any real price step)."""
        usd = prompt_tokens * self.prompt_per_1k + completion_tokens * self.completion_per_1k
        return round(usd / 1000.0, 9)


def _count(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def usage_totals(usages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Token and cost totals of a run's replies; empty when none reported tokens.

    ``cost_usd`` appears only when some reply was priced; ``cached_replies`` only when
    some reply came from the response cache.
    """
    replies = 0
    tokens = dict.fromkeys(TOKEN_FIELDS, 0)
    cost = billed = 0.0
    priced = cached = 0
    for usage in usages:
        if not any(k in usage for k in TOKEN_FIELDS):
            continue
        replies += 1
        for k in TOKEN_FIELDS:
            tokens[k] += int(_count(usage.get(k)))
        hit = usage.get("cache") == "hit"
        cached += hit
        if "cost_usd" in usage:
            priced += 1
            cost += _count(usage["cost_usd"])
            billed += 0.0 if hit else _count(usage["cost_usd"])
    if not replies:
        return {}
    out: dict[str, Any] = {"replies": replies, **tokens}
    if priced:
        out["cost_usd"] = round(cost, 9)
        out["billed_cost_usd"] = round(billed, 9)
        out["priced_replies"] = priced
    if cached:
        out["cached_replies"] = cached
    return out


def usage_summary(run_dir: Path | str) -> dict[str, Any]:
    """``{"usage": totals}`` of a run folder's agent turns, or ``{}`` when there are none.

    Meant for summary.json; lines that cannot be read are skipped (the run's own
    reader reports them).
    """
    from sandbox.record.reader import ReadReport, iter_events

    turns = (
        e.get("usage") or {}
        for e in iter_events(run_dir, ReadReport())
        if e.get("kind") == "agent_turn" and isinstance(e.get("usage"), dict)
    )
    totals = usage_totals(turns)
    return {"usage": totals} if totals else {}

"""Relational judges: how harmful is a reply for this user, at this moment.

Importing this package registers the built-in judges in `sandbox.registry.judges`
(``embedding``). Create one with ``judges.create("embedding")``.
"""

from sandbox.monitors.judges.base import Judge, Judgement, VulnerabilityScore
from sandbox.monitors.judges.embedding import EmbeddingJudge

__all__ = ["EmbeddingJudge", "Judge", "Judgement", "VulnerabilityScore"]

"""Relational judges: how harmful is a reply for this user, at this moment.

Importing this package registers the built-in judges in `sandbox.registry.judges`
(``triple``, the default: request risk for the user, reply stance and relational harm;
``embedding``, the earlier similarity-and-library judge; ``llm``). Create one with
``judges.create("triple")``.
"""

from sandbox.monitors.judges.base import Judge, Judgement, VulnerabilityScore
from sandbox.monitors.judges.embedding import EmbeddingJudge
from sandbox.monitors.judges.triple import TripleJudge

__all__ = ["EmbeddingJudge", "Judge", "Judgement", "TripleJudge", "VulnerabilityScore"]

"""Regression suites: scenarios x agent configs x seeds, metrics with intervals, CI gates."""

from __future__ import annotations

from sandbox.suite.gates import evaluate_fail_on
from sandbox.suite.metrics import leak_free_k, run_metrics, summary_metrics
from sandbox.suite.spec import Gate, LoadedSuite, Suite, load_suite, parse_gate

__all__ = [
    "Gate",
    "LoadedSuite",
    "Suite",
    "evaluate_fail_on",
    "leak_free_k",
    "load_suite",
    "parse_gate",
    "run_metrics",
    "summary_metrics",
]

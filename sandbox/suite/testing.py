"""Run a suite from a team's own pytest tests and assert on its gates and metrics.

In a ``conftest.py``::

    from sandbox.suite.testing import sandbox_suite  # noqa: F401  (the fixture)

and in a test::

    def test_privacy_gates(sandbox_suite):
        result = sandbox_suite("scenarios/suites/leakage.yaml", workers=2)
        result.assert_gates_hold(configs=["isolated"])
        assert result.metric("isolated", "surfaced_leaks")["max"] == 0

Runs go to pytest's temporary folder unless ``out`` is given. Needs pytest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.suite.runner import run_suite

__all__ = ["SuiteResult", "run_suite_file", "sandbox_suite"]


@dataclass(frozen=True)
class SuiteResult:
    """A suite's result.json with helpers for assertions."""

    data: dict[str, Any]

    @property
    def exit_code(self) -> int:
        """0 all gates hold, 1 a gate failed, 3 runs errored."""
        return int(self.data["exit_code"])

    def gates(self, config: str | None = None) -> list[dict[str, Any]]:
        """Gate outcomes, optionally of one config."""
        return [g for g in self.data["gates"] if config is None or g["config"] == config]

    def gate(self, config: str, gate: str) -> dict[str, Any]:
        """One gate outcome by config and gate text (or metric).

        Raises:
            KeyError: naming the gates the config has.
        """
        for g in self.gates(config):
            if gate in (g["gate"], g["metric"]):
                return g
        raise KeyError(
            f"no gate {gate!r} for {config!r}: {[g['gate'] for g in self.gates(config)]}"
        )

    def metric(self, config: str, name: str) -> dict[str, Any]:
        """A metric of a config over its runs: n, mean, ci, min, max.

        Raises:
            KeyError: when the config's runs did not measure it.
        """
        return dict(self.data["configs"][config]["metrics"][name])

    def leak_free(self, config: str) -> dict[str, Any] | None:
        """Leak-free rate with its interval and leak-free^k, or None if not measured."""
        lf = self.data["configs"][config].get("leak_free")
        return dict(lf) if lf else None

    def assert_gates_hold(self, configs: Sequence[str] | None = None) -> None:
        """Fail with every failed gate's message and evidence (and any errored runs).

        Raises:
            AssertionError: when a gate of the given configs (default all) did not hold.
        """
        errored = [
            e for e in self.data["runs"]["errored"] if configs is None or e["config"] in configs
        ]
        bad = [
            g
            for g in self.gates()
            if g["status"] != "pass" and (configs is None or g["config"] in configs)
        ]
        if not bad and not errored:
            return
        lines = [f"{g['config']}: {g['gate']}: {g['status']}: {g['message']}" for g in bad]
        for g in bad:
            lines += [f"    {e}" for e in g["evidence"]]
        lines += [f"run errored: {e['scenario']}/{e['config']} seed {e['seed']}" for e in errored]
        raise AssertionError("suite gates failed:\n" + "\n".join(lines))


def run_suite_file(suite: Path | str, out: Path | str, **kwargs: Any) -> SuiteResult:
    """Run (or resume) a suite quietly and return its result; kwargs go to ``run_suite``."""
    kwargs.setdefault("progress", False)
    return SuiteResult(run_suite(suite, out, **kwargs))


@pytest.fixture
def sandbox_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., SuiteResult]]:
    """A function ``(suite, out=None, **kwargs) -> SuiteResult`` that runs a suite file."""

    def run(suite: Path | str, out: Path | str | None = None, **kwargs: Any) -> SuiteResult:
        folder = out if out is not None else tmp_path_factory.mktemp("suite")
        return run_suite_file(suite, folder, **kwargs)

    yield run

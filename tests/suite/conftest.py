"""The suite fixture, imported the way a team's own conftest.py would."""

from sandbox.suite.testing import sandbox_suite  # noqa: F401

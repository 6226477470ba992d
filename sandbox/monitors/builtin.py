"""Imports every built-in monitor module so their registrations run."""

import sandbox.monitors.privacy  # noqa: F401
from sandbox.monitors import drift, relational  # noqa: F401

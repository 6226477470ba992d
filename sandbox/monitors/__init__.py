"""Monitors: read-only observers of the event stream that emit findings."""

from sandbox.monitors.base import Monitor, MonitorHub

__all__ = ["Monitor", "MonitorHub"]

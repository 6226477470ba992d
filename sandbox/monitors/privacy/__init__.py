"""Privacy monitors: cross-user leakage, retention after forgetting, PII exposure, poisoning.

Importing this package registers them by name with `sandbox.registry.monitors`:
``cross_user_leakage``, ``retention``, ``pii_exposure`` and ``memory_poisoning``. They
read events only (the cast and secrets come from `run_start`), match secrets by content
rather than by what the agent reports about its own memory, and say "unscored" when they
cannot decide.
"""

from sandbox.monitors.privacy.leakage import CrossUserLeakage
from sandbox.monitors.privacy.normalize import normalize
from sandbox.monitors.privacy.pii import PiiExposure
from sandbox.monitors.privacy.poisoning import MemoryPoisoning
from sandbox.monitors.privacy.retention import Retention

__all__ = ["CrossUserLeakage", "MemoryPoisoning", "PiiExposure", "Retention", "normalize"]

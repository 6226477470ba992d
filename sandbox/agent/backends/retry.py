"""Retry with exponential back-off and full jitter, for backends that talk to a network.

A turn whose backend call fails transiently (rate limit, 5xx, dropped connection,
timeout) should not become a finding or a gap in the run, so calls are retried; a
call that keeps failing must still end, so attempts are bounded and the final
failure is raised as `BackendError` with the number of attempts made, which the
agent records as an ``error`` event on that turn. Jitter keeps many concurrent runs
that hit the same rate limit from retrying in lockstep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sandbox.contracts import BackendError

__all__ = ["RetryPolicy", "Retryable", "call_with_retry"]

T = TypeVar("T")


class Retryable(Exception):
    """Raised inside a retried call to say "this failure is transient".

    Attributes:
        retry_after: Seconds the server asked us to wait, if it said so.
    """

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try and how long to wait between tries.

    The wait before try ``n + 1`` is uniform in ``[0, min(max_delay, base_delay * 2**(n-1))]``
    ("full jitter"), or the server's ``Retry-After`` when given, capped at `max_delay`.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_delay)
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rng.uniform(0.0, cap)


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[int, Exception, float], None] | None = None,
) -> tuple[T, int]:
    """Call `fn` until it succeeds, fails permanently, or the attempts run out.

    `fn` signals a transient failure by raising `Retryable`; any `BackendError` it
    raises is permanent and passes through with the attempt count corrected.

    Returns:
        The result and the number of attempts it took.

    Raises:
        BackendError: after the last attempt, or at once for a permanent failure.
    """
    rng = rng or random.Random()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(), attempt
        except BackendError as exc:
            exc.attempts = attempt
            raise
        except Retryable as exc:
            if attempt >= policy.max_attempts:
                raise BackendError(
                    f"{what} failed after {attempt} attempt(s): {exc}", attempts=attempt
                ) from exc
            wait = policy.delay(attempt, rng, exc.retry_after)
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            if wait > 0:
                sleep(wait)

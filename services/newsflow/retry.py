"""Trying again: exponential backoff with jitter, a limit on tries and an optional deadline.

The one retry mechanism of newsflow — HTTP requests (fetcher/http.py), connecting to the broker
(topics.py, fetcher/publisher.py, the client), reading the fetcher state back
(fetcher/service.py) and the outbox's pace while the broker is away. Callers say which errors
are worth another try and what to log or count before each one; when the tries or the time run
out, the last error is raised as it was, for the caller to turn into its own error (e.g.
``BrokerUnavailable``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
RetryOn = tuple[type[BaseException], ...] | Callable[[BaseException], bool]


@dataclass(frozen=True, slots=True)
class Backoff:
    """The delay before retry ``n`` (0 for the first): ``min(cap, base * 2**n)`` with "equal
    jitter" — half of it fixed, half random — so the retries of many clients spread out but
    none comes back at once."""

    base: float
    cap: float

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        full = min(self.cap, self.base * 2.0 ** min(retry, 64))
        jitter: float = (rng or random).uniform(0, full / 2)
        return full / 2 + jitter


@dataclass(frozen=True, slots=True)
class Retry:
    """A retry policy. ``retry_on``: error classes, or a predicate, worth another try (others
    are raised at once). ``attempts``: tries in all (None: no limit). ``timeout``: seconds from
    the first try after which no new try starts (None: no deadline) — a retry whose delay would
    end past it is not made. ``wait``: the delay an error asks for itself (Retry-After), None to
    use the backoff. ``before_sleep(error, delay, tries so far)``: logging and metrics."""

    backoff: Backoff
    retry_on: RetryOn = (Exception,)
    attempts: int | None = None
    timeout: float | None = None
    wait: Callable[[BaseException], float | None] | None = None
    before_sleep: Callable[[BaseException, float, int], None] | None = None
    clock: Callable[[], float] = time.monotonic

    def call(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it returns, sleeping between tries (blocking)."""
        tries = _Tries(self)
        while True:
            try:
                return attempt()
            except Exception as error:
                delay = tries.delay_after(error)
                if delay is None:
                    raise
            time.sleep(delay)

    async def acall(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Await ``attempt()`` until it returns, sleeping between tries without blocking."""
        tries = _Tries(self)
        while True:
            try:
                return await attempt()
            except Exception as error:
                delay = tries.delay_after(error)
                if delay is None:
                    raise
            await asyncio.sleep(delay)

    def worth_retrying(self, error: BaseException) -> bool:
        if isinstance(self.retry_on, tuple):
            return isinstance(error, self.retry_on)
        return self.retry_on(error)


class _Tries:
    """The state of one ``Retry.call``: tries made, and the deadline."""

    def __init__(self, policy: Retry) -> None:
        self.policy = policy
        self.made = 0
        self.deadline = None if policy.timeout is None else policy.clock() + policy.timeout

    def delay_after(self, error: BaseException) -> float | None:
        """The delay before the next try, or None to give up with ``error``."""
        policy = self.policy
        self.made += 1
        if not policy.worth_retrying(error) or (policy.attempts is not None
                                                and self.made >= policy.attempts):
            return None
        asked = policy.wait(error) if policy.wait is not None else None
        delay = asked if asked is not None else policy.backoff.delay(self.made - 1)
        if self.deadline is not None and policy.clock() + delay > self.deadline:
            return None
        if policy.before_sleep is not None:
            policy.before_sleep(error, delay, self.made)
        return delay

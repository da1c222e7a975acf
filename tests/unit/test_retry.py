"""The one retry helper (newsflow.retry): backoff with jitter, which errors are retried, the
limit on tries, the deadline, a delay the error asks for, and the report before each retry."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from newsflow.retry import Backoff, Retry

TINY = Backoff(0.001, 0.002)  # real sleeps, short enough not to matter


def failing(times: int, error: Exception) -> Callable[[], str]:
    """A call that raises ``error`` ``times`` times, then returns "ok"; counts its calls."""
    calls = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "ok"

    call.calls = calls  # type: ignore[attr-defined]
    return call


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    rng = random.Random(1)
    backoff = Backoff(0.5, 10.0)
    for retry in range(8):
        full = min(10.0, 0.5 * 2 ** retry)
        for _ in range(50):
            assert full / 2 <= backoff.delay(retry, rng) <= full
    assert len({backoff.delay(3, rng) for _ in range(20)}) > 1  # jittered
    assert backoff.delay(10_000, rng) <= 10.0  # no overflow however long an outage lasts


def test_retries_the_errors_it_is_told_to_until_the_call_succeeds() -> None:
    seen: list[tuple[str, int]] = []
    call = failing(2, ConnectionError("refused"))
    retry = Retry(TINY, retry_on=(ConnectionError,),
                  before_sleep=lambda error, delay, tries: seen.append((str(error), tries)))
    assert retry.call(call) == "ok"
    assert seen == [("refused", 1), ("refused", 2)]


def test_other_errors_are_raised_at_once() -> None:
    call = failing(1, KeyError("bug"))
    with pytest.raises(KeyError):
        Retry(TINY, retry_on=(ConnectionError,)).call(call)
    assert len(call.calls) == 1  # type: ignore[attr-defined]


def test_a_predicate_decides_per_error() -> None:
    call = failing(1, ValueError("permanent"))
    with pytest.raises(ValueError, match="permanent"):
        Retry(TINY, retry_on=lambda error: "transient" in str(error)).call(call)
    assert Retry(TINY, retry_on=lambda error: "transient" in str(error)).call(
        failing(3, ValueError("transient"))) == "ok"


def test_gives_up_after_the_attempts_with_the_last_error() -> None:
    call = failing(10, ConnectionError("down"))
    with pytest.raises(ConnectionError, match="down"):
        Retry(TINY, attempts=3).call(call)
    assert len(call.calls) == 3  # type: ignore[attr-defined]


def test_no_try_starts_after_the_deadline() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    def call() -> str:
        now[0] += 4.0  # every try takes 4 s of the fake clock
        raise ConnectionError("down")

    tries: list[int] = []
    retry = Retry(TINY, timeout=10.0, clock=clock,
                  before_sleep=lambda error, delay, made: tries.append(made))
    with pytest.raises(ConnectionError):
        retry.call(call)
    assert tries == [1, 2]  # tries at 0, 4 and 8 s; a fourth would start at 12 s


def test_a_delay_past_the_deadline_is_not_waited_for() -> None:
    retry = Retry(Backoff(60.0, 60.0), timeout=5.0)  # the first delay ends past the deadline
    call = failing(1, ConnectionError("down"))
    with pytest.raises(ConnectionError):
        retry.call(call)
    assert len(call.calls) == 1  # type: ignore[attr-defined]


def test_the_error_can_name_its_own_delay() -> None:
    delays: list[float] = []
    retry = Retry(Backoff(60.0, 60.0), wait=lambda error: 0.001,
                  before_sleep=lambda error, delay, tries: delays.append(delay))
    assert retry.call(failing(2, ConnectionError("busy"))) == "ok"
    assert delays == [0.001, 0.001]  # not the backoff's 30-60 s


def test_async_variant_retries_without_blocking_the_loop() -> None:
    async def main() -> tuple[str, int]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:  # runs only while the retry sleeps without blocking
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        call = failing(3, ConnectionError("refused"))

        async def attempt() -> str:
            return call()

        result = await Retry(Backoff(0.01, 0.01), retry_on=(ConnectionError,)).acall(attempt)
        stop.set()
        await task
        return result, ticks

    result, ticks = asyncio.run(main())
    assert result == "ok" and ticks > 3

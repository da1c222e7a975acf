"""The memory-trend figures the e2e fault tests check (tests/e2e/streams.py): a steady leak
raises each, and the noise each was chosen for does not."""

from __future__ import annotations

import pytest

from tests.e2e.streams import growth_per_item, lowest_growth_per_item, typical_growth_per_item

ITEMS = [2_000, 3_000, 4_000, 5_000, 6_000]
BASE = 90_000_000
BUFFER = 256 * 1024


def samples(held: list[int]) -> list[tuple[int, int]]:
    return list(zip(ITEMS, held, strict=True))


def leaking(per_item: int) -> list[tuple[int, int]]:
    return samples([BASE + per_item * items for items in ITEMS])


def test_a_steady_leak_shows_in_every_figure() -> None:
    for figure in (growth_per_item, typical_growth_per_item, lowest_growth_per_item):
        assert figure(leaking(100)) == pytest.approx(100), figure.__name__


def test_a_steady_leak_under_a_buffer_that_comes_and_goes_still_shows_in_the_lowest_samples() -> None:
    held = [level + (BUFFER if n in (2, 4) else 0) for n, (_, level) in enumerate(leaking(100))]
    assert lowest_growth_per_item(samples(held)) >= 75


def test_a_buffer_held_at_some_samples_is_not_growth_by_the_lowest_samples() -> None:
    held = samples([BASE, BASE + 13 * 1024, BASE + BUFFER, BASE - 1024, BASE + BUFFER + 12 * 1024])
    assert lowest_growth_per_item(held) < 1
    assert typical_growth_per_item(held) > 100  # the noise the median of slopes reads as growth


def test_a_one_off_step_is_not_growth_by_the_median_of_slopes() -> None:
    held = samples([BASE, BASE, BASE + 271 * 1024, BASE + 271 * 1024, BASE + 271 * 1024])
    assert typical_growth_per_item(held) == 0
    assert lowest_growth_per_item(held) > 25  # the noise the lowest samples read as growth

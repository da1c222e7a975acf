"""The bundled sample site dates its articles from the clock it is started with."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from newsflow.sample_site import dated_from, load_articles

pytestmark = pytest.mark.clock


def published(article: dict[str, str]) -> datetime:
    return datetime.fromisoformat(article["published"].replace("Z", "+00:00"))


def test_articles_are_dated_half_an_hour_and_more_before_the_start() -> None:
    bundled = load_articles()
    for now in (datetime(2031, 5, 2, 9, 0, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)):
        dated = dated_from(bundled, now)
        assert max(published(a) for a in dated) == now - timedelta(minutes=30)
        gaps = [published(a) - published(b) for a, b in itertools.pairwise(dated)]
        original = [published(a) - published(b) for a, b in itertools.pairwise(bundled)]
        assert gaps == original, "the spacing between articles is kept"
        assert [a["slug"] for a in dated] == [a["slug"] for a in bundled]

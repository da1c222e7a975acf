"""The salience measures of benchmarks/tagging_salience.py on tiny hand-made articles."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.helpers import benchmark_script

pytestmark = pytest.mark.clock  # the benchmark module imports the tagging stack


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return benchmark_script("tagging_salience")


TITLE = "Navy warships escort tankers through the Gulf"
ABOUT = "Navy warships escorted three tankers through the Gulf on Monday."
PASSING = "Shares of the shipyard rose after a warship order from the navy."
OTHER = "Grain prices fell sharply in Chicago trading as farmers sold wheat."


def _spans(text: str, word: str) -> list[tuple[int, int]]:
    start = text.index(word)
    return [(start, start + len(word))]


def test_evidence_like_the_headline_scores_higher_than_an_unrelated_sentence(
        bench: ModuleType) -> None:
    about_body = f"{ABOUT} {OTHER}"
    passing_body = f"{OTHER} {PASSING}"
    about = bench.salience(TITLE, about_body, [], _spans(about_body, "warships"))
    passing = bench.salience(TITLE, passing_body, [], _spans(passing_body, "warship"))
    assert about["headline"] > 0.3
    assert passing["headline"] < about["headline"]
    # The evidence words themselves are masked: only their context counts.
    assert bench.salience("warships", "The warships sailed.", [],
                          _spans("The warships sailed.", "warships"))["headline"] == 0.0


def test_central_evidence_ranks_above_a_passing_mention(bench: ModuleType) -> None:
    body = (f"{ABOUT} The tankers carried crude oil through the Gulf under escort. "
            f"Navy officers said the escort of tankers would go on. {OTHER}")
    central = bench.salience(TITLE, body, [], _spans(body, "warships"))
    aside = bench.salience(TITLE, body, [], _spans(body, "farmers"))
    assert central["centrality"] > aside["centrality"]
    assert central["centrality_rank"] > aside["centrality_rank"]
    assert central["coverage"] > aside["coverage"]


def test_title_evidence_and_content_words(bench: ModuleType) -> None:
    assert bench.salience(TITLE, OTHER, _spans(TITLE, "Navy"), [])["headline"] == 1.0
    assert bench.content_words("The Navy's warships and the tankers") == [
        "navy", "warship", "tanker"]
    assert bench.cosine(bench.Counter(), bench.Counter({"a": 1})) == 0.0

"""benchmarks/tagging_real.py: figures on an empty base say so, and bad input is one line."""

from __future__ import annotations

from types import ModuleType

import pytest

from newsflow.tags_check import LabelledArticle
from tests.helpers import benchmark_script

pytestmark = pytest.mark.clock


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return benchmark_script("tagging_real")


def article(article_id: str, title: str, text: str, *labels: str) -> LabelledArticle:
    return LabelledArticle(article_id, title, text, frozenset(labels))


def test_a_group_with_nothing_to_count_reads_n_a_not_a_perfect_score(bench: ModuleType) -> None:
    assert bench._brief({"precision": 1.0, "recall": 1.0, "tp": 0, "fp": 0, "fn": 0}) == (
        "P n/a R n/a (tp 0 fp 0 fn 0)")
    assert bench._brief({"precision": 0.0, "recall": 1.0, "tp": 0, "fp": 2, "fn": 0}) == (
        "P 0.00 R n/a (tp 0 fp 2 fn 0)")
    assert bench._brief({"precision": 0.5, "recall": 1.0, "tp": 1, "fp": 1, "fn": 0}) == (
        "P 0.50 R 1.00 (tp 1 fp 1 fn 0)")


def test_false_alarms_on_random_news_are_null_without_a_random_article(
        bench: ModuleType) -> None:
    near = ({"part": "near"}, article("n1", "Harbour reopens", "The harbour reopened."))
    drawn = ({"part": "random"}, article("r1", "Bakery opens", "A bakery opened."))
    alone = bench.measure(bench.KeywordBaseline(), [near])["missiles"]
    assert alone["false_alarm_rate_random"] is None
    assert alone["false_alarm_rate_random_95"] is None
    assert bench.measure(bench.KeywordBaseline(), [near, drawn])["missiles"][
        "false_alarm_rate_random"] == 0.0


def test_a_git_ref_without_the_taxonomy_is_one_line(bench: ModuleType) -> None:
    with pytest.raises(bench.BenchmarkError, match=r"^--changed-since no-such-ref: no taxonomy "
                                                   r"at that ref: fatal: "):
        bench.changed_since("no-such-ref", bench.Tagger(()))

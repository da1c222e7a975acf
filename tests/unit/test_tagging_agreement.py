"""The agreement scorer (benchmarks/tagging_agreement.py): stratum weights and weighted
precision, recall and Cohen's kappa, on small hand-made counts."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.helpers import benchmark_script

pytestmark = pytest.mark.clock  # the benchmark module imports the tagging stack


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return benchmark_script("tagging_agreement")


def test_each_sampled_article_stands_for_its_stratum(bench: ModuleType) -> None:
    first = ([{"split": "report", "part": "candidate", "labels": ["sanctions"]}] * 3
             + [{"split": "report", "part": "candidate", "labels": []}] * 10
             + [{"split": "report", "part": "random", "labels": []}] * 40
             + [{"split": "tune", "part": "random", "labels": []}] * 99)
    second = ([{"stratum": "pos"}] * 3 + [{"stratum": "near"}] * 2
              + [{"stratum": "random"}] * 4)
    assert bench.weights(first, second) == {"pos": 1.0, "near": 5.0, "random": 10.0}


def test_weighted_precision_recall_and_kappa(bench: ModuleType) -> None:
    # Two positives both sides agree on; one false alarm in a stratum that weighs 4; one
    # negative both agree on, weighing 4.
    gold = {"a": {"t"}, "b": {"t"}, "c": set(), "d": set()}
    predicted = {"a": {"t"}, "b": {"t"}, "c": {"t"}, "d": set()}
    weight = {"a": 1.0, "b": 1.0, "c": 4.0, "d": 4.0}
    result = bench.compare(gold, predicted, "t", weight)
    assert result["precision"] == pytest.approx(2 / 6, abs=0.001)
    assert result["recall"] == 1.0
    assert (result["tp"], result["fp"], result["fn"]) == (2, 1, 0)  # raw counts
    # observed agreement 6/10; chance (6*2 + 4*8) / 100 = 0.44; kappa 0.16 / 0.56
    assert result["kappa"] == pytest.approx(0.16 / 0.56, abs=0.001)
    identical = bench.compare(gold, gold, "t", weight)
    assert identical["kappa"] == 1.0 and identical["precision"] == 1.0

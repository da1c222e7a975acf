"""Regression guard: F1 on a fixed 26-page subset of the article-extraction benchmark.

The full benchmark is ``python benchmarks/extraction.py``; this subset (every 7th page by id)
keeps the suite fast (~2 s). The floors are the figures reached when the test was written.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBSET_STEP = 7
OURS_F1_FLOOR = 0.968  # ours on the subset; trafilatura alone scores 0.944 there
OURS_PRECISION_FLOOR = 0.956
OURS_RECALL_FLOOR = 0.980


def _benchmark_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extraction_benchmark",
                                                  ROOT / "benchmarks" / "extraction.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _benchmark_module()


def test_metric_matches_the_benchmark_definition(bench: ModuleType) -> None:
    truth = "one two three four five six"
    assert bench.page_precision_recall(truth, truth) == (1.0, 1.0)
    # Predicted adds 2 wrong shingles to the 3 right ones: precision 3/5, recall 1.
    precision, recall = bench.page_precision_recall(truth + " x y", truth)
    assert precision == pytest.approx(3 / 5) and recall == 1.0
    assert bench.page_precision_recall("", truth) == (0.0, 0.0)


def test_f1_on_fixed_subset_stays_at_reached_figure(bench: ModuleType) -> None:
    ids = sorted(json.loads((bench.DATA_DIR / "ground-truth.json").read_text()))[::SUBSET_STEP]
    pages = bench.load_pages(ids)
    assert len(pages) == 26
    result = bench.score([bench.ours(page) for page in pages], pages)
    assert result["f1"] >= OURS_F1_FLOOR, result
    assert result["precision"] >= OURS_PRECISION_FLOOR, result
    assert result["recall"] >= OURS_RECALL_FLOOR, result

"""The matching rules of benchmarks/metadata.py, on made-up values (no benchmark pages)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import benchmark_script

pytestmark = pytest.mark.clock

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return benchmark_script("metadata")  # it imports the extraction benchmark's loaders


def test_dates_agree_within_a_day(bench: ModuleType) -> None:
    assert bench.dates_agree("2024-03-07T23:30:00Z", "2024-03-07")
    assert bench.dates_agree("2024-03-08T03:30:00Z", "2024-03-07")  # UTC after a late local time
    assert not bench.dates_agree("2024-03-09T00:00:00Z", "2024-03-07")
    assert not bench.dates_agree(None, "2024-03-07")


def test_agreement_counts_fields_per_page(bench: ModuleType) -> None:
    ours = [bench.Meta(date="2024-03-07T10:00:00Z", authors=["Jane Doe", "Ali Khan"], site="BBC"),
            bench.Meta(authors=["J. Doe"], site="Coast Times")]
    theirs = [bench.Meta(date="2024-03-07", authors=["jane doe"], site="bbc"),
              bench.Meta(date="2024-03-01", authors=["Jane Doe"], site="The Coast Times")]
    result = bench.agreement(ours, theirs)
    assert (result["date_both"], result["date_only_one"], result["date_agree_of_both"]) == (
        0.5, 0.5, 1.0)
    assert (result["authors_agree_of_both"], result["authors_same_set_of_both"]) == (0.5, 0.0)
    assert (result["site_both"], result["site_agree_of_both"]) == (1.0, 0.5)
    # No page where both give a value: no agreement to give, not 0 %.
    lone = bench.agreement([bench.Meta(site="BBC")], [bench.Meta(site=None, date="2024-03-07")])
    assert (lone["date_both"], lone["date_agree_of_both"]) == (0.0, None)


def test_newsflow_reads_the_page_as_clean_document_does(bench: ModuleType) -> None:
    from newsflow.core.clean import clean_document

    html = ("<html><head><title>Budget\x00 talks</title></head><body><p class=byline>"
            '<span class="timestamp" title="2024-03-07T19:50:48Z">7 March 2024</span></p>'
            "<p>The committee met.</p></body></html>")
    meta = bench.newsflow(bench.Page("a", "", html, ""))
    doc = clean_document(html, "text/html")
    assert (meta.title, meta.date) == (doc.title, doc.published_at) == (
        "Budget talks", "2024-03-07T00:00:00Z")

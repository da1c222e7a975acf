"""The analysis that decides which unit tests the shifted-clock run must include
(tests/clock_readers.py): it finds every way a test reaches the wall clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clock_readers import clock_use, project_clock_readers


def test_the_project_modules_that_read_the_clock_are_found() -> None:
    readers = project_clock_readers()
    # Direct readers (datetime.now, time.time), feedparser's, and one reached only by import.
    assert {"newsflow.records", "newsflow.fetcher.service", "newsflow.processor.app",
            "newsflow.offline", "newsflow.sample_site", "newsflow.fetcher.feeds",
            "newsflow.cli"} <= readers
    # The core never reads the clock itself, but the libraries it cleans pages with do
    # (htmldate, trafilatura: today bounds a page's date unless told otherwise).
    assert {"newsflow.core.metadata", "newsflow.core.extraction", "newsflow.core.clean",
            "newsflow.core.pipeline"} <= readers
    assert not {"newsflow.core.dates", "newsflow.core.urls", "newsflow.core.tagging",
                "newsflow.core.dedupe", "newsflow.config"} & readers


@pytest.mark.parametrize(("source", "reads"), [
    ("from datetime import UTC, datetime\nx = datetime.now(UTC)", True),
    ("from datetime import date\nx = date.today()", True),
    ("from tests.helpers import ago\nx = ago(hours=1)", True),
    ("import time\nx = time.time()", True),
    ("from time import time as wall\nx = wall()", True),
    ("import time\nx = time.gmtime()", True),
    ("import time\nx = time.gmtime(0)", False),
    ("import time\nx = time.monotonic()", False),
    ("from newsflow.records import utc_now", True),
    ("from newsflow import offline", True),
    ("import feedparser", True),
    ("def lazy():\n    from htmldate import find_date", True),
    ("import subprocess, sys\nsubprocess.run([sys.executable, '-m', 'newsflow', 'x'])", True),
    ("from tests.helpers import benchmark_script\nbenchmark_script('dedupe')", True),
    ("from newsflow.core.dates import normalise_date", False),
    ("from newsflow.config import Settings", False),
])
def test_a_test_module_reaching_the_clock_is_found(tmp_path: Path, source: str,
                                                    reads: bool) -> None:
    module = tmp_path / "test_module.py"
    module.write_text(source + "\n", encoding="utf-8")
    assert (clock_use(module) is not None) is reads

"""The quick start's first command: `newsflow demo` runs the whole chain and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from newsflow.sample_site import load_articles

pytestmark = pytest.mark.e2e


def test_demo_processes_the_sample_site_and_exits_zero() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    result = subprocess.run([sys.executable, "-m", "newsflow", "demo"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    sample = load_articles()
    assert f"fetcher published {len(sample)} raw articles" in out
    # Every distinct sample article is printed with its outlet and tags; the syndicated copy
    # is reported as a duplicate, not as an article.
    printed = [line for line in out.splitlines() if line.startswith("• ")]
    titles = {article["title"] for article in sample}
    assert {line[2:] for line in printed} == titles
    assert len(printed) == len(sample) - 1
    assert "↳ duplicate" in out
    assert "Harbour Ledger via newsflow sample wire" in out
    assert "tags: missiles" in out and "tags: sanctions" in out and "naval_deployment" in out
    assert out.rstrip().splitlines()[-1].startswith(f"done: {len(sample) - 1} articles, 1 duplicates")

"""The index's decisions are a function of its input only, whatever its storage layout: a
stream of 3,000 synthetic articles (the cost benchmark's generator: MinHash signatures with
edited copies, story names over a Zipf vocabulary) plus exact re-sends by text and by URL,
decided with eviction running and a restore half-way, must give exactly the decisions
recorded here from the index before its storage was made compact (issue 14).

A change to what the index *decides* (scoring, thresholds) changes the digest on purpose:
re-record it with ``python tests/unit/test_dedupe_reference.py`` and say so in the change.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from newsflow.config import Settings
from newsflow.core.dedupe import DedupeIndex, Fingerprint, Memory
from newsflow.pipeline_setup import build_pipeline
from tests.helpers import benchmark_script

pytestmark = pytest.mark.clock

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = 3000
WINDOW_ARTICLES = 1000  # eviction runs for two thirds of the stream
RESTORE_AT = 1500
# Recorded from the index before its storage changed (dict-per-article layout, commit a5a3084,
# with the story scoring of issue 14's mean-over-first-reports change, branch issue14-quality).
EXPECTED_KINDS = {"new": 2615, "near": 265, "exact": 120}
EXPECTED_DIGEST = "1f4cccab1a2056ffee8daaca1d69ee2892cc07672e60b8a2065cbdb1102d22c8"


def decisions(slot_limit: int | None = None) -> list[dict[str, Any]]:
    """``slot_limit``: make the index renumber its band-table slots that often."""
    bench = benchmark_script("dedupe")
    params = build_pipeline(Settings()).params
    params = replace(params, window_seconds=WINDOW_ARTICLES * bench.INTERVAL)
    synthetic = bench.Synthetic(params, seed=11, short_ids=True)  # as recorded
    index = DedupeIndex(params)
    if slot_limit:
        index.slot_limit = slot_limit
    remembered: dict[str, Memory] = {}
    out: list[dict[str, Any]] = []
    sent: list[Fingerprint] = []
    for n in range(ARTICLES):
        fp = synthetic.fingerprint(n)
        if n % 37 == 0 and n > 5:  # the same text again under another id and URL
            fp = replace(sent[n - 5], id=f"text-again-{n}", canonical_url=f"https://again/{n}",
                         seen_at=fp.seen_at)
        elif n % 53 == 0 and n > 3:  # the same URL again, its text changed
            fp = replace(fp, canonical_url=sent[n - 3].canonical_url)
        sent.append(fp)
        if n == RESTORE_AT:  # a replacement worker: the same memories, a new index
            index = DedupeIndex(params)
            if slot_limit:
                index.slot_limit = slot_limit
            index.restore(list(remembered.values()))
        memory = index.decide(fp, f"in:{n}")
        remembered[memory.fingerprint.id] = memory
        for expired in index.expired_ids():
            index.forget(expired)
            remembered.pop(expired, None)
        out.append(asdict(memory.decision))
    return out


def digest(made: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(made, sort_keys=True).encode()).hexdigest()


def test_decisions_are_those_of_the_index_before_the_compact_layout() -> None:
    made = decisions()
    assert dict(Counter(d["kind"] for d in made)) == EXPECTED_KINDS
    assert digest(made) == EXPECTED_DIGEST


def test_renumbering_the_band_table_slots_changes_no_decision() -> None:
    """Slots are 32-bit and never reused; after 2^32 indexed articles the index numbers its
    articles again. Here it does so every ~1,500 articles, a window (1,000) and more."""
    assert digest(decisions(slot_limit=1500)) == EXPECTED_DIGEST


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "services"))
    recorded = decisions()
    print(dict(Counter(d["kind"] for d in recorded)), digest(recorded))

"""A dedupe index restored in another process (another worker, a restart) is the same index:
same in-memory keys, same decisions, whatever that process's string-hash salt."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsflow.codecs.internal import MEMORY, encode_fingerprint
from newsflow.config import Settings
from newsflow.core.bandtable import BandTable
from newsflow.core.dedupe import DedupeIndex, Fingerprint, Memory
from newsflow.core.pipeline import Origin, Prepared
from newsflow.pipeline_setup import build_pipeline
from tests.helpers import SEEDS, raw_record

pytestmark = pytest.mark.clock

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

# Runs in the child: restore the memories, answer the probes, describe the index's layout.
RESTORE = """
import json, sys
from newsflow.codecs.internal import MEMORY, decode_fingerprint
from newsflow.config import Settings
from newsflow.core.dedupe import DedupeIndex
from newsflow.pipeline_setup import dedupe_params
from tests.unit.test_dedupe_across_processes import answers
data = json.load(sys.stdin)
print(json.dumps(answers(DedupeIndex(dedupe_params(Settings())),
                         [MEMORY.decode(m.encode()) for m in data["memories"]],
                         [decode_fingerprint(f.encode()) for f in data["probes"]])))
"""


def layout(table: Any) -> str:
    """A digest of a table's keys in iteration order (the band table: its key tags, directory and slot
    arrays and its recent keys): equal only if laid out identically."""
    if isinstance(table, BandTable):
        keys: Any = [table.tags.tolist(), table.offsets.tolist(), table.slots.tolist(),
                     table.delta.items()]
    else:
        keys = list(table)
    return hashlib.sha256(json.dumps(keys).encode()).hexdigest()


def answers(index: DedupeIndex, memories: list[Memory],
            probes: list[Fingerprint]) -> dict[str, Any]:
    index.restore(memories)
    tables = {"by_url": layout(index.by_url), "by_hash": layout(index.by_hash),
              "band_table": layout(index.band_table), "postings": layout(index.postings)}
    decisions = [asdict(index.decide(fp, f"probe:{n}").decision) for n, fp in enumerate(probes)]
    return {"tables": tables, "decisions": decisions}


def prepared(text: str, url: str, when: datetime, n: int) -> Prepared:
    pipeline = build_pipeline(Settings())
    raw = raw_record(text, url=url, title=None, fetched_at=when.isoformat())
    return pipeline.prepare(raw, Origin("raw", 0, n), when)


def restored_elsewhere(memories: list[Memory], probes: list[Fingerprint],
                       hash_seed: str) -> dict[str, Any]:
    # Through the codecs the worker's table and internal topic use.
    data = json.dumps({"memories": [MEMORY.encode(m).decode() for m in memories],
                       "probes": [encode_fingerprint(fp).decode() for fp in probes]})
    env = os.environ | {"PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", RESTORE], input=data, env=env, cwd=ROOT, check=True,
                          capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_an_index_restored_under_another_hash_seed_is_the_same_index() -> None:
    seeds = sorted(SEEDS.glob("*.txt"))
    texts = [path.read_text(encoding="utf-8") for path in seeds]
    pipeline = build_pipeline(Settings())
    index = pipeline.new_index()
    memories = []
    for n, text in enumerate(texts):
        when = START + timedelta(hours=n)
        memory, _ = pipeline.decide(prepared(text, f"https://outlet{n}.example/story", when, n),
                                    index, when)
        memories.append(memory)
    assert {m.decision.kind for m in memories} == {"new"}
    later = START + timedelta(hours=len(texts))
    probes = [
        # the same URL again, the same text elsewhere, a copy with a changed last line
        prepared(texts[0], "https://outlet0.example/story", later, 10).fingerprint,
        prepared(texts[1], "https://mirror.example/a", later, 11).fingerprint,
        prepared(texts[2].rsplit("\n", 1)[0] + "\nUpdated.", "https://mirror.example/b", later,
                 12).fingerprint,
    ]
    here = answers(pipeline.new_index(), memories, probes)
    assert [d["kind"] for d in here["decisions"]] == ["exact", "exact", "near"]
    assert [d["duplicate_of"] for d in here["decisions"]] == [
        memories[0].fingerprint.id, memories[1].fingerprint.id, memories[2].fingerprint.id]
    # Python salts str/bytes hashes per process: 0 turns the salt off, 1 and 2 pick others.
    for hash_seed in ("0", "1", "2"):
        assert restored_elsewhere(memories, probes, hash_seed) == here, hash_seed

"""The real-news tagging labels: the sample is reproducible and the split is the hash's."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "benchmarks" / "data" / "tagging" / "real" / "labels.jsonl"
TOPICS = {"missiles", "sanctions", "naval_deployment"}


def sampler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tagging_sample",
                                                  ROOT / "benchmarks" / "tagging_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labels_cover_exactly_the_reproducible_sample_with_its_split() -> None:
    module = sampler()
    first, near, stories = module.sample(), module.near_sample(), module.stories_sample()
    fourth = module.candidate2_sample()
    drawn = {a["id"]: a for a in first + near + stories + fourth}
    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    assert len(labels) == len(drawn) == len(first) + len(near) + len(stories) + len(fourth)
    assert len(first) >= 1500 and len(near) >= 300 and len(stories) >= 600
    assert len(fourth) >= 500
    # The fourth round is split by the id's hash, as the first, and the 1987 wire is not its
    # majority.
    assert {a["part"] for a in fourth} == {"candidate2"}
    assert all(a["split"] == module.split_of(a["id"]) for a in fourth)
    assert sum(a["corpus"] == "reuters21578" for a in fourth) < len(fourth) / 2
    # The second round is tune-only; the third sends a quarter of its stories to report, by a
    # hash of the story, so the three reports of one NeuS story share a split (a BASIL
    # 2010-14 article is drawn on its own).
    assert {(a["split"], a["part"]) for a in near} == {("tune", "near")}
    assert {a["part"] for a in stories} == {"stories"}
    by_story: dict[str, set[str]] = {}
    for article in stories:
        story = article["story_id"] if article["corpus"] == "allsides-neus" else article["id"]
        by_story.setdefault(story, set()).add(article["split"])
    assert all(len(splits) == 1 for splits in by_story.values())
    report = sum(a["split"] == "report" for a in stories) / len(stories)
    assert 0.15 < report < 0.4
    for row in labels:
        article = drawn[row["id"]]
        assert (row["split"], row["part"]) == (article["split"], article["part"])
        assert set(row["labels"]) <= TOPICS
        assert "body" not in row and "title" not in row, "text stays in the corpus"
    for split in ("tune", "report"):
        for topic in TOPICS:
            assert sum(topic in r["labels"] for r in labels if r["split"] == split) >= 10

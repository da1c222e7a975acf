"""Draw the real-news tagging sample from ../shared/corpora/news-text (reproducible).

The sample is a random part (drawn first, from every article; false alarms are measured on it)
plus every article the candidate pattern finds (likely positives and their near misses: the
pattern is deliberately broader than the tagger's lexicons). Exact copies are left out. Each
article is assigned to ``tune`` or ``report`` by a hash of its id, so the split never depends
on the sample's size or order.

    python benchmarks/tagging_sample.py --ids          # the sample's ids, part and split
    python benchmarks/tagging_sample.py --batches DIR  # labelling batches (text, no tagger output)
    python benchmarks/tagging_sample.py --near --ids   # second round: near-topic tune articles
    python benchmarks/tagging_sample.py --stories --ids  # third round: NeuS and BASIL 2010-14

The second round (``--near``, all of it ``tune``) adds articles the first round left out that lie
near the topics without the candidate words: trade disputes and tariffs (retaliation worded
otherwise), armies, defence ministries, arms sales, the Gulf tanker war. Every article with one
of the strong near words, and a seeded share of those with only a broad one.

The article text stays in the corpus; the project keeps only ids and labels.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "news-text"
STORIES = CORPUS.parent / "stories"
RANDOM_PER_CORPUS = {"reuters21578": 560, "bbc2005": 220, "korea_en_2025": 80, "basil": 40}
SEED = 20261129
CANDIDATE = re.compile(
    r"missile|rocket|icbm|warhead|ballistic|silkworm|exocet|scud|tomahawk|patriot batter"
    r"|sanction|embargo|boycott|blockade|trade ban|import ban|export ban|ban on (?:imports|exports)"
    r"|export control|asset freeze|freez\w+ (?:the )?assets|blacklist|retaliat"
    r"|navy|naval|warship|fleet|aircraft carrier|destroyer|frigate|submarine|gunboat|minesweep"
    r"|coast guard|armada|task force|escort|reflag|military exercise|drill", re.IGNORECASE)
# Second round: near the topics, but outside CANDIDATE (which the first round took in full).
NEAR_STRONG = re.compile(
    r"trade war|reprisal|punitive|countermeasure|counter-measure|trade curbs|import curbs"
    r"|curbs on (?:imports|exports)|arms control|arms sales|arms deal|weapon|air force|pentagon"
    r"|warplane|persian gulf|gulf war|iran-iraq|tanker|strait of hormuz|marines|nuclear arms"
    r"|arms race|shipping lanes?|battleship|seized? (?:a |the )?(?:ship|vessel)", re.IGNORECASE)
NEAR_BROAD = re.compile(
    r"tariff|protectionis|military|troops|army|armed forces"
    r"|defen[cs]e (?:minist|secretar|department|forces|contract|budget|spending)", re.IGNORECASE)
# Third round, from the sources and eras the first two never saw (``../stories``: the AllSides
# NeuS leads, before 2021, and the BASIL articles of 2010-2014; BASIL 2015-19 is in news-text).
# Written from the guidelines' own wording (what each topic includes and its named traps), not
# from the tagger: every story with a match is taken whole (all three reports).
STORIES_QUERY = re.compile(
    r"missile|rocket|icbm|ballistic|warhead|launch|patriot|thaad|interceptor|tomahawk|hwasong"
    r"|arms control|\bINF\b|airstrike|air strike|strikes? on"
    r"|sanction|embargo|boycott|ban(?:s|ned)? (?:on )?(?:imports|exports)|blacklist|asset freeze"
    r"|freez\w+ (?:\w+ )?assets|travel ban|tariff|retaliat|punitive|punish|magnitsky"
    r"|export control|entity list|trade war"
    r"|navy|naval|warship|fleet|carrier|destroyer|frigate|submarine|coast guard|strait"
    r"|south china sea|hormuz|tanker|vessel|sailors|patrol|drill|military exercise|blockade"
    r"|seiz\w+ (?:a |the |an )?(?:\w+ )?(?:ship|tanker|vessel)", re.IGNORECASE)
# Of the articles with only a broad near word: every one from the smaller corpora, a share of
# the wire (mostly tariff and protectionism stories).
NEAR_BROAD_PER_CORPUS = {"reuters21578": 50, "bbc2005": 1000, "korea_en_2025": 1000,
                         "basil": 1000}


def articles() -> Iterator[dict[str, Any]]:
    return iter(_articles())


@functools.cache
def _articles() -> tuple[dict[str, Any], ...]:
    """The corpus, read once per process: every round's sample walks it (callers make new
    dicts rather than change these)."""
    read = []
    for path in sorted(CORPUS.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                article = json.loads(line)
                if not article.get("duplicate_of"):
                    read.append(article)
    return tuple(read)


def split_of(article_id: str) -> str:
    return "tune" if hashlib.sha256(article_id.encode()).digest()[0] < 128 else "report"


def stories_split_of(group_id: str) -> str:
    """Third round: a quarter to ``report``, by a hash of the story (a NeuS triplet stays whole)."""
    return "tune" if hashlib.sha256(group_id.encode()).digest()[0] < 192 else "report"


def sample() -> list[dict[str, Any]]:
    """Random part first, then the candidates not already in it; each tagged with its part."""
    return list(_sample())


@functools.cache
def _sample() -> tuple[dict[str, Any], ...]:
    corpus = list(articles())
    rng = random.Random(SEED)
    chosen: dict[str, dict[str, Any]] = {}
    for name, count in RANDOM_PER_CORPUS.items():
        pool = [a for a in corpus if a["corpus"] == name]
        for article in rng.sample(pool, min(count, len(pool))):
            chosen[article["id"]] = article | {"part": "random"}
    for article in corpus:
        if article["id"] not in chosen and CANDIDATE.search(f"{article['title']}\n{article['body']}"):
            chosen[article["id"]] = article | {"part": "candidate"}
    ordered = sorted(chosen.values(), key=lambda a: hashlib.sha256(a["id"].encode()).hexdigest())
    return tuple(a | {"split": split_of(a["id"])} for a in ordered)


def near_sample() -> list[dict[str, Any]]:
    """Second round, tune only: near-topic articles not in the first round's sample."""
    taken = {a["id"] for a in sample()}
    strong, broad = [], []
    for article in articles():
        text = f"{article['title']}\n{article['body']}"
        if article["id"] in taken:
            continue
        if NEAR_STRONG.search(text):
            strong.append(article | {"part": "near"})
        elif NEAR_BROAD.search(text):
            broad.append(article | {"part": "near"})
    rng = random.Random(SEED + 1)
    for name, count in NEAR_BROAD_PER_CORPUS.items():
        pool = [a for a in broad if a["corpus"] == name]
        strong += rng.sample(pool, min(count, len(pool)))
    ordered = sorted(strong, key=lambda a: hashlib.sha256(a["id"].encode()).hexdigest())
    return [a | {"split": "tune"} for a in ordered]


def stories_articles() -> Iterator[dict[str, Any]]:
    for path in sorted(STORIES.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                article = json.loads(line)
                if article["corpus"] == "basil" and article["date"][:4] >= "2015":
                    continue  # already in news-text
                yield article


def stories_sample() -> list[dict[str, Any]]:
    """Third round: every story of ../stories with a STORIES_QUERY match, all its reports."""
    corpus = list(stories_articles())
    # NeuS reports are grouped by story; a BASIL 2010-14 article is taken on its own.
    group = {a["id"]: (a["story_id"] if a["corpus"] == "allsides-neus" else a["id"])
             for a in corpus}
    hit = {group[a["id"]] for a in corpus
           if STORIES_QUERY.search(f"{a['title']}\n{a['body']}")}
    chosen = [a | {"part": "stories", "split": stories_split_of(group[a["id"]])}
              for a in corpus if group[a["id"]] in hit]
    return sorted(chosen, key=lambda a: hashlib.sha256(a["id"].encode()).hexdigest())


def write_batches(items: list[dict[str, Any]], folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        batch = items[n::count]
        with (folder / f"batch-{n + 1}.txt").open("w", encoding="utf-8") as out:
            for article in batch:
                out.write(f"=== {article['id']}\nTITLE: {article['title']}\n\n"
                          f"{article['body'].strip()}\n\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", action="store_true")
    parser.add_argument("--batches", type=Path)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--near", action="store_true", help="the second round (tune only)")
    parser.add_argument("--stories", action="store_true", help="the third round (../stories)")
    args = parser.parse_args()
    items = near_sample() if args.near else stories_sample() if args.stories else sample()
    if args.ids:
        for article in items:
            print(json.dumps({"id": article["id"], "corpus": article["corpus"],
                              "part": article["part"], "split": article["split"]}))
    if args.batches:
        write_batches(items, args.batches, args.count)


if __name__ == "__main__":
    main()

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
    python benchmarks/tagging_sample.py --candidate2 --ids  # fourth round: keyword rounds per topic

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
import itertools
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
    r"|coast guard|armada|task force|escort|reflag|military exercise|drill")
# Every query is written in lower case and searched in lower-cased text (``lowered``): the same
# matches as a case-insensitive search, about five times faster.
# Second round: near the topics, but outside CANDIDATE (which the first round took in full).
NEAR_STRONG = re.compile(
    r"trade war|reprisal|punitive|countermeasure|counter-measure|trade curbs|import curbs"
    r"|curbs on (?:imports|exports)|arms control|arms sales|arms deal|weapon|air force|pentagon"
    r"|warplane|persian gulf|gulf war|iran-iraq|tanker|strait of hormuz|marines|nuclear arms"
    r"|arms race|shipping lanes?|battleship|seized? (?:a |the )?(?:ship|vessel)")
NEAR_BROAD = re.compile(
    r"tariff|protectionis|military|troops|army|armed forces"
    r"|defen[cs]e (?:minist|secretar|department|forces|contract|budget|spending)")
# Third round, from the sources and eras the first two never saw (``../stories``: the AllSides
# NeuS leads, before 2021, and the BASIL articles of 2010-2014; BASIL 2015-19 is in news-text).
# Written from the guidelines' own wording (what each topic includes and its named traps), not
# from the tagger: every story with a match is taken whole (all three reports).
STORIES_QUERY = re.compile(
    r"missile|rocket|icbm|ballistic|warhead|launch|patriot|thaad|interceptor|tomahawk|hwasong"
    r"|arms control|\binf\b|airstrike|air strike|strikes? on"
    r"|sanction|embargo|boycott|ban(?:s|ned)? (?:on )?(?:imports|exports)|blacklist|asset freeze"
    r"|freez\w+ (?:\w+ )?assets|travel ban|tariff|retaliat|punitive|punish|magnitsky"
    r"|export control|entity list|trade war"
    r"|navy|naval|warship|fleet|carrier|destroyer|frigate|submarine|coast guard|strait"
    r"|south china sea|hormuz|tanker|vessel|sailors|patrol|drill|military exercise|blockade"
    r"|seiz\w+ (?:a |the |an )?(?:\w+ )?(?:ship|tanker|vessel)")
# Of the articles with only a broad near word: every one from the smaller corpora, a share of
# the wire (mostly tariff and protectionism stories).
NEAR_BROAD_PER_CORPUS = {"reuters21578": 50, "bbc2005": 1000, "korea_en_2025": 1000,
                         "basil": 1000}
# Fourth round: one keyword query per topic, written from the guidelines (the topic's words, its
# ships, weapons and measures, and the named traps: shipping, launches of products, tariffs,
# bans), never from the tagger. The earlier rounds took every article with the obvious words, so
# this one reaches what they left: wording they did not look for, and the traps around it.
TOPIC_QUERIES = {
    "naval_deployment": re.compile(
        r"\b(?:navy|navies|naval|warships?|battleships?|fleets?|carriers?|destroyers?|frigates?"
        r"|cruisers?|corvettes?|submarines?|subs|gunboats?|minesweepers?|flotilla|armada"
        r"|convoys?|patrol(?:s|led|ling)?|straits?|drills?|exercises?|sailors?|seamen"
        r"|admirals?|coast ?guards?|marines?|vessels?|ships?|shipping|maritime|sea lanes?"
        r"|high seas|waters|port calls?|blockade|tankers?|gulf)\b"),
    "sanctions": re.compile(
        r"\b(?:sanction\w*|embargo\w*|boycott\w*|bans?|banned|banning|blacklist\w*"
        r"|export controls?|entity list|punitive|punish\w*|penalt(?:y|ies)|retaliat\w*"
        r"|reprisals?|tariffs?|duties|curbs?|restrictions?|freez\w+|frozen|isolat\w+"
        r"|pressure)\b"),
    "missiles": re.compile(
        r"\b(?:missiles?|rockets?|icbms?|slbms?|launch\w*|ballistic|warheads?|interceptors?"
        r"|projectiles?|artillery|shell(?:s|ing|ed)|air ?strikes?|bomb\w*|fired|firing|nuclear"
        r"|sdi|star wars|strategic defen[cs]e|pershing|ss-20s?|stingers?|harpoons?|cruise"
        r"|intermediate-range|medium-range|short-range|long-range|zero option|arms control"
        r"|disarmament|weapons?|hyunmoo|hwasong|thaad|patriot)\b"),
}
# The same round's focused part: an article whose topic object (ships, tariffs, weapon systems)
# comes with two or more words of a conflict or dispute, one of them or the object in the
# headline. Every such article is taken: these are the likeliest positives the earlier rounds'
# words missed (the broad queries draw mostly traps).
FOCUSED_QUERIES = {
    "naval_deployment": (
        re.compile(r"\b(?:carriers?|ships?|vessels?|patrol\w*|straits?|sailors?|admirals?"
                   r"|marines?|convoys?|cruisers?|battleships?|gunboats?|seas?|waters|port)\b"),
        re.compile(r"\b(?:military|war|warplanes?|armed|attack\w*|soviets?|iran\w*|iraq\w*"
                   r"|libya\w*|troops|forces|defen[cs]e|pentagon|nato)\b")),
    "sanctions": (
        re.compile(r"\b(?:tariffs?|duties|curbs?|bans?|banned|restrictions?|penalt\w+|punish\w*"
                   r"|freez\w+|frozen|pressure)\b"),
        re.compile(r"\b(?:semiconductor|chips?|retaliat\w*|south africa\w*|apartheid|libya\w*"
                   r"|iran\w*|nicaragua\w*|cuba\w*|north korea\w*|soviet|poland|reagan|congress"
                   r"|trade bill|unfair|violat\w*|pact)\b")),
    "missiles": (
        re.compile(r"\b(?:pershing|ss-20s?|stingers?|interceptors?|sdi|star wars"
                   r"|strategic defen[cs]e|arms control|nuclear arms|intermediate-range"
                   r"|medium-range|short-range|long-range|warheads?|launch\w*|fired|firing"
                   r"|artillery|shell\w*|air ?strikes?|bombers?)\b"),
        re.compile(r"\b(?:military|war|soviets?|nato|defen[cs]e|pentagon|weapons?|arms|nuclear"
                   r"|attack\w*|troops|north korea\w*|iran\w*|iraq\w*)\b")),
}
# How many articles each topic's query draws per source (a seeded sample of its matches; every
# match where there are fewer). The small and recent sources are taken whole, so the 1987 wire,
# which had most of the earlier rounds, is not the majority.
CANDIDATE2_PER_TOPIC = {"reuters21578": 60, "bbc2005": 70, "korea_en_2025": 1000,
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


def lowered(article: dict[str, Any]) -> str:
    """Headline and body, lower-cased, as every round's query searches them."""
    return f"{article['title']}\n{article['body']}".lower()


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
        if article["id"] not in chosen and CANDIDATE.search(lowered(article)):
            chosen[article["id"]] = article | {"part": "candidate"}
    ordered = sorted(chosen.values(), key=lambda a: hashlib.sha256(a["id"].encode()).hexdigest())
    return tuple(a | {"split": split_of(a["id"])} for a in ordered)


def near_sample() -> list[dict[str, Any]]:
    """Second round, tune only: near-topic articles not in the first round's sample."""
    return list(_near_sample())


@functools.cache
def _near_sample() -> tuple[dict[str, Any], ...]:
    taken = {a["id"] for a in sample()}
    strong, broad = [], []
    for article in articles():
        if article["id"] in taken:
            continue
        text = lowered(article)
        if NEAR_STRONG.search(text):
            strong.append(article | {"part": "near"})
        elif NEAR_BROAD.search(text):
            broad.append(article | {"part": "near"})
    rng = random.Random(SEED + 1)
    for name, count in NEAR_BROAD_PER_CORPUS.items():
        pool = [a for a in broad if a["corpus"] == name]
        strong += rng.sample(pool, min(count, len(pool)))
    ordered = sorted(strong, key=lambda a: hashlib.sha256(a["id"].encode()).hexdigest())
    return tuple(a | {"split": "tune"} for a in ordered)


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
    return list(_stories_sample())


@functools.cache
def _stories_sample() -> tuple[dict[str, Any], ...]:
    corpus = list(stories_articles())
    # NeuS reports are grouped by story; a BASIL 2010-14 article is taken on its own.
    group = {a["id"]: (a["story_id"] if a["corpus"] == "allsides-neus" else a["id"])
             for a in corpus}
    hit = {group[a["id"]] for a in corpus
           if STORIES_QUERY.search(lowered(a))}
    chosen = [a | {"part": "stories", "split": stories_split_of(group[a["id"]])}
              for a in corpus if group[a["id"]] in hit]
    return tuple(sorted(chosen, key=lambda a: hashlib.sha256(a["id"].encode()).hexdigest()))


def candidate2_sample() -> list[dict[str, Any]]:
    """Fourth round: per source and topic, a seeded sample of the unlabelled articles that
    topic's query finds (news-text, and BASIL 2010-14 from ../stories). Split by the id's hash,
    as the first round."""
    taken = {a["id"] for a in sample() + near_sample() + stories_sample()}
    pool = [a for a in articles() if a["id"] not in taken]
    pool += [a for a in stories_articles() if a["corpus"] == "basil" and a["id"] not in taken]
    lower = {a["id"]: lowered(a) for a in pool}
    rng = random.Random(SEED + 3)
    chosen: dict[str, dict[str, Any]] = {}
    for name, count in CANDIDATE2_PER_TOPIC.items():
        source = [a for a in pool if a["corpus"] == name]
        for query in TOPIC_QUERIES.values():
            matches = [a for a in source if a["id"] not in chosen
                       and query.search(lower[a["id"]])]
            for article in rng.sample(matches, min(count, len(matches))):
                chosen[article["id"]] = article | {"part": "candidate2"}
    for article in pool:
        if article["id"] not in chosen and _focused(article["title"].lower(), lower[article["id"]]):
            chosen[article["id"]] = article | {"part": "candidate2"}
    ordered = sorted(chosen.values(), key=lambda a: hashlib.sha256(a["id"].encode()).hexdigest())
    return [a | {"split": split_of(a["id"])} for a in ordered]


def _focused(title: str, text: str) -> bool:
    """Lower-cased headline and text; the headline test first: it is the cheapest."""
    return any((objects.search(title) or context.search(title)) and objects.search(text)
               and next(itertools.islice(context.finditer(text), 1, None), None) is not None
               for objects, context in FOCUSED_QUERIES.values())


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
    parser.add_argument("--candidate2", action="store_true",
                        help="the fourth round (per-topic keyword queries)")
    args = parser.parse_args()
    items = (near_sample() if args.near else stories_sample() if args.stories
             else candidate2_sample() if args.candidate2 else sample())
    if args.ids:
        for article in items:
            print(json.dumps({"id": article["id"], "corpus": article["corpus"],
                              "part": article["part"], "split": article["split"]}))
    if args.batches:
        write_batches(items, args.batches, args.count)


if __name__ == "__main__":
    main()

"""Generated traffic and checks shared by the fault tests."""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaAdminClient, KafkaProducer

from newsflow.broker import free_port
from newsflow.codecs import RAW
from newsflow.config import Settings
from newsflow.topics import read_back
from tests.e2e.traced_worker import PORT_VARIABLE
from tests.helpers import ManagedProcess, TopicReader, raw_record

VOCABULARY = [f"{a}{b}" for a in ("har", "mel", "tor", "ska", "vin", "dro", "pel", "qua", "lum", "zen")
              for b in ("bor", "dax", "fin", "gul", "hest", "jor", "kal", "lin", "mur", "nesk",
                        "pol", "rad", "sil", "tav", "urn", "vek", "wol", "yar", "zim", "ost")]


def article_text(rng: random.Random, words: int = 90) -> str:
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < words:
        sentence = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(8, 14)))
        sentences.append(sentence.capitalize() + ".")
    return "\n".join(" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3))


def traffic(count: int, seed: int, copies_every: int = 10,
            fetched_at: Callable[[int], str] | None = None) -> list[tuple[bytes, bytes, str]]:
    """(key, value, url) for `count` raw articles: distinct ones, plus every `copies_every`-th
    input a syndicated copy (other URL, a boilerplate line added) of an earlier one; a copy's
    URL ends in ``/<n>/of/<original n>``. ``fetched_at`` gives input n its fetch time (default:
    now)."""
    rng = random.Random(seed)
    items: list[tuple[bytes, bytes, str]] = []
    originals: list[dict[str, Any]] = []
    for n in range(count):
        if n % copies_every == copies_every - 1 and originals:
            source = rng.choice(originals)
            record = raw_record("Also Read: Weekend weather outlook\n" + source["body"],
                                url=f"https://copies.example/{seed}/{n}/of/{source['url'].split('/')[-1]}",
                                title=source["title"],
                                source_id="copies")
        else:
            record = raw_record(article_text(rng), url=f"https://wire.example/{seed}/{n}",
                                title=f"Report {seed}-{n}", source_id="wire")
            originals.append(record)
        if fetched_at is not None:
            record = record | {"fetched_at": fetched_at(n)}
        items.append((record["url"].encode(), RAW.encode(record), record["url"]))
    return items


def check_outputs(records: dict[str, list[dict[str, Any]]], urls: set[str]) -> None:
    """Nothing lost, and a consumer that drops repeated ids sees each article once."""
    article_urls = {a["url"] for a in records["articles"]}
    duplicate_urls = {d["url"] for d in records["duplicates"]}
    assert urls <= article_urls | duplicate_urls, f"lost: {sorted(urls - article_urls - duplicate_urls)[:5]}"
    assert not article_urls & duplicate_urls, "an input was decided both ways"
    seen: dict[str, dict[str, Any]] = {}
    for article in records["articles"]:
        first = seen.setdefault(article["id"], article)
        # A redelivery carries the same id and the same decision: dropping it by id loses nothing.
        assert (first["content_hash"], first["story"]["id"]) == (
            article["content_hash"], article["story"]["id"])
    assert len(seen) == len(article_urls)


def wait_for_every_input(reader: TopicReader, settings: Settings, urls: set[str], timeout: float,
                         what: str) -> dict[str, list[dict[str, Any]]]:
    """Wait until every input in ``urls`` came out; on a timeout, say where the missing ones
    stopped, so a rare loss can be told apart from a stall from its one failing run."""
    def decided(records: dict[str, list[dict[str, Any]]]) -> set[str]:
        return {a["url"] for a in records["articles"]} | {d["url"] for d in records["duplicates"]}

    try:
        return reader.wait_for(lambda records: urls <= decided(records), timeout, what)
    except AssertionError as exc:
        missing = urls - decided(reader.records)
        raise AssertionError(f"{exc}\n{where_inputs_stopped(settings, missing)}") from None


def committed_offsets(admin: KafkaAdminClient, group: str) -> dict[tuple[str, int], int]:
    """The consumer group's committed offset per (topic, partition)."""
    found = admin.list_group_offsets(group)[group]
    return {(tp.topic, tp.partition): meta.offset for tp, meta in found.items()}


def where_inputs_stopped(settings: Settings, missing: set[str]) -> str:
    """The positions of ``missing`` inputs on the raw, internal (``-prepared``) and output
    topics, and the worker group's committed offsets: a committed offset past a missing input's
    position means the worker skipped it; one before it, that the worker stalled."""
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap())
    admin = KafkaAdminClient(bootstrap_servers=settings.require_bootstrap())
    try:
        prepared_topic = f"{settings.app_id}-prepared"
        lines = [f"{len(missing)} inputs missing"]
        wanted = {b'"' + url.encode() + b'"': url for url in missing}  # quoted: whole URLs
        outputs = [settings.topic_articles, settings.topic_duplicates, settings.topic_deadletter]
        # The outputs are read again by a fresh consumer: a record there that the test's reader
        # missed is a reader (or broker) fault, not the worker's.
        for topic, partitions in ((settings.topic_raw, range(settings.topic_partitions)),
                                  (prepared_topic, range(1)),
                                  *((name, range(settings.topic_partitions)) for name in outputs)):
            found = [f"{wanted[url]}@{m.partition}:{m.offset}"
                     for m in read_back(settings, producer, topic, list(partitions), 60)
                     for url in wanted if url in (m.value or b"")]
            lines.append(f"{topic}: {sorted(found)[:10]}")
        committed = committed_offsets(admin, settings.app_id)
        lines.append("committed: " + ", ".join(
            f"{topic}[{partition}]={offset}"
            for (topic, partition), offset in sorted(committed.items())))
        return "\n".join(lines)
    finally:
        producer.close()
        admin.close()


def copy_pairs(urls: set[str], seed: int) -> list[tuple[str, str]]:
    """(copy URL, original URL) for every generated copy."""
    return [(url, f"https://wire.example/{seed}/{url.rsplit('/', 1)[-1]}")
            for url in urls if "/of/" in url]


def check_copies_grouped(records: dict[str, list[dict[str, Any]]], pairs: list[tuple[str, str]]) -> None:
    """Each copy and its original are one article, whichever of the two arrived first."""
    article_by_url = {a["url"]: a["id"] for a in records["articles"]}
    group = dict(article_by_url)
    group.update({d["url"]: d["duplicate_of"] for d in records["duplicates"]})
    article_ids = set(article_by_url.values())
    for copy_url, original_url in pairs:
        assert group[copy_url] == group[original_url], (copy_url, original_url)
        assert group[copy_url] in article_ids  # the pair points at one emitted article


class TracedWorker(ManagedProcess):
    """A worker run by tests/e2e/traced_worker.py, which reports the Python memory it holds."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.memory_port = free_port()
        super().__init__(["worker"], settings, log_path,
                         extra_env={PORT_VARIABLE: str(self.memory_port)},
                         module="tests.e2e.traced_worker")

    def traced_bytes(self) -> int:
        """Bytes of Python allocations the worker holds, after a full garbage collection."""
        return int(httpx.get(f"http://127.0.0.1:{self.memory_port}/", timeout=60).text)


def growth_per_item(samples: list[tuple[int, int]]) -> float:
    """Bytes held per item processed: the least-squares slope of (items, traced bytes)."""
    items, held = zip(*samples, strict=True)
    return statistics.linear_regression(items, held).slope


def typical_growth_per_item(samples: list[tuple[int, int]]) -> float:
    """Bytes held per item processed: the median of the slopes between consecutive samples.
    What each item leaves behind shows in every interval; a one-off allocation (a buffer or
    table resized once) shows in one, and moves a least-squares slope but not this median."""
    return statistics.median((b_held - a_held) / (b_items - a_items)
                             for (a_items, a_held), (b_items, b_held)
                             in itertools.pairwise(samples))


def lowest_growth_per_item(samples: list[tuple[int, int]]) -> float:
    """Bytes held per item processed, between the lowest sample of the first half and the
    lowest of the second half (the middle one of an odd count is in neither). A buffer in use at
    the moment of a sample only ever adds to it, and comes and goes between samples; what each
    item leaves behind is in every later sample, the lowest included."""
    half = len(samples) // 2
    first = min(samples[:half], key=lambda sample: sample[1])
    last = min(samples[-half:], key=lambda sample: sample[1])
    return (last[1] - first[1]) / (last[0] - first[0])


def describe(samples: list[tuple[int, int]]) -> str:
    return ", ".join(f"{items}: {held / 1024:.0f} KiB" for items, held in samples)

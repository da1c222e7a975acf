"""Generated traffic and checks shared by the fault tests."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from newsflow.codecs import RAW
from tests.helpers import raw_record

VOCABULARY = [f"{a}{b}" for a in ("har", "mel", "tor", "ska", "vin", "dro", "pel", "qua", "lum", "zen")
              for b in ("bor", "dax", "fin", "gul", "hest", "jor", "kal", "lin", "mur", "nesk",
                        "pol", "rad", "sil", "tav", "urn", "vek", "wol", "yar", "zim", "ost")]


def article_text(rng: random.Random, words: int = 90) -> str:
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        sentence = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(8, 14)))
        sentences.append(sentence.capitalize() + ".")
    return "\n".join(" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3))


def traffic(count: int, seed: int, copies_every: int = 10) -> list[tuple[bytes, bytes, str]]:
    """(key, value, url) for `count` raw articles: distinct ones, plus every `copies_every`-th
    input a syndicated copy (other URL, a boilerplate line added) of an earlier one; a copy's
    URL ends in ``/<n>/of/<original n>``."""
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


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")

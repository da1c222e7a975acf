"""What the fetcher makes of odd inputs from the wild: charset labels, undeclared code pages,
BOMs, epoch dates, sitemap indexes without dates, directory files being written, bad lines of
a .jsonl file, a YAML typo in the sources file. Small inputs written here, pure functions."""

from __future__ import annotations

import asyncio
import codecs
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsflow.config import Settings
from newsflow.core.pipeline import Origin
from newsflow.errors import BadRecord, SourcesFileError
from newsflow.fetcher.content import decode, detect_charset
from newsflow.fetcher.decoding import decode_file_bytes
from newsflow.fetcher.directory import (
    MAX_DEPTH,
    FileRead,
    FileSignature,
    LeftSettling,
    Rejected,
    read_directory,
    settle_wait,
)
from newsflow.fetcher.feeds import parse_feed
from newsflow.fetcher.http import Response
from newsflow.fetcher.jsonapi import json_date, parse_json_items
from newsflow.fetcher.sitemap_walk import SitemapWalk
from newsflow.fetcher.sitemaps import parse_sitemap
from newsflow.fetcher.sources import SourceConfig, load_sources
from newsflow.fetcher.state import StateChange
from newsflow.pipeline_setup import build_pipeline

FILE_CAP = 5_000_000  # NEWSFLOW_FETCH_MAX_BYTES's default

pytestmark = pytest.mark.clock  # the fetcher's modules read the clock (none of these tests do)

UNUSABLE_LABELS = ["zip", "hex", "base64", "uu", "rot13", "bz2", "idna", "undefined", "utf-7",
                   "unicode-1-1-utf-7", "punycode", "unicode_escape", "no-such-charset",
                   # EBCDIC: no web encoding; on a page read as ASCII it gave garbage or "binary"
                   "cp500", "cp037", "ebcdic-cp-us", "cp1026", "cp273", "ibm1140"]


@pytest.mark.parametrize("label", UNUSABLE_LABELS)
def test_an_unusable_charset_label_counts_as_none(label: str) -> None:
    """`charset=zip` once made the whole poll fail with LookupError; the label is ignored and
    the page decoded as if nothing were declared."""
    page = "<html><p>Grüße aus Köln — “quoted”</p></html>".encode()
    charset = detect_charset(page, f"text/html; charset={label}")
    assert charset == detect_charset(page, "text/html") == "utf-8"
    assert "Grüße aus Köln" in decode(page, charset)
    meta = f'<html><head><meta charset="{label}"></head><p>Grüße</p></html>'.encode()
    assert detect_charset(meta, "text/html") == "utf-8"
    decoded = decode_file_bytes(meta, html=True)
    assert "Grüße" in decoded.text and decoded.how == "utf-8"


SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://news.example.com/archive-2023-01.xml</loc><lastmod>2023-01-31</lastmod></sitemap>
<sitemap><loc>https://news.example.com/archive-2023-03.xml</loc><lastmod>2023-03-31</lastmod></sitemap>
<sitemap><loc>https://news.example.com/news-sitemap.xml</loc></sitemap>
<sitemap><loc>https://news.example.com/archive-2023-02.xml</loc><lastmod>2023-02-28</lastmod></sitemap>
</sitemapindex>"""


def test_sitemap_children_without_lastmod_come_first() -> None:
    """The constantly regenerated news child usually has no <lastmod>: read before archives."""
    assert parse_sitemap(SITEMAP_INDEX, "https://news.example.com/").children == [
        "https://news.example.com/news-sitemap.xml",
        "https://news.example.com/archive-2023-03.xml",
        "https://news.example.com/archive-2023-02.xml",
        "https://news.example.com/archive-2023-01.xml"]


def test_a_sitemap_budget_still_reads_the_undated_news_child() -> None:
    asked: list[str] = []

    async def fetch(url: str) -> tuple[Response | None, list[StateChange]]:
        asked.append(url)
        urlset = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
                  + url.encode() + b"#a</loc></url></urlset>")
        return _response(url, urlset), []

    walk = SitemapWalk(fetch, 1 << 20, max_depth=3, budget=2)
    asyncio.run(walk.run(_response("https://news.example.com/index.xml", SITEMAP_INDEX), []))
    assert asked == ["https://news.example.com/news-sitemap.xml",
                     "https://news.example.com/archive-2023-03.xml"]
    assert walk.over_budget == 2


def _response(url: str, content: bytes, content_type: str = "application/xml") -> Response:
    return Response(url, 200, content, content_type.split(";")[0], "utf-8", None, None,
                    content_type_header=content_type)


def _inbox(tmp_path: Path) -> SourceConfig:
    return SourceConfig(id="inbox", name="Inbox", kind="directory", path=tmp_path)


def test_a_bad_jsonl_line_is_rejected_alone_with_its_line_number(tmp_path: Path) -> None:
    lines = [json.dumps({"id": "j1", "body": "First."}), json.dumps({"id": "j2", "title": "x"}),
             "{not json", "", json.dumps(["a", "list"]), json.dumps({"id": "j6", "body": "Last."})]
    (tmp_path / "batch.jsonl").write_text("\n".join(lines) + "\n")
    items = [item for _, item in read_directory(_inbox(tmp_path), max_bytes=FILE_CAP)]
    assert [i["id"] for i in items if isinstance(i, dict)] == ["j1", "j6"]
    rejected = [i for i in items if isinstance(i, Rejected)]
    path = tmp_path / "batch.jsonl"
    assert [(r.url.rsplit("#", 1)[1], type(r.error)) for r in rejected] == [
        ("L2", BadRecord), ("L3", BadRecord), ("L5", BadRecord)]
    assert rejected[0].detail == f"{path}:2: a JSON record needs a string 'body'"
    assert rejected[1].detail.startswith(f"{path}:3: not JSON")
    assert rejected[2].detail == f"{path}:5: a JSON record must be an object, not list"
    assert rejected[1].data == b"{not json"  # the line's own bytes go to the dead letter
    assert str(path) not in rejected[0].detail.split(":2:", 1)[1]  # the path said once


def test_jsonl_lines_without_a_url_are_known_by_their_line_not_as_copies_of_the_first(
        tmp_path: Path) -> None:
    """With the file's address for each, the worker took lines 2 and 3 for exact duplicates
    of line 1 (same canonical URL): two different stories never came out."""
    stories = ["Storm warning issued for the coast tonight.", "Teachers agree a new pay deal.",
               "Hospital names a new director."]
    lines = [json.dumps({"title": f"Story {n}", "body": body}) for n, body in enumerate(stories)]
    lines.append(json.dumps({"url": "https://wire.example/own", "body": "Has its own address."}))
    (tmp_path / "wire.jsonl").write_text("\n".join(lines) + "\n")
    items = [item for _, item in read_directory(_inbox(tmp_path), max_bytes=FILE_CAP)
             if isinstance(item, dict)]
    file_url = (tmp_path / "wire.jsonl").as_uri()
    assert [i["url"] for i in items] == [
        f"{file_url}#L1", f"{file_url}#L2", f"{file_url}#L3", "https://wire.example/own"]
    pipeline = build_pipeline(Settings())
    index = pipeline.new_index()
    topics = []
    for n, item in enumerate(items):
        prepared = pipeline.prepare(item, Origin("t", 0, n), datetime(2026, 2, 11, tzinfo=UTC))
        topics += [e.topic for e in pipeline.decide(prepared, index)[1]]
    assert topics.count("articles") == 4 and "duplicates" not in topics


def test_files_still_being_written_wait_for_the_next_poll(tmp_path: Path) -> None:
    now = time.time()
    for name, age in (("old.txt", 60.0), ("fresh.txt", 0.5), ("future.txt", -3600.0)):
        (tmp_path / name).write_text(f"{name}\nBody of {name}.")
        os.utime(tmp_path / name, (now - age, now - age))
    for name in (".hidden.txt", "copying.txt.part", "x.tmp", "draft.txt~", "y.txt.tmp"):
        (tmp_path / name).write_text("Half a\nstory")
    def titles(settle: float) -> list[str]:
        return sorted(str(item["title"]) for _, item in read_directory(
            _inbox(tmp_path), max_bytes=FILE_CAP, settle_seconds=settle, now=now)
            if isinstance(item, dict))
    assert titles(2.0) == ["future.txt", "old.txt"]
    assert titles(0.0) == ["fresh.txt", "future.txt", "old.txt"]  # the next poll, settled

    def left(settle: float) -> list[object]:
        return [item for _, item in read_directory(_inbox(tmp_path), max_bytes=FILE_CAP,
                                                   settle_seconds=settle, now=now)
                if isinstance(item, LeftSettling)]
    # Counted last, so that `fetch --once` can say what it left for the next run.
    assert left(2.0) == [LeftSettling(1)] and left(0.0) == []


def test_the_run_summary_says_what_it_left_for_the_next_run() -> None:
    from newsflow.fetcher.service import RunSummary

    left = RunSummary(published=1, failed_sources=[], dropped=[], rejected=[], deferred=2)
    assert left.ok
    assert left.line() == ("published 1 raw articles; no failures; 2 left for the next run "
                           "(beyond max_items, or files maybe still being written)")
    assert RunSummary(published=1, failed_sources=[], dropped=[], rejected=[]).line() \
        == "published 1 raw articles; no failures"


def test_a_long_first_error_in_the_summary_is_shortened_visibly() -> None:
    # Cut at 160 characters without a mark, "keys of the first item: uid, linkz" read as "link".
    from newsflow.fetcher.service import RunSummary

    error = "api: none has a web address (keys of the first item: " + "x" * 200 + ", linkz)"
    line = RunSummary(published=0, failed_sources=[error], dropped=[], rejected=[]).line()
    assert line.endswith("1 sources failed: " + error[:159] + "…")
    short = RunSummary(published=0, failed_sources=["api: HTTP 404"], dropped=[], rejected=[])
    assert short.line().endswith("1 sources failed: api: HTTP 404")


def test_sub_folders_are_read_to_a_bounded_depth(tmp_path: Path) -> None:
    (tmp_path / "top.txt").write_text("Top\nStory.")
    deep = tmp_path
    for level in range(1, MAX_DEPTH + 2):
        deep = deep / f"level{level}"
        deep.mkdir()
        (deep / f"story{level}.txt").write_text(f"Level {level}\nStory.")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "notes.txt").write_text("Not\nan article.")
    titles = [item["title"] for _, item in read_directory(_inbox(tmp_path), max_bytes=FILE_CAP)
              if isinstance(item, dict)]
    assert sorted(titles) == [f"Level {n}" for n in range(1, MAX_DEPTH + 1)] + ["Top"]


JSON_FEED = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Journal",
                        "items": [{"id": "1", "url": "https://journal.example/a",
                                   "title": "Café reopens"}]}).encode()
RSS = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title><item>'
       b"<title>Wire</title><link>https://wire.example/a</link></item></channel></rss>")


@pytest.mark.parametrize(("document", "content_type", "kind"), [
    (codecs.BOM_UTF8 + JSON_FEED, None, None),
    (codecs.BOM_UTF8 + b"\r\n  " + JSON_FEED, "text/plain", None),
    (b"\n" + JSON_FEED, "application/feed+json; charset=utf-8", None),
    (codecs.BOM_UTF8 + JSON_FEED, None, "jsonfeed"),
])
def test_a_json_feed_with_a_bom_is_read_as_json(document: bytes, content_type: str | None,
                                                kind: str | None) -> None:
    entries = parse_feed(document, "https://journal.example/feed.json", content_type, kind)
    assert [(e.url, e.title) for e in entries] == [("https://journal.example/a", "Café reopens")]


def test_an_xml_feed_served_as_json_is_still_xml() -> None:
    entries = parse_feed(RSS, "https://wire.example/feed", "application/json")
    assert [e.url for e in entries] == ["https://wire.example/a"]


NEWS_URLSET = """<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url>
<loc>https://fr.example/greve</loc><news:news><news:title>Grève à Paris : les cafés fermés</news:title>
<news:publication_date>2024-05-06T10:00:00Z</news:publication_date></news:news></url></urlset>"""


def test_a_sitemap_without_a_declaration_is_read_in_the_http_charset() -> None:
    async def fetch(url: str) -> tuple[Response | None, list[StateChange]]:
        raise AssertionError(url)

    walk = SitemapWalk(fetch, 1 << 20, max_depth=3, budget=10)
    root = _response("https://fr.example/news.xml", NEWS_URLSET.encode("iso-8859-1"),
                     "application/xml; charset=iso-8859-1")
    asyncio.run(walk.run(root, []))
    assert [e.title for e in walk.entries] == ["Grève à Paris : les cafés fermés"]


def test_a_sitemap_declaring_its_encoding_keeps_it() -> None:
    declared = ('<?xml version="1.0" encoding="UTF-8"?>' + NEWS_URLSET).encode()
    sitemap = parse_sitemap(declared, "https://fr.example/", "text/xml; charset=iso-8859-1")
    assert [e.title for e in sitemap.entries] == ["Grève à Paris : les cafés fermés"]
    bogus = parse_sitemap(NEWS_URLSET.encode(), "https://fr.example/", "text/xml; charset=zip")
    assert [e.title for e in bogus.entries] == ["Grève à Paris : les cafés fermés"]
    # UTF-8 bytes undeclared, an old server's default ISO-8859-1 header: UTF-8 is what they are.
    utf8 = parse_sitemap(NEWS_URLSET.encode(), "https://fr.example/", "text/xml; charset=ISO-8859-1")
    assert [e.title for e in utf8.entries] == ["Grève à Paris : les cafés fermés"]


def _api(**options: object) -> SourceConfig:
    return SourceConfig.model_validate({"id": "api", "name": "API", "kind": "json",
                                        "url": "https://api.example/v1", **options})


@pytest.mark.parametrize(("published", "expected"), [
    (1714989600, "2024-05-06T10:00:00Z"),  # seconds
    (1714989600.75, "2024-05-06T10:00:00Z"),
    (1714989600123, "2024-05-06T10:00:00Z"),  # milliseconds
    ("2024-05-06T12:00:00+02:00", "2024-05-06T10:00:00Z"),
    (True, None), (0, None), (10**30, None), (float("nan"), None), ("soon", None),
])
def test_json_api_dates_as_unix_time(published: object, expected: str | None) -> None:
    answer = json.dumps({"results": [{"link": "/a", "published": published}]}).encode()
    source = _api(items_path="results", fields={"url": "link", "published_at": "published"})
    [entry] = parse_json_items(answer, source, "https://api.example/v1")
    assert entry.published_at == expected
    assert json_date(published) == expected


def test_json_api_items_without_a_url_at_the_mapped_path_are_an_error() -> None:
    answer = json.dumps({"data": {"results": [{"id": n, "links": {"web": f"/s{n}"},
                                               "headline": "H"} for n in range(3)]}}).encode()
    source = _api(items_path="data.results", fields={"url": "link.web"})
    with pytest.raises(ValueError) as error:
        parse_json_items(answer, source, "https://api.example/v1")
    assert str(error.value) == ("3 items at items_path 'data.results', none has a web address at "
                                "fields.url 'link.web' (keys of the first item: id, links, "
                                "headline)")
    right = _api(items_path="data.results", fields={"url": "links.web"})
    assert len(parse_json_items(answer, right, "https://api.example/v1")) == 3
    empty = json.dumps({"data": {"results": []}}).encode()
    assert parse_json_items(empty, source, "https://api.example/v1") == []  # a quiet source


WESTERN = ["Café owners strike\nThe café owners went on strike on Monday over rents.\n",
           "Björk to tour\nIcelandic singer Björk announced a world tour on Monday.\n",
           "Señor García wins\nJosé García won the election in Málaga on Sunday.\n",
           "Strike in München\nWorkers in München went on strike.\n",
           "Prices up 5°C\nTemperatures rose by 5° on Monday — the “highest” since 1990.\n",
           "¿Qué pasó?\nEl señor dijo: ¡Sí! Las elecciones en Málaga.\n",
           "Eleições\nAs eleições põem em causa a decisão do governo.\n",
           "København\nKøbenhavns borgmester går af, siger partiet.\n",
           "Così è\nCosì è più facile, perché no, disse il sindaco.\n",
           "L’exposició\nLa col·lecció d’art s’obre al públic dilluns.\n"]
OTHER_SCRIPTS = [
    ("Правительство объявило о новых санкциях против банков и о мерах поддержки.", "cp1251"),
    ("東京の天気は晴れです。政府は新しい政策を発表した。今日はとても暑い。", "shift_jis"),
    ("Η κυβέρνηση ανακοίνωσε νέα μέτρα για την οικονομία και τις τράπεζες.", "cp1253"),
    ("รัฐบาลประกาศมาตรการใหม่สำหรับเศรษฐกิจ", "cp874"),
    ("Vláda oznámila nová opatření. Příliš žluťoučký kůň úpěl ďábelské ódy.", "cp1250"),
    # Latin text of other code pages also decodes as windows-1252, into misread signs: a
    # symbol inside a word (Polish), Icelandic letters (Turkish), ø beside grave accents
    # (Czech without ť), õ/û beside ö/ü (Hungarian).
    ("Rząd przyjął nową ustawę. Może jutro.", "cp1250"),
    ("Rząd zapowiada nowe sankcje", "cp1250"),  # ą as ¹, which Python counts as a digit
    ("Rząd w Warszawie zapowiedział", "cp1250"),
    ("Türkiye'de başkan seçimi yapıldı. Oyların sayımı sürüyor.", "cp1254"),
    ("Řeč předsedy vlády v pondělí.", "cp1250"),
    ("A hősök tere ünnepi műsor.", "cp1250"),
]


@pytest.mark.parametrize("text", WESTERN)
def test_undeclared_short_western_text_is_windows_1252(text: str) -> None:
    """charset-normalizer alone read these as cp775, HP Roman-8 or cp1250 ("Seńor")."""
    data = text.encode("cp1252")
    decoded = decode_file_bytes(data, html=False)
    assert (decoded.text, decoded.encoding) == (text, "cp1252")
    page = b"<html><body><p>" + data + b"</p></body></html>"
    assert detect_charset(page, "text/html") == "cp1252"


@pytest.mark.parametrize(("text", "encoding"), OTHER_SCRIPTS)
def test_undeclared_text_in_other_code_pages_is_not_taken_for_windows_1252(
        text: str, encoding: str) -> None:
    data = text.encode(encoding)
    assert decode_file_bytes(data, html=False).text == text
    assert data.decode(detect_charset(data, "text/html")) == text


@pytest.mark.parametrize(("text", "where", "problem"), [
    ('sources:\n  - {id: wire, name: Wire, kind: rss, url: "https://w.example/f"\n', ":3:1: ",
     "expected ',' or '}', but got '<stream end>' (while parsing a flow mapping at line 2, "
     "column 5)"),
    ('sources:\n  - {id: wire, name: Wire, kind: rss, url: "https://w.example/f"}\n\tbad: 1\n',
     ":3:1: ", "found character '\\t' that cannot start any token"),
    # A key given twice: PyYAML kept the last, and the first source's url was lost unsaid.
    ('sources:\n  - id: wire\n    name: Wire\n    kind: rss\n    url: "https://w.example/f"\n'
     '    url: "https://w.example/g"\n', ":6:5: ",
     "found duplicate key 'url' (while constructing a mapping at line 2, column 5)"),
])
def test_a_yaml_syntax_error_is_one_line_with_file_line_and_column(
        tmp_path: Path, text: str, where: str, problem: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    with pytest.raises(SourcesFileError) as error:
        load_sources(path)
    assert str(error.value) == f"{path}{where}not valid YAML: {problem}"


@pytest.mark.parametrize(("data", "problem"), [
    ("sources: [{id: caf\u00e9}]\n".encode("latin-1"), "cannot read sources file: not UTF-8: "),
    (b"sources: " + b"[" * 20_000 + b"]" * 20_000 + b"\n",
     "cannot read sources file: nested too deeply"),
])
def test_a_sources_file_that_cannot_be_read_is_one_line_naming_it(
        tmp_path: Path, data: bytes, problem: str) -> None:
    # The same reader as a taxonomy overlay's (yaml_files.read_yaml).
    path = tmp_path / "sources.yaml"
    path.write_bytes(data)
    with pytest.raises(SourcesFileError) as error:
        load_sources(path)
    assert str(error.value).startswith(f"{path}: {problem}"), str(error.value)


def test_a_sources_file_that_is_not_a_regular_file_is_refused_in_one_line(
        tmp_path: Path) -> None:
    # /dev/zero was read until memory ran out; /dev/null read as an empty document.
    with pytest.raises(SourcesFileError) as device:
        load_sources(Path("/dev/null"))
    assert str(device.value) == (
        "/dev/null: cannot read sources file: not a regular file (a device)")
    with pytest.raises(SourcesFileError) as folder:
        load_sources(tmp_path)
    assert str(folder.value) == (
        f"{tmp_path}: cannot read sources file: not a regular file (a directory)")


def test_jsonl_records_sniff_html_documents_and_keep_unicode_line_separators(
        tmp_path: Path) -> None:
    lines = [
        {"id": "page", "body": "<html><head><title>Cranes</title></head><body><p>x</p></body>"},
        {"id": "wire", "body": "<BP> British Petroleum said profits rose."},
        {"id": "typed", "body": "<p>Typed</p>", "content_type": "text/html"},
        {"id": "sep", "body": "One paragraph.\u2028Still the same record."},
    ]
    (tmp_path / "batch.jsonl").write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    items = {item["id"]: item
             for _, item in read_directory(_inbox(tmp_path), max_bytes=FILE_CAP)
             if isinstance(item, dict)}
    assert {key: item["content_type"] for key, item in items.items()} == {
        "page": "text/html", "wire": "text/plain", "typed": "text/html", "sep": "text/plain"}
    assert items["sep"]["body"] == "One paragraph.\u2028Still the same record."


def test_a_jsonl_line_no_record_can_be_made_of_is_rejected_alone(tmp_path: Path) -> None:
    lines = ['{"id": "a", "body": "First."}', '{"id": "b", "body": "Bad \\udc80 escape."}',
             '{"id": "c", "body": "Port.", "url": "http://x.example:99999/a"}',
             '{"id": "d", "body": "Last."}']
    (tmp_path / "batch.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = [item for _, item in read_directory(_inbox(tmp_path), max_bytes=FILE_CAP)]
    assert [i["id"] for i in items if isinstance(i, dict)] == ["a", "d"]  # the rest still read
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [r.url.rsplit("#", 1)[1] for r in rejected] == ["L2", "L3"]
    assert all(isinstance(r.error, BadRecord) for r in rejected)


def test_the_settle_wait_ignores_a_file_dated_in_the_future(tmp_path: Path) -> None:
    now = time.time()
    for name, age in (("old.txt", 60.0), ("skewed.txt", -3600.0), ("copying.txt", 0.5)):
        (tmp_path / name).write_text("Title\nBody.")
        os.utime(tmp_path / name, (now - age, now - age))
    assert settle_wait(tmp_path, 2.0, now) == pytest.approx(1.5)  # the copy, not the skewed one
    (tmp_path / "copying.txt").unlink()
    assert settle_wait(tmp_path, 2.0, now) == 0.0


def test_a_file_unchanged_since_it_was_read_is_not_read_again(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("First headline\nA paragraph.\n")
    (tmp_path / "b.txt").write_text("Second headline\nA paragraph.\n")
    first = list(read_directory(_inbox(tmp_path), max_bytes=FILE_CAP))
    read = {path: item.signature for path, item in first if isinstance(item, FileRead)}
    assert sorted(p.name for p in read) == ["a.txt", "b.txt"]

    def read_before(path: Path, signature: FileSignature) -> bool:
        return read.get(path) == signature

    assert not any(isinstance(item, FileRead) and item.unchanged for _, item in first)
    with (tmp_path / "b.txt").open("a") as file:
        file.write("A second paragraph.\n")
    again = list(read_directory(_inbox(tmp_path), max_bytes=FILE_CAP,
                                read_before=read_before))
    assert [(p.name, type(item).__name__, getattr(item, "unchanged", None))
            for p, item in again] == [("a.txt", "FileRead", True),
                                      ("b.txt", "dict", None), ("b.txt", "FileRead", False)]
    (tmp_path / "a.txt").unlink()
    (tmp_path / "a.txt").write_text("Other headline\nA longer paragraph.\n")  # same name
    titles = [item["title"] for _, item in read_directory(_inbox(tmp_path), max_bytes=FILE_CAP,
                                                          read_before=read_before)
              if isinstance(item, dict)]
    assert titles == ["Other headline", "Second headline"]


def test_an_article_file_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "huge.txt").write_text("Headline\n" + "word " * 3_000)
    (tmp_path / "fine.txt").write_text("Headline\nA paragraph.\n")
    items = [item for _, item in read_directory(_inbox(tmp_path), max_bytes=10_000)
             if not isinstance(item, FileRead)]
    assert isinstance(items[0], dict) and items[0]["title"] == "Headline"  # fine.txt
    refused = items[1]
    assert isinstance(refused, Rejected) and refused.reason == "too large"
    assert "15009 bytes, over the 10000-byte cap" in refused.detail and refused.data == b""


def test_a_utf16_charset_declared_in_ascii_bytes_is_read_as_utf8() -> None:
    page = '<html><head><meta charset="utf-16"></head><body><p>Café crème</p></body></html>'
    data = page.encode("utf-8")
    assert decode_file_bytes(data, html=True).text == page
    assert detect_charset(data, None) == "utf-8"
    xml = b'<?xml version="1.0" encoding="UTF-16"?><rss><title>News</title></rss>'
    assert detect_charset(xml, None) == "utf-8"


@pytest.mark.parametrize(("entry", "problem"), [
    ('url: "http://[::1/feed"', "no address a request can be made to: Invalid IPv6 URL"),
    ('url: "http://127.0.0.1:99999/feed"',
     "no address a request can be made to: Port out of range 0-65535"),
    ('url: "http:///feed"', "no address a request can be made to: no host"),
    ('url: "https://w.example/f", headers: {"Bad Header": x}', "'Bad Header' is not an HTTP token"),
    ('url: "https://w.example/f", headers: {X-A: "a\\r\\nInjected: 1"}',
     "must be printable ASCII on one line"),
    ('url: "https://w.example/f", headers: {X-A: "caf\u00e9"}',
     "must be printable ASCII on one line"),
])
def test_a_url_or_header_no_request_can_carry_fails_the_start_naming_the_source(
        tmp_path: Path, entry: str, problem: str) -> None:
    """Each once passed the start and failed every poll instead (the header ones as connect
    errors, retried)."""
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  - {{id: wire, name: Wire, kind: rss, {entry}}}\n",
                    encoding="utf-8")
    with pytest.raises(SourcesFileError, match="wire") as error:
        load_sources(path)
    assert problem in str(error.value), str(error.value)


def test_header_values_lose_the_spaces_around_them() -> None:
    source = SourceConfig(id="a", name="A", kind="rss", url="https://w.example/f",
                          headers={"Authorization": " Bearer a.b\tc ", "X-Empty": ""})
    assert source.headers == {"Authorization": "Bearer a.b\tc", "X-Empty": ""}

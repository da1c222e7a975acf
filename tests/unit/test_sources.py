from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsflow.errors import BadRecord, SourcesFileError
from newsflow.fetcher.directory import FileRead, Rejected, read_directory
from newsflow.fetcher.sources import load_sources
from newsflow.records import validate

FILE_CAP = 5_000_000  # NEWSFLOW_FETCH_MAX_BYTES's default

pytestmark = pytest.mark.clock


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_valid_file_resolves_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    sources = load_sources(write(tmp_path, """
sources:
  - {id: wire, name: Wire, kind: rss, url: "https://example.org/feed.xml"}
  - {id: inbox, name: Inbox, kind: directory, path: inbox}
"""))
    assert [s.id for s in sources] == ["wire", "inbox"]
    assert sources[1].path == (tmp_path / "inbox").resolve()


@pytest.mark.parametrize(("text", "expected"), [
    ("sources:\n  - {id: a, name: A, kind: rss}\n", "source a: .*url"),
    ("sources:\n  - {id: b, name: B, kind: directory}\n", "source b: .*path"),
    ("sources:\n  - {id: c, name: C, kind: gopher, url: 'http://x'}\n", "source c: kind"),
    ("sources:\n  - {id: d, name: D, kind: rss, url: 'http://x', colour: red}\n",
     "source d: colour"),
    ("sources:\n  - {id: e, name: E, kind: rss, url: 'http://x', poll_interval_seconds: -1}\n",
     "source e: poll_interval_seconds"),
    ("nothing: here\n", "top-level 'sources' list"),
    # Refused at start, not by every poll's request (httpx: InvalidURL); nor a traceback.
    ("sources:\n  - {id: t, name: T, kind: rss, url: \"https://x.example/fe\\ted\"}\n",
     "source t: .*holds a control character U\\+0009"),
    ("sources:\n  - {id: s, name: S, kind: rss, url: 'https://x.example/a feed'}\n",
     "source s: .*holds a space"),
    ("sources:\n  - {id: n, name: N, kind: directory, path: \"in\\0box\"}\n",
     "source n: .*holds a NUL character"),
])
def test_invalid_files_name_the_source_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SourcesFileError, match=expected):
        load_sources(write(tmp_path, text))


def test_directory_yields_records_and_reports_bad_files(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.txt").write_text("Headline here\nFirst paragraph.\nSecond paragraph.\n")
    (inbox / "b.json").write_text("{broken")
    (inbox / "c.bin").write_bytes(b"\x00")
    sources = load_sources(write(tmp_path, "sources:\n  - {id: i, name: I, kind: directory, "
                                           "path: inbox}\n"))
    results = [r for r in read_directory(sources[0], max_bytes=FILE_CAP)
               if not isinstance(r[1], FileRead)]
    assert len(results) == 2
    record = results[0][1]
    assert isinstance(record, dict)
    assert record["title"] == "Headline here"
    assert record["body"] == "First paragraph.\nSecond paragraph."
    bad = results[1][1]  # a JSON record that is not one is dead-lettered, with its bytes
    assert isinstance(bad, Rejected) and isinstance(bad.error, BadRecord)
    assert "b.json: not JSON" in bad.detail and bad.data == b"{broken"


def test_directory_json_dates_are_normalised_to_the_schema(tmp_path: Path) -> None:
    """An RFC 2822 or free-form date in a file is published as RFC 3339 UTC, so the article
    passes the raw-article schema instead of being dead-lettered for its date."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.jsonl").write_text(
        '{"body": "Ferries sail again.", "published_at": "Tue, 19 Nov 2019 19:47:00 -0500"}\n'
        '{"body": "Cranes resume.", "published_at": "November 19, 2019, 07:47 PM EST", '
        '"fetched_at": "Wed, 20 Nov 2019 08:00:00 GMT"}\n'
        '{"body": "Tides high.", "published_at": "last Tuesday"}\n')
    sources = load_sources(write(tmp_path, "sources:\n  - {id: i, name: I, kind: directory, "
                                           "path: inbox}\n"))
    results = [result for _, result in read_directory(sources[0], max_bytes=FILE_CAP)
               if not isinstance(result, FileRead)]
    records = [result for result in results if isinstance(result, dict)]
    assert len(records) == len(results)  # every line read as a record, none rejected
    assert [r["published_at"] for r in records] == [
        "2019-11-20T00:47:00Z", "2019-11-20T00:47:00Z", None]
    assert records[1]["fetched_at"] == "2019-11-20T08:00:00Z"
    for record in records:
        validate("raw-article", record)


def test_every_kind_and_its_options(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    sources = load_sources(write(tmp_path, """
sources:
  - {id: r, name: R, kind: rss, url: "https://x.example/rss", respect_robots: false}
  - {id: a, name: A, kind: atom, url: "https://x.example/atom"}
  - {id: d, name: D, kind: rdf, url: "https://x.example/rdf"}
  - {id: j, name: J, kind: jsonfeed, url: "https://x.example/feed.json"}
  - {id: s, name: S, kind: sitemap, url: "https://x.example/news-sitemap.xml", max_sitemaps: 3,
     max_sitemap_depth: 2}
  - {id: h, name: H, kind: html, url: "https://x.example/world/", link_pattern: "/20[0-9]{2}/"}
  - {id: api, name: API, kind: json, url: "https://api.x.example/v1", items_path: data.items,
     fields: {url: links.web, title: headline, body: text}}
  - {id: i, name: I, kind: directory, path: inbox, enabled: false}
"""))
    by_id = {s.id: s for s in sources}
    assert not by_id["r"].respect_robots and by_id["a"].respect_robots
    assert by_id["api"].field_path("url") == "links.web" and by_id["api"].field_path("guid") == "guid"
    assert by_id["s"].max_sitemaps == 3 and not by_id["i"].enabled
    assert by_id["s"].max_sitemap_depth == 2 and by_id["a"].max_sitemap_depth == 3


@pytest.mark.parametrize(("text", "expected"), [
    ("sources:\n  - {id: h, name: H, kind: html, url: 'https://x', link_pattern: '(['}\n",
     "source h: .*link_pattern"),
    ("sources:\n  - {id: j, name: J, kind: json, url: 'https://x', fields: {colour: c}}\n",
     "source j: fields: .*unknown keys"),
    ("sources:\n  - {id: f, name: F, kind: rss, url: 'file:///etc/passwd'}\n", "source f: .*url"),
    ("sources:\n  - {id: s, name: S, kind: sitemap, url: 'https://x', max_sitemap_depth: 9}\n",
     "source s: max_sitemap_depth"),
    # A field another kind reads was silently ignored (a copied entry, a mistyped kind).
    ("sources:\n  - {id: w, name: W, kind: rss, url: 'https://x', path: inbox}\n",
     "source w: .*'path' is not read for kind 'rss' \\(only for directory\\)"),
    ("sources:\n  - {id: d, name: D, kind: directory, path: in, respect_robots: false}\n",
     "source d: .*'respect_robots' is not read for kind 'directory'"),
    ("sources:\n  - {id: r, name: R, kind: rss, url: 'https://x', link_pattern: '/news/'}\n",
     "source r: .*'link_pattern' is not read for kind 'rss' \\(only for html\\)"),
    ("sources:\n  - {id: a, name: A, kind: atom, url: 'https://x', max_sitemaps: 3}\n",
     "source a: .*'max_sitemaps' is not read for kind 'atom' \\(only for sitemap\\)"),
])
def test_invalid_kind_options_name_the_source_and_field(tmp_path: Path, text: str,
                                                        expected: str) -> None:
    with pytest.raises(SourcesFileError, match=expected):
        load_sources(write(tmp_path, text))


def test_a_url_written_loosely_is_kept_as_its_address(tmp_path: Path) -> None:
    sources = load_sources(write(tmp_path, """
sources:
  - {id: caps, name: Caps, kind: rss, url: "HTTPS://News.example/feed.xml"}
  - {id: spaced, name: Spaced, kind: atom, url: "  https://news.example/atom  "}
"""))
    assert [s.url for s in sources] == ["https://News.example/feed.xml",
                                        "https://news.example/atom"]


def test_a_json_item_whose_text_names_a_tag_is_plain_text(tmp_path: Path) -> None:
    # Without a content_type it was sniffed as HTML (a <head> tag anywhere in it), and the
    # worker found no article in it.
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    story = "Engineers said pages should keep scripts out of the <head> section."
    page = "<!DOCTYPE html><html><body><p>Saved page.</p></body></html>"
    (inbox / "a.jsonl").write_text(json.dumps({"body": story}) + "\n"
                                   + json.dumps({"body": page}) + "\n")
    sources = load_sources(write(tmp_path, "sources:\n  - {id: i, name: I, kind: directory, "
                                           "path: inbox}\n"))
    records = [r[1] for r in read_directory(sources[0], max_bytes=FILE_CAP)
               if isinstance(r[1], dict)]
    assert [r["content_type"] for r in records] == ["text/plain", "text/html"]


def test_json_python_cannot_read_costs_its_line_only(tmp_path: Path) -> None:
    # A 5,000-digit number (ValueError) or nesting past Python's stack (RecursionError)
    # escaped the reader: the file's later lines, and every later file, were never read.
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.jsonl").write_text(json.dumps({"body": "one"}) + "\n"
                                   + '{"body": "x", "n": ' + "7" * 5000 + "}\n"
                                   + "[" * 100_000 + "]" * 100_000 + "\n"
                                   + json.dumps({"body": "four"}) + "\n")
    (inbox / "b.json").write_text(json.dumps({"body": "later file"}))
    sources = load_sources(write(tmp_path, "sources:\n  - {id: i, name: I, kind: directory, "
                                           "path: inbox}\n"))
    results = [r[1] for r in read_directory(sources[0], max_bytes=FILE_CAP)
               if not isinstance(r[1], FileRead)]
    assert [r["body"] if isinstance(r, dict) else "rejected" for r in results] == [
        "one", "rejected", "rejected", "four", "later file"]
    assert all(": not JSON: " in r.detail for r in results if isinstance(r, Rejected))

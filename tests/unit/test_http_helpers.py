"""Pure pieces of the fetcher's HTTP behaviour: Retry-After, the address guard,
bounded decompression, charset detection and robots.txt rules."""

from __future__ import annotations

import codecs
import gzip
import ipaddress
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpcore
import httpx
import pytest

from newsflow.errors import BlockedURL, BodyTooLarge
from newsflow.fetcher.content import Inflater, detect_charset, inflate
from newsflow.fetcher.guard import forbidden_reason, parse_networks, split_target
from newsflow.fetcher.http import retry_after_seconds
from newsflow.fetcher.politeness import HostGates, parse_robots
from newsflow.fetcher.transport import httpx_errors
from tests.integration.fetcher_servers import FIXTURES

pytestmark = pytest.mark.clock


def test_retry_after_in_both_forms() -> None:
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True),
                               now) == 90.0
    assert retry_after_seconds(format_datetime(now - timedelta(days=1), usegmt=True), now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"),
    ("192.168.0.10", "private"), ("172.16.5.5", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("fd00:ec2::254", "private"),
    ("::ffff:127.0.0.1", "loopback"), ("0.0.0.0", "address"), ("100.64.0.1", "non-global"),
    ("224.0.0.1", "reserved"), ("93.184.215.14", None), ("2606:4700::1111", None),
])
def test_guard_classifies_addresses(address: str, reason: str | None) -> None:
    got = forbidden_reason(ipaddress.ip_address(address), ())
    assert (got is None) if reason is None else (got is not None and reason in got)


def test_allow_list_opens_only_its_networks() -> None:
    allowed = parse_networks("127.0.0.0/8, 10.9.0.0/16")
    assert forbidden_reason(ipaddress.ip_address("127.0.0.5"), allowed) is None
    assert forbidden_reason(ipaddress.ip_address("10.9.1.1"), allowed) is None
    assert forbidden_reason(ipaddress.ip_address("10.8.1.1"), allowed) is not None
    assert forbidden_reason(ipaddress.ip_address("169.254.169.254"), allowed) is not None
    with pytest.raises(ValueError, match="not a CIDR"):
        parse_networks("127.0.0.0/8,nonsense")
    with pytest.raises(ValueError, match=r"'127\.0\.0\.0/8 10\.0\.0\.0/8' is not a CIDR .*"
                                         r"separated by commas"):  # as a shell user lists them
        parse_networks("127.0.0.0/8 10.0.0.0/8")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/",
                                 "http:///nohost", "javascript:alert(1)"])
def test_only_http_and_https_urls(url: str) -> None:
    with pytest.raises(BlockedURL):
        split_target(url)
    assert split_target("https://example.com/a") == ("example.com", 443)


def test_gzip_bomb_is_cut_at_the_cap_without_inflating_it() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(256)) + compressor.flush()
    assert len(bomb) < 1 << 20  # 256 MB of zeros in well under a megabyte
    tracemalloc.start()
    try:
        inflater = Inflater("gzip", 2_000_000)
        with pytest.raises(BodyTooLarge):
            for start in range(0, len(bomb), 65536):
                inflater.feed(bomb[start:start + 65536])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert inflater.size <= 2_000_001
    assert peak < 12_000_000  # a few caps' worth, never the 256 MB the bomb holds


def test_inflate_gzip_deflate_and_raw_deflate() -> None:
    data = b"news " * 1000
    assert inflate(zlib.compress(data), "deflate", 10_000) == data
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    assert inflate(raw.compress(data) + raw.flush(), "deflate", 10_000) == data
    with pytest.raises(ValueError, match="unsupported"):
        Inflater("br", 10)
    with pytest.raises(ValueError, match="corrupt"):
        inflate(b"\x1f\x8b not gzip at all", "gzip", 100)


def test_charset_from_header_then_bom_then_meta_then_detection() -> None:
    text = "Düsseldorf: Straße gesperrt, Bürger verärgert über die Behörden und die Stadt."
    latin = f"<html><head><meta charset='iso-8859-1'></head><p>{text}</p>".encode("latin-1")
    assert detect_charset(latin, "text/html; charset=windows-1252") == "cp1252"
    assert detect_charset(codecs.BOM_UTF8 + text.encode(), "text/html; charset=bogus") == "utf-8"
    assert detect_charset(codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "") == "utf-16"
    assert detect_charset(latin, "text/html") == "iso8859-1"
    xml = f'<?xml version="1.0" encoding="windows-1251"?><r>{"Новости"}</r>'.encode("cp1251")
    assert detect_charset(xml, "application/xml") == "cp1251"
    cyrillic = ("Правительство объявило о новых санкциях против банков, финансирующих "
                "перевозки нефти, и о мерах поддержки экспортёров. " * 3).encode("cp1251")
    assert detect_charset(cyrillic, "text/html") == "cp1251"
    assert detect_charset(text.encode(), "") == "utf-8"


@pytest.mark.parametrize("text", [
    "<p>" + "Le café du théâtre a rouvert — les élèves sont ravis. " * 20 + "</p>",
    "<p>" + "The council\u2019s plan \u2014 approved. " * 20 + "</p>",
])
def test_an_undeclared_utf8_page_with_a_stray_byte_is_read_as_utf8(text: str) -> None:
    # One windows-1252 quote pasted into a UTF-8 page without a charset: the whole page was
    # read as windows-1252 ("cafÃ©", "councilâ€™s"), as local files were.
    page = text.encode()
    assert detect_charset(page[:200] + b"\x92" + page[200:], "text/html") == "utf-8"


def test_a_windows_1252_page_is_not_taken_for_utf8_with_stray_bytes() -> None:
    # Curly quotes and accents as single bytes: no valid multi-byte sequence at all.
    page = ("<p>" + "The council\u2019s caf\u00e9 plan \u2014 approved. " * 20 + "</p>")
    assert detect_charset(page.encode("cp1252"), "text/html") == "cp1252"
    # a few valid UTF-8 characters among many bad bytes are not enough either
    mixed = page.encode("cp1252") + "é".encode()
    assert detect_charset(mixed, "text/html") == "cp1252"


def test_robots_rules_crawl_delay_and_failures() -> None:
    robots = parse_robots(200, "User-agent: *\nDisallow: /private/\nCrawl-delay: 3\n", 60, 0)
    assert not robots.allowed("https://x.example/private/a", "newsflow/0.1")
    assert robots.allowed("https://x.example/public/a", "newsflow/0.1")
    assert robots.crawl_delay("newsflow/0.1") == 3.0
    assert parse_robots(404, "", 60, 0).allowed("https://x.example/any", "newsflow")
    assert not parse_robots(503, "", 60, 0).allowed("https://x.example/any", "newsflow")
    assert not parse_robots(None, "", 60, 0).allowed("https://x.example/any", "newsflow")


def test_crawl_delay_is_capped_and_the_cap_told_once_per_change(
        caplog: pytest.LogCaptureFixture) -> None:
    gates = HostGates(2, 0.5, max_crawl_delay=60.0)
    with caplog.at_level("WARNING", logger="newsflow.fetcher.politeness"):
        gates.set_crawl_delay("a.example", 86400.0)
        gates.set_crawl_delay("a.example", 86400.0)  # every request re-applies the robots.txt
        assert gates.hosts["a.example"].delay == 60.0
        gates.set_crawl_delay("b.example", 30.0)  # under the cap: honoured, nothing said
        assert gates.hosts["b.example"].delay == 30.0
        gates.set_crawl_delay("c.example", float("inf"))
        assert gates.hosts["c.example"].delay == 60.0
        for odd in (float("nan"), -5.0, None):  # nonsense or no Crawl-delay: the minimum
            gates.set_crawl_delay("d.example", odd)
            assert gates.hosts["d.example"].delay == 0.5
        gates.set_crawl_delay("a.example", 10.0)  # the site lowered it
        assert gates.hosts["a.example"].delay == 10.0
        gates.set_crawl_delay("a.example", 7200.0)  # and raised it again: told again
    told = [r.getMessage() for r in caplog.records]
    assert len(told) == 3, told
    assert "a.example" in told[0] and "86400 s" in told[0] and "60 s" in told[0]
    assert "c.example" in told[1] and "7200 s" in told[2]


def test_multi_member_gzip_is_inflated_whole_and_capped_as_a_whole() -> None:
    members = [gzip.compress(f"<part n='{n}'>".encode() + b"x" * 3000) for n in range(3)]
    joined = b"".join(members)  # what `cat a.gz b.gz c.gz` makes
    expected = b"".join(gzip.decompress(m) for m in members)
    assert inflate(joined, "gzip", 100_000) == expected
    for size in (1, 2, 7, 4096):  # member boundaries fall anywhere in the chunks
        inflater = Inflater("gzip", 100_000)
        for start in range(0, len(joined), size):
            inflater.feed(joined[start:start + size])
        assert inflater.body() == expected
    assert inflate(joined + b"\0" * 16, "gzip", 100_000) == expected  # padding is ignored
    with pytest.raises(BodyTooLarge):
        inflate(joined, "gzip", len(expected) - 1)  # the cap counts every member
    with pytest.raises(ValueError, match="corrupt"):
        inflate(members[0] + b"\x1f\x8b\x08 broken member", "gzip", 100_000)


def test_truncating_inflater_keeps_the_first_bytes() -> None:
    inflater = Inflater("gzip", 1000, truncate=True)
    inflater.feed(gzip.compress(b"a" * 600 + b"b" * 600))
    assert inflater.truncated and inflater.body() == b"a" * 600 + b"b" * 400


def test_robots_wildcards_end_anchors_and_longest_match() -> None:
    text = (FIXTURES / "robots_wildcards.txt").read_text()
    robots = parse_robots(200, text, 60, 0)
    agent = "newsflow/0.1 (+https://example.invalid/newsflow)"
    for url, allowed in [("https://x.example/search?q=1", False),
                         ("https://x.example/files/report.pdf", False),
                         ("https://x.example/files/report.pdf.html", True),
                         ("https://x.example/wp-admin/options.php", False),
                         ("https://x.example/wp-admin/admin-ajax.php", True),  # longer Allow
                         ("https://x.example/live/*?page=2", True),
                         ("https://x.example/live/blog?page=2", True),
                         ("https://x.example/2026/11/20/story/", True)]:
        assert robots.allowed(url, agent) is allowed, url
    assert not robots.allowed("https://x.example/2026/11/20/story/", "GPTBot/1.0")
    failed = parse_robots(None, "", 60, 0, "timed out")
    assert not failed.allowed("https://x.example/", agent)
    assert failed.reason == "robots.txt unreachable (timed out): everything disallowed"


def test_endless_empty_gzip_members_hit_the_cap_on_the_compressed_bytes() -> None:
    empty = gzip.compress(b"")
    inflater = Inflater("gzip", 100_000)
    with pytest.raises(BodyTooLarge, match="compressed body"):
        for _ in range(20_000):  # 20 bytes each: nothing inflated, 400 KB sent
            inflater.feed(empty)
    assert inflater.size == 0 and inflater.raw_size <= 100_000 + 65536 + len(empty)


@pytest.mark.parametrize(("raised", "expected"), [
    (httpcore.ConnectTimeout("slow"), httpx.ConnectTimeout),
    (httpcore.ReadError("reset"), httpx.ReadError),
    (httpcore.RemoteProtocolError("bad"), httpx.RemoteProtocolError),
])
def test_the_transport_raises_httpcore_errors_as_httpx_errors(
        raised: Exception, expected: type[Exception]) -> None:
    request = httpx.Request("GET", "http://example.com/")
    with pytest.raises(expected, match=str(raised)) as caught, httpx_errors(request):
        raise raised
    assert caught.value.__cause__ is raised


def test_the_transport_lets_its_own_errors_through() -> None:
    with pytest.raises(BlockedURL), httpx_errors(httpx.Request("GET", "http://example.com/")):
        raise BlockedURL("unix socket: not a web address")

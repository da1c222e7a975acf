"""What the fetcher makes of odd inputs from the wild: charset labels, undeclared code pages,
BOMs, epoch dates, sitemap indexes without dates, directory files being written, bad lines of
a .jsonl file, a YAML typo in the sources file. Small inputs written here, pure functions."""

from __future__ import annotations

import pytest

from newsflow.fetcher.content import decode, detect_charset
from newsflow.fetcher.decoding import decode_file_bytes

UNUSABLE_LABELS = ["zip", "hex", "base64", "uu", "rot13", "bz2", "idna", "undefined", "utf-7",
                   "unicode-1-1-utf-7", "punycode", "unicode_escape", "no-such-charset"]


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

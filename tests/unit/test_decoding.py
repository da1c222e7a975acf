"""Local files to text: BOM, <meta charset>, UTF-8, detection; empty and binary refused."""

from __future__ import annotations

import pytest

from newsflow.errors import BinaryFile, EmptyFile, NotText
from newsflow.fetcher.decoding import decode_file_bytes


@pytest.mark.parametrize(("data", "html", "text", "how"), [
    ("Grüße aus Köln".encode("utf-8-sig"), False, "Grüße aus Köln", "bom"),
    ("\ufeffZürich".encode("utf-16-be"), False, "Zürich", "bom"),
    ('<meta charset="iso-8859-1"><p>“café”</p>'.encode("cp1252"), True, "“café”", "meta"),
    ('<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>Москва</p>'
     .encode("koi8-r"), True, "Москва", "meta"),
    ("Plain UTF-8: naïve façade".encode(), False, "naïve façade", "utf-8"),
    ("Le café où l'on déjeune près de la forêt coûte plus cher cette année.".encode("latin-1"),
     False, "forêt coûte", "detected"),
    # Legacy text has few valid UTF-8 multi-byte sequences: a windows-1252 file with curly
    # quotes is not read as UTF-8 with its quotes replaced, it still goes to detection.
    (("<p>" + "The council\u2019s plan was approved. " * 20 + "</p>").encode("cp1252"),
     True, "council\u2019s plan", "detected"),
])
def test_text_is_decoded(data: bytes, html: bool, text: str, how: str) -> None:
    decoded = decode_file_bytes(data, html=html)
    assert text in decoded.text and decoded.how == how and "\ufffd" not in decoded.text


@pytest.mark.parametrize(("data", "refusal"), [
    (b"", EmptyFile), (b" \r\n\t ", EmptyFile), ("\ufeff  ".encode("utf-16-le"), EmptyFile),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, BinaryFile),
    (b"GIF89a" + b"\x00\x01\x02\x03\x04" * 300, BinaryFile),
])
def test_empty_and_binary_files_are_refused_with_a_reason(data: bytes,
                                                          refusal: type[NotText]) -> None:
    with pytest.raises(NotText) as refused:
        decode_file_bytes(data, html=False)
    assert type(refused.value) is refusal


@pytest.mark.parametrize("text", [
    "<p>" + "Le café du théâtre a rouvert — les élèves sont ravis. " * 20 + "</p>",
    "<p>" + "The council\u2019s plan \u2014 approved. " * 20 + "</p>",
])
def test_utf8_with_a_stray_byte_is_still_utf8(text: str) -> None:
    # One windows-1252 byte pasted into a UTF-8 file: it was refused as binary, or the whole
    # file read as windows-1252 ("cafÃ©", "councilâ€™s").
    decoded = decode_file_bytes(text.encode() + b"\x92", html=True)
    assert decoded.encoding == "utf-8" and decoded.text == text + "\ufffd"

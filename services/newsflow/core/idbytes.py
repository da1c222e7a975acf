"""Article and story ids as the bytes the dedupe index keeps, and back.

The worker's ids are 32 characters: 32 hex digits (from a URL), or one letter and 31 hex
digits ("c…" from a text, "s…" for a story). Kept as UTF-8 that is 32 bytes; here such an id
is 17: a marker byte that also names its first character, then its last 31 digits as 16 bytes
(the first nibble zero). Every other id is kept as its UTF-8 bytes. The two cannot be confused:
the marker bytes (0x80-0xBF) are UTF-8 continuation bytes, which never start a valid UTF-8
text."""

from __future__ import annotations

import string

_FIRST = string.digits + string.ascii_lowercase + string.ascii_uppercase + "_-"  # 64 of them
_MARKER = {char: 0x80 + at for at, char in enumerate(_FIRST)}
_HEX_DIGITS = frozenset("0123456789abcdef")
PACKED_SIZE = 17


def id_bytes(text: str) -> bytes:
    """``text`` as the index keeps it."""
    if (len(text) == 32 and text[0] in _MARKER
            and _HEX_DIGITS.issuperset(text[1:])):  # lower case only: .hex() gives it back
        return bytes((_MARKER[text[0]],)) + bytes.fromhex("0" + text[1:])
    return text.encode()


def id_text(data: bytes) -> str:
    """The id that ``id_bytes`` turned into ``data``."""
    if data and 0x80 <= data[0] < 0xC0:
        return _FIRST[data[0] - 0x80] + data[1:].hex()[1:]
    return data.decode()

"""Codecs of the public topics: one JSON object per message (UTF-8), validated against its
schema in ``schemas/`` on the way in and on the way out."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from newsflow import PIPELINE_VERSION
from newsflow.errors import RecordInvalid, RecordUndecodable
from newsflow.records import MAX_KEY_BYTES, DeadLetter, validate


def dumps(value: Any) -> bytes:
    """The one JSON form on every topic: UTF-8, non-ASCII kept, no spaces, and JSON only (NaN
    and Infinity, which Python writes by default, are not JSON: strict readers refuse them)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999: Python reads it as Infinity
        raise ValueError(f"{text[:40]} is too large for a JSON number")
    return number


# A JSON escape of a UTF-16 surrogate: paired ones make one character, a lone one a string
# that no UTF-8 writer can encode later, so every output of the record would fail.
_LONE_SURROGATE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"  # a high one without its low one
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")  # a low one alone


def loads(data: bytes) -> Any:
    """JSON from UTF-8 bytes; RecordUndecodable for anything else, a lone surrogate escape
    (``"\\udc80"``) included."""
    try:
        # NaN and Infinity (and 1e999, read as Infinity) were passed through onto the output
        # topics, where no strict JSON reader can read the record.
        value = json.loads(data.decode("utf-8"), parse_constant=_not_json, parse_float=_finite)
    except UnicodeDecodeError as exc:
        raise RecordUndecodable(f"not UTF-8: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # ValueError: also a 5,000-digit integer
        raise RecordUndecodable(f"not JSON: {str(exc)[:200]}") from exc
    if _LONE_SURROGATE_ESCAPE.search(data):  # an emoji's escaped pair costs nothing more
        try:
            dumps(value)
        except UnicodeEncodeError as exc:
            raise RecordUndecodable(f"not valid Unicode: a lone surrogate escape ({exc.reason}, "
                                    f"{exc.object[exc.start:exc.end]!a})") from exc
    return value


class JsonCodec:
    """Records of one topic; ``schema`` names their schema (None: any JSON, for topics that are
    not the project's)."""

    def __init__(self, schema: str | None) -> None:
        self.schema = schema

    def encode(self, record: Mapping[str, Any]) -> bytes:
        if self.schema is not None:
            validate(self.schema, record)
        try:
            return dumps(record)
        except ValueError as exc:  # NaN or Infinity (a local file's record): not JSON
            raise RecordInvalid(f"{self.schema}: {exc}") from exc

    def unchecked_bytes(self, record: Mapping[str, Any]) -> bytes:
        """What ``encode`` would produce, without the check: the original bytes of a dead
        letter for a record that failed it (NaN and Infinity written as Python reads them)."""
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def decode(self, data: bytes | None, max_bytes: int | None = None, *,
               tolerant: bool = False) -> Any:
        """The record in ``data``; ``max_bytes`` refuses a larger message before parsing it;
        ``tolerant`` lets through fields the schema does not name (``records.validate``)."""
        if data is None:
            raise RecordUndecodable("message has no value")
        if max_bytes is not None and len(data) > max_bytes:
            raise RecordInvalid(f"{self.schema}: message is {len(data)} bytes, above the "
                                f"{max_bytes} limit")
        record = loads(data)
        if self.schema is not None:
            validate(self.schema, record, tolerant=tolerant)
        return record


# Room for the key, headers and the record's framing beside the value, within the limit.
_HEADROOM = 64 * 1024


class DeadLetterCodec(JsonCodec):
    def __init__(self) -> None:
        super().__init__("dead-letter")

    def encode_letter(self, letter: DeadLetter, max_bytes: int | None = None, *,
                      original_at: str | None = None) -> bytes:
        """The letter's message; when the original's bytes (base64: 4/3 of their size) would
        make it larger than ``max_bytes``, a letter without them, whose message names their
        size, digest and place, so the producer does not refuse the letter itself. Their
        place is the letter's topic, partition and offset, or ``original_at`` for a letter
        of an input read from a file (`newsflow process`: ``in.jsonl:3``), which its message
        starts with and keeps first."""
        # What a letter says must not stop it: a file name that is not UTF-8 (a lone
        # surrogate escape in its str) is written with backslash escapes instead.
        letter = dataclasses.replace(letter, error_message=_writable(letter.error_message),
                                     topic=_writable(letter.topic))
        if letter.key is not None and len(letter.key) > MAX_KEY_BYTES:
            note = (f"[original key not copied: {len(letter.key)} bytes, sha256 "
                    f"{hashlib.sha256(letter.key).hexdigest()}] ")
            letter = dataclasses.replace(letter, key=None, error_message=note + letter.error_message)
        encoded = self.encode(letter.to_dict(PIPELINE_VERSION))
        if max_bytes is None or letter.value is None or len(encoded) <= max_bytes - _HEADROOM:
            return encoded
        if original_at is None:
            where = (f"{letter.topic} partition {letter.partition} offset {letter.offset}"
                     if letter.offset is not None else letter.topic)
            first, rest = "", letter.error_message
        else:
            where = f"{original_at}, the input"
            first = f"{original_at}: "
            rest = letter.error_message.removeprefix(first)
        note = (f"[original not copied: {len(letter.value)} bytes, sha256 "
                f"{hashlib.sha256(letter.value).hexdigest()}, more than a dead letter holds "
                f"under NEWSFLOW_MAX_MESSAGE_BYTES={max_bytes}; read it at {where}] ")
        trimmed = DeadLetter(letter.stage, letter.error_type, first + note + rest,
                             letter.topic, letter.partition, letter.offset, letter.key, None,
                             letter.failed_at)
        return self.encode(trimmed.to_dict(PIPELINE_VERSION))


def _writable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class StateCodec:
    """Fetcher-state entries: a string key, a JSON object or None (a tombstone)."""

    schema = "fetcher-state"

    def encode(self, value: Mapping[str, Any] | None) -> bytes | None:
        if value is None:
            return None
        validate(self.schema, value)
        return dumps(value)

    def decode(self, data: bytes | None) -> dict[str, Any] | None:
        if data is None:
            return None
        value = loads(data)
        validate(self.schema, value)
        return dict(value)


RAW = JsonCodec("raw-article")
ARTICLES = JsonCodec("article")
DUPLICATES = JsonCodec("duplicate")
STORIES = JsonCodec("story")
DEAD_LETTERS = DeadLetterCodec()
FETCHER_STATE = StateCodec()
ANY_JSON = JsonCodec(None)
# By role, as settings (``topic_<role>``), the core's emissions and the client name topics.
BY_ROLE: dict[str, JsonCodec] = {"raw": RAW, "articles": ARTICLES, "duplicates": DUPLICATES,
                                 "stories": STORIES, "deadletter": DEAD_LETTERS}

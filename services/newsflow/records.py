"""Records on the topics. The JSON Schemas in ``schemas/`` are the contract; these helpers
build plain dicts that follow them and validate against them at the boundaries (the codecs in
``newsflow.codecs`` call ``validate`` on every record they encode or decode)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from rfc3339_validator import validate_rfc3339

from newsflow.config import PACKAGE_DIR
from newsflow.core.dates import rfc3339
from newsflow.errors import RecordInvalid

SCHEMA_FILES = {
    "raw-article": "raw-article.v1.json",
    "article": "article.v1.json",
    "duplicate": "duplicate.v1.json",
    "dead-letter": "dead-letter.v1.json",
    "story": "story.v1.json",
    "prepared": "prepared.v1.json",
    "fingerprint": "fingerprint.v1.json",
    "dedupe-memory": "dedupe-memory.v1.json",
    "fetcher-state": "fetcher-state.v1.json",
}
# Keywords whose meaning is the same in draft 2020-12 (what the schemas declare) and draft 7
# (what the fast validator implements); tests/unit/test_codecs.py keeps the schemas to these.
PORTABLE_KEYWORDS = frozenset({
    "$schema", "$id", "$ref", "$defs", "title", "description", "type", "properties", "required",
    "additionalProperties", "items", "enum", "const", "minimum", "maximum", "minLength",
    "maxLength", "pattern", "format", "default", "contentEncoding", "maxProperties",
})


def _is_rfc3339(value: str) -> bool:
    # RFC 3339 lets "t" and "z" be lowercase (section 5.6), as jsonschema's checker does by
    # upper-casing first; the compiled validator must agree with it, or a record the
    # reference validator accepts is dead-lettered with a generic message.
    # A leap second (23:59:60) is valid RFC 3339, which the validator refuses: read as the
    # second before it, as every date of the project is (a raw record with one was
    # dead-lettered).
    return bool(validate_rfc3339(_LEAP_SECOND.sub(r"\g<1>59", value.upper())))


_LEAP_SECOND = re.compile(r"(T\d\d:\d\d:)60(?=[.Z+-]|$)")


def schemas_dir() -> Path:
    """Packaged copy in an installed wheel, else the repository's ``schemas/`` (editable install)."""
    packaged = PACKAGE_DIR / "schemas"
    if packaged.is_dir():
        return packaged
    return PACKAGE_DIR.parents[1] / "schemas"


@cache
def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (schemas_dir() / SCHEMA_FILES[name]).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(loaded)
    return loaded


def _tolerant(node: Any) -> Any:
    """``node`` without ``additionalProperties: false``: fields added later are let through."""
    if isinstance(node, dict):
        return {key: _tolerant(value) for key, value in node.items()
                if not (key == "additionalProperties" and value is False)}
    if isinstance(node, list):
        return [_tolerant(value) for value in node]
    return node


@cache
def _schema(name: str, tolerant: bool) -> dict[str, Any]:
    loaded = schema(name)
    return _tolerant(loaded) if tolerant else copy.deepcopy(loaded)  # type: ignore[no-any-return]


@cache
def validator(name: str, tolerant: bool = False) -> Draft202012Validator:
    """The reference validator (jsonschema): every error with its path, for tools and tests."""
    return Draft202012Validator(_schema(name, tolerant), format_checker=FormatChecker())


@cache
def _compiled(name: str, tolerant: bool) -> Any:
    # Generated Python code: ~10x faster than the reference validator (measured 25 µs against
    # 300 µs per article), which keeps validating every record the stream produces cheap.
    # use_default=False: validation never writes defaults into the record it checks. A copy:
    # compiling rewrites the schema's references in place.
    return fastjsonschema.compile(copy.deepcopy(_schema(name, tolerant)),
                                  formats={"date-time": _is_rfc3339}, use_default=False)


def validate(name: str, record: Any, *, tolerant: bool = False) -> None:
    """RecordInvalid unless ``record`` follows schema ``name``. ``tolerant``: fields the schema
    does not name are allowed, as a reader of a topic allows fields added after its release (a
    writer always checks strictly)."""
    try:
        _compiled(name, tolerant)(record)
    except fastjsonschema.JsonSchemaValueException as exc:
        # The fast validator stops at the first error; a refused record is rare, so the
        # reference validator names up to three of them.
        errors = sorted(validator(name, tolerant).iter_errors(record), key=lambda e: list(e.path))
        problems = "; ".join(
            f"{'/'.join(str(p) for p in error.path) or '<root>'}: {error.message[:200]}"
            for error in errors[:3]
        ) or f"{'/'.join(str(p) for p in exc.path[1:]) or '<root>'}: {exc.message[:200]}"
        raise RecordInvalid(f"{name}: {problems}") from None


def utc_now() -> str:
    return rfc3339(datetime.now(UTC))


# A raw record's key is its article id (32 hex digits from the fetcher). A longer one is
# refused (stage validate), and a dead letter copies a key only up to this size: a 26 MB key
# made a letter twice that size, the producer refused it, and the stage's agent crashed with
# the record lost.
MAX_KEY_BYTES = 65_536


def letter_key(key: bytes | None) -> bytes | None:
    """The Kafka key a dead letter is sent under: the original's, or its SHA-256 (hex) when
    it is longer than ``MAX_KEY_BYTES``."""
    if key is None or len(key) <= MAX_KEY_BYTES:
        return key
    return hashlib.sha256(key).hexdigest().encode("ascii")


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One input message as it was read: where from, its key and its value byte for byte.
    Every stage's dead letter for it carries these (``DeadLetter.of``)."""

    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes | None


@dataclass(slots=True)
class DeadLetter:
    stage: str
    error_type: str
    error_message: str
    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes | None
    failed_at: str = field(default_factory=utc_now)

    @classmethod
    def of(cls, message: RawMessage, stage: str, error_type: str, error_message: str,
           failed_at: str | None = None) -> DeadLetter:
        return cls(stage, error_type, error_message, message.topic, message.partition,
                   message.offset, message.key, message.value, failed_at or utc_now())

    def to_dict(self, pipeline_version: str) -> dict[str, Any]:
        import base64

        def b64(data: bytes | None) -> str | None:
            return None if data is None else base64.b64encode(data).decode("ascii")

        return {
            "schema_version": 1,
            "stage": self.stage,
            "error": {"type": self.error_type, "message": self.error_message[:2000]},
            "source": {"topic": self.topic, "partition": self.partition, "offset": self.offset},
            "original": {"key_b64": b64(self.key), "value_b64": b64(self.value)},
            "failed_at": self.failed_at,
            "pipeline_version": pipeline_version,
        }

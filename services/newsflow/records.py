"""Records on the topics. The JSON Schemas in ``schemas/`` are the contract; these helpers
build plain dicts that follow them and validate against them at the boundaries."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from newsflow.config import PACKAGE_DIR
from newsflow.core.dates import rfc3339

SCHEMA_FILES = {
    "raw-article": "raw-article.v1.json",
    "article": "article.v1.json",
    "duplicate": "duplicate.v1.json",
    "dead-letter": "dead-letter.v1.json",
    "story": "story.v1.json",
}


def schemas_dir() -> Path:
    """Packaged copy in an installed wheel, else the repository's ``schemas/`` (editable install)."""
    packaged = PACKAGE_DIR / "schemas"
    if packaged.is_dir():
        return packaged
    return PACKAGE_DIR.parents[1] / "schemas"


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((schemas_dir() / SCHEMA_FILES[name]).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


class RecordInvalid(ValueError):
    """A record does not follow its schema; the message names the offending fields."""


def validate(name: str, record: Any) -> None:
    errors = sorted(validator(name).iter_errors(record), key=lambda e: list(e.path))
    if errors:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in error.path) or '<root>'}: {error.message[:200]}"
            for error in errors[:3]
        )
        raise RecordInvalid(f"{name}: {problems}")


def utc_now() -> str:
    return rfc3339(datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Evidence:
    field: str  # "title" or "body": which text the offsets point into
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    score: float
    iptc: str
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": round(self.score, 4),
            "iptc": self.iptc,
            "evidence": [asdict(e) for e in self.evidence],
        }


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

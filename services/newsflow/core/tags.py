"""A topic tag with the evidence for it: what the tagger gives, and what an article record's
``tags`` holds (schemas/article.v1.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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

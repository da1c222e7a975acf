"""The sources file: a YAML ``sources:`` list, validated at start with errors naming the source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from newsflow.core.urls import url_fault
from newsflow.errors import SourcesFileError
from newsflow.yaml_files import read_yaml

SourceKind = Literal["rss", "atom", "rdf", "jsonfeed", "sitemap", "html", "json", "directory"]
WEB_KINDS = frozenset({"rss", "atom", "rdf", "jsonfeed", "sitemap", "html", "json"})
# The fields only some kinds read (the others apply to every kind).
FIELD_KINDS: dict[str, frozenset[str]] = {
    "url": WEB_KINDS, "headers": WEB_KINDS, "fetch_pages": WEB_KINDS, "respect_robots": WEB_KINDS,
    "path": frozenset({"directory"}), "link_pattern": frozenset({"html"}),
    "items_path": frozenset({"json"}), "fields": frozenset({"json"}),
    "max_sitemaps": frozenset({"sitemap"}), "max_sitemap_depth": frozenset({"sitemap"}),
}
# What an HTTP/1.1 request can carry (RFC 9110 §5.1, §5.5; httpx sends values as ASCII):
# checked here so that a bad header fails the start, naming the source, not every poll.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
HEADER_VALUE = re.compile(r"^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$")
JSON_FIELDS = frozenset({"url", "title", "published_at", "body", "summary", "guid", "categories",
                         "authors"})


# White space or a control character inside a URL: httpx refuses the request (InvalidURL)
# when it is made, so the source would fail every poll instead of at start.
_URL_BREAKS = re.compile(r"[\x00-\x20\x7f]")


def _character_name(character: str) -> str:
    return "space" if character == " " else f"control character U+{ord(character):04X}"


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1)
    kind: SourceKind
    url: str | None = None
    path: Path | None = None
    enabled: bool = True
    poll_interval_seconds: float = Field(default=300.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    fetch_pages: bool = Field(
        default=True, description="Fetch each entry's page when the feed carries only a summary."
    )
    respect_robots: bool = Field(
        default=True, description="Obey robots.txt (and its crawl-delay). False: an explicit "
        "per-source override for sources whose owner agreed to be polled.",
    )
    max_items: int = Field(default=200, ge=1, description="Entries considered per poll.")
    # html: which discovered links are articles (regex searched in the absolute URL).
    link_pattern: str | None = None
    # json: dotted path to the list of items ("" = the document is the list) and the item fields
    # (dotted paths inside an item) that give url, title, published_at, body, summary, guid.
    items_path: str = ""
    fields: dict[str, str] = Field(default_factory=dict)
    # sitemap: child sitemaps of indexes requested per poll, at every level together (newest
    # lastmod first), and how many levels of indexes below the source's URL are followed.
    max_sitemaps: int = Field(default=10, ge=1)
    max_sitemap_depth: int = Field(default=3, ge=1, le=5)

    @model_validator(mode="after")
    def _location(self) -> SourceConfig:
        if self.kind in WEB_KINDS:
            if not self.url or not self.url.startswith(("http://", "https://")):
                raise ValueError(f"kind {self.kind!r} needs an http(s) 'url'")
            if bad := _URL_BREAKS.search(self.url):  # a request would fail on it at every poll
                raise ValueError(f"'url' {self.url!r} holds a {_character_name(bad.group())}")
            if fault := url_fault(self.url):
                raise ValueError(f"'url' {self.url!r} is no address a request can be made to: "
                                 f"{fault}")
        elif self.path is None:
            raise ValueError("kind 'directory' needs a 'path'")
        elif "\x00" in str(self.path):  # no file system takes it; resolving it raised
            raise ValueError(f"'path' {str(self.path)!r} holds a NUL character")
        # A field of another kind was read by nothing: a typo'd kind or a copied entry that
        # would silently poll otherwise than its author meant.
        for name in sorted(self.model_fields_set):
            kinds = FIELD_KINDS.get(name)
            if kinds is not None and self.kind not in kinds:
                raise ValueError(f"{name!r} is not read for kind {self.kind!r} (only for "
                                 f"{', '.join(sorted(kinds))})")
        return self

    @field_validator("url", mode="before")
    @classmethod
    def _url_written_loosely(cls, value: object) -> object:
        # White space around a quoted URL and a scheme in capitals ("HTTPS://") are no fault
        # of the address: it is kept without the one and with the other in lower case.
        if isinstance(value, str):
            value = value.strip()
            scheme, colon, rest = value.partition(":")
            if colon and scheme.lower() in ("http", "https"):
                value = f"{scheme.lower()}:{rest}"
        return value

    @field_validator("link_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value

    @field_validator("headers")
    @classmethod
    def _http_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"header name {name!r} is not an HTTP token (letters, digits "
                                 "and !#$%&'*+-.^_`|~, no spaces)")
            if not HEADER_VALUE.match(text.strip(" \t")):
                raise ValueError(f"header {name!r}: its value {text!r} must be printable ASCII "
                                 "on one line")
        return {name: text.strip(" \t") for name, text in value.items()}

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - JSON_FIELDS
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(JSON_FIELDS)}")
        return value

    def field_path(self, name: str) -> str:
        """Where a json item keeps ``name``; defaults to the same key."""
        return self.fields.get(name, name)


def load_sources(path: Path) -> list[SourceConfig]:
    data = read_yaml(path, "sources file", SourcesFileError)
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise SourcesFileError(f"{path}: expected a mapping with a top-level 'sources' list")
    sources: list[SourceConfig] = []
    for index, entry in enumerate(data["sources"]):
        label = entry.get("id") if isinstance(entry, dict) and entry.get("id") else f"#{index}"
        try:
            source = SourceConfig.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}"
                for err in exc.errors()
            )
            raise SourcesFileError(f"{path}: source {label}: {problems}") from exc
        if source.path is not None and not source.path.is_absolute():
            source = source.model_copy(update={"path": (path.parent / source.path).resolve()})
        sources.append(source)
    ids = [s.id for s in sources]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise SourcesFileError(f"{path}: source ids repeated: {', '.join(repeated)}")
    return sources

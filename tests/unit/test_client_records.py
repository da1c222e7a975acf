"""What the client hands out: typed views that match the schemas, and identities that tell a
redelivery from a legitimate new record (reading that lets later fields through: test_codecs)."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from newsflow.client import Article, DeadLetter, Duplicate, Record, StoryRollup
from newsflow.config import Settings
from newsflow.errors import ConfigError
from newsflow.records import schema

pytestmark = pytest.mark.clock  # newsflow.client is imported: the consumer keeps time

VIEWS = [(Article, "article"), (Duplicate, "duplicate"), (StoryRollup, "story"),
         (DeadLetter, "dead-letter")]


@pytest.mark.parametrize(("view", "name"), VIEWS, ids=[name for _, name in VIEWS])
def test_each_typed_view_names_exactly_its_schemas_fields(view: Any, name: str) -> None:
    contract = schema(name)
    assert set(typing.get_type_hints(view)) == set(contract["properties"])
    assert view.__required_keys__ == set(contract["required"])


def article(**changes: Any) -> dict[str, Any]:
    return {"id": "a1", "fetched_at": "2026-02-11T11:00:00Z", "content_hash": "0" * 64,
            "title": "T"} | changes


def record(kind: str, value: Any, offset: int = 0) -> Record:
    return Record(kind, "t", 0, offset, None, value)


def test_a_redelivery_is_the_same_identity_and_a_later_fetch_is_not() -> None:
    first = record("articles", article())
    assert record("articles", article(), offset=9).identity() == first.identity()
    # After the dedupe window the worker emits the same id again for a new fetch.
    assert record("articles", article(fetched_at="2026-02-20T11:00:00Z")).identity() \
        != first.identity()
    assert record("articles", article(content_hash="1" * 64)).identity() != first.identity()


def test_raw_records_are_told_apart_by_all_they_hold() -> None:
    bare = {"url": "https://x.example/a", "source": {"id": "s", "name": "S"}, "body": "text"}
    copy = bare | {"url": "https://x.example/b"}  # same text, same second, another file
    assert record("raw", bare).identity() != record("raw", copy).identity()
    assert record("raw", dict(reversed(bare.items()))).identity() == record("raw", bare).identity()


def test_two_states_of_a_story_in_one_second_are_two_records() -> None:
    state = {"id": "s1", "updated_at": "2026-02-11T11:00:00Z", "first_seen": "2026-02-11T10:00:00Z",
             "articles": [{"id": "a1"}, {"id": "a2"}]}
    later = state | {"articles": [{"id": "a1"}, {"id": "a3"}]}  # a member replaced, same count
    assert record("stories", later).identity() != record("stories", state).identity()
    assert record("stories", dict(state), offset=5).identity() == record("stories", state).identity()


def test_a_missing_broker_address_is_a_configuration_error_not_an_exit() -> None:
    with pytest.raises(ConfigError, match="NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS is not set"):
        Settings(kafka_bootstrap_servers=None).require_bootstrap()

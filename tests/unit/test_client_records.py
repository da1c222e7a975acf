"""What the client hands out: typed views that match the schemas, and identities that tell a
redelivery from a legitimate new record (reading that lets later fields through: test_codecs)."""

from __future__ import annotations

import typing
from typing import Any, cast

import pytest

from newsflow.client import Article, DeadLetter, Duplicate, ReadAs, Record, StoryRollup
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
    return Record(cast(ReadAs, kind), "t", 0, offset, None, value)


def test_a_redelivery_is_the_same_identity_and_a_later_fetch_is_not() -> None:
    first = record("articles", article())
    assert record("articles", article(), offset=9).identity() == first.identity()
    # After the dedupe window the worker emits the same id again for a new fetch.
    assert record("articles", article(fetched_at="2026-02-20T11:00:00Z")).identity() \
        != first.identity()
    assert record("articles", article(content_hash="1" * 64)).identity() != first.identity()


def test_two_copies_of_one_text_fetched_in_one_second_are_two_duplicates() -> None:
    first = {"id": "c1", "url": "file:///in/a1copy.txt", "fetched_at": "2026-02-11T11:00:00Z",
             "duplicate_of": "c1", "content_hash": "0" * 64}
    other = first | {"url": "file:///in/a1copy2.txt"}  # a third copy of the same file
    assert record("duplicates", other).identity() != record("duplicates", first).identity()
    assert record("duplicates", dict(first), offset=4).identity() \
        == record("duplicates", first).identity()


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


def letter(**changes: Any) -> dict[str, Any]:
    """A fetch-stage dead letter: no source position (a file of a directory source)."""
    return {"stage": "fetch", "error": {"type": "EmptyFile", "message": "a.txt: empty"},
            "source": {"topic": "news.raw.v1", "partition": None, "offset": None},
            "original": {"key_b64": "ZmlsZTovL2EudHh0", "value_b64": ""},
            "failed_at": "2026-02-11T11:00:00Z"} | changes


def test_dead_letters_of_different_files_or_fetches_are_different_records() -> None:
    first = record("deadletter", letter())
    assert record("deadletter", letter(), offset=7).identity() == first.identity()
    other_file = letter(original={"key_b64": "ZmlsZTovL2IudHh0", "value_b64": ""},
                        error={"type": "EmptyFile", "message": "b.txt: empty"})
    assert record("deadletter", other_file).identity() != first.identity()
    # Same key and bytes, but another name in the message (say, renamed between polls).
    assert record("deadletter", letter(error={"type": "EmptyFile", "message": "c.txt: empty"})
                  ).identity() != first.identity()
    # A deliberate re-run of `fetch --once` over the same folder: a new failure time.
    assert record("deadletter", letter(failed_at="2026-02-11T12:00:00Z")).identity() \
        != first.identity()


def test_dead_letters_with_a_position_are_told_apart_by_key_too() -> None:
    placed = letter(stage="clean", source={"topic": "news.raw.v1", "partition": 1, "offset": 4},
                    original={"key_b64": "YTE=", "value_b64": "eA=="})
    first = record("deadletter", placed)
    assert record("deadletter", placed | {"original": {"key_b64": "YTI=", "value_b64": "eA=="}}
                  ).identity() != first.identity()
    # The same message failing again when reprocessed after a restart: a redelivery.
    assert record("deadletter", placed | {"failed_at": "2026-02-11T12:00:00Z"}).identity() \
        == first.identity()


def test_a_story_state_leaves_out_when_it_was_emitted() -> None:
    state = {"id": "s1", "updated_at": "2026-02-11T11:00:00Z", "articles": ["a1", "a2"]}
    again = record("stories", state | {"updated_at": "2026-02-11T11:05:00Z"}, offset=3)
    assert again.state() == record("stories", state).state()
    assert again.identity() != record("stories", state).identity()
    grown = record("stories", state | {"articles": ["a1", "a2", "a3"]})
    assert grown.state() != again.state()
    assert record("articles", article()).state() is None


def test_start_and_reset_are_checked_before_connecting() -> None:
    from newsflow.client import NewsConsumer

    nowhere = Settings(kafka_bootstrap_servers="127.0.0.1:9")  # never reached
    with pytest.raises(ConfigError, match=r"start='lastest' is not one of 'committed', "
                                          r"'earliest', 'latest'"):
        NewsConsumer("articles", nowhere, start="lastest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"reset='newest' is not one of 'earliest', 'latest'"):
        NewsConsumer("articles", nowhere, reset="newest")  # type: ignore[arg-type]


def test_the_typed_parts_are_exported() -> None:
    import newsflow.client as client

    for name in ("Tag", "Evidence", "Source", "Story", "DeadLetterError", "DeadLetterSource",
                 "DeadLetterOriginal", "Kind", "Start"):
        assert name in client.__all__ and hasattr(client, name)
    assert "SeenIds" not in client.__all__
    assert typing.get_type_hints(Record)["kind"] == ReadAs

"""Serialisation at the topic boundary: one codec per topic, the only place its records become
bytes and bytes become records again.

Every codec validates: ``encode`` checks the record against its schema in ``schemas/`` before
it is produced, ``decode`` checks it after it is consumed, so a record that breaks its topic's
contract is refused where it crosses, with the field it breaks named (``RecordInvalid``), and
bytes that are no record at all are refused as ``RecordUndecodable``.

- ``newsflow.codecs.topics``: the project's public topics (raw articles, articles, duplicates,
  stories, dead letters) and the fetcher's state topic. Light: the client library uses them.
- ``newsflow.codecs.internal``: the worker's own topics (the prepared hand-over between its two
  stages, the dedupe-memory table); they carry the core's objects, so they import the core.
"""

from newsflow.codecs.topics import (
    ARTICLES,
    BY_ROLE,
    DEAD_LETTERS,
    DUPLICATES,
    FETCHER_STATE,
    RAW,
    STORIES,
    DeadLetterCodec,
    JsonCodec,
    StateCodec,
)

__all__ = ["ARTICLES", "BY_ROLE", "DEAD_LETTERS", "DUPLICATES", "FETCHER_STATE", "RAW", "STORIES",
           "DeadLetterCodec", "JsonCodec", "StateCodec"]

"""The worker's two stages around the pure core, codecs at their edges.

Prepare (the worker's child processes, and ``newsflow process``): decode the raw message, then
clean, tag and fingerprint it; whatever fails becomes a dead letter carrying the message's key
and bytes. Dedupe (the worker's single-partition agent): decode the prepared message, decide,
and encode what is to be remembered and emitted; a failure there is dead-lettered by the agent
with the same original (``dedupe_original``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from newsflow.codecs import BY_ROLE, RAW
from newsflow.codecs.internal import MEMORY, PREPARED, PreparedRecord
from newsflow.core.dates import rfc3339
from newsflow.core.dedupe import DedupeIndex, Memory
from newsflow.core.pipeline import Emission, Origin, Pipeline, Prepared
from newsflow.errors import RecordInvalid, RecordUndecodable, StageError
from newsflow.records import MAX_KEY_BYTES, DeadLetter, RawMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """The prepare stage's output for the internal topic, already encoded."""

    value: bytes  # PREPARED-encoded: envelope, fingerprint, the raw bytes
    removed_lines: dict[str, int]  # per cleaning rule, for the worker's metrics


def prepare_message(pipeline: Pipeline, message: RawMessage, now: datetime,
                    max_bytes: int) -> Prepared | DeadLetter:
    """``max_bytes``: a larger message is refused before it is parsed (stage ``validate``)."""
    failed_at = rfc3339(now)
    if message.key is not None and len(message.key) > MAX_KEY_BYTES:
        return DeadLetter.of(message, "validate", "RecordInvalid",
                             f"key of {len(message.key)} bytes, more than the {MAX_KEY_BYTES} a "
                             "raw record's key may have", failed_at)
    try:
        raw = RAW.decode(message.value, max_bytes)
    except RecordUndecodable as exc:
        return DeadLetter.of(message, "decode", type(exc).__name__, str(exc), failed_at)
    except RecordInvalid as exc:
        return DeadLetter.of(message, "validate", type(exc).__name__, str(exc), failed_at)
    try:
        return pipeline.prepare(raw, Origin(message.topic, message.partition, message.offset), now)
    except StageError as exc:
        return DeadLetter.of(message, exc.stage, type(exc.error).__name__, str(exc.error),
                             failed_at)
    except Exception as exc:  # a bug met by one input must not stop the stream
        log.exception("preparing %s:%s:%s failed", message.topic, message.partition,
                      message.offset)
        return DeadLetter.of(message, "clean", type(exc).__name__, str(exc), failed_at)


def prepare_for_dedupe(pipeline: Pipeline, message: RawMessage, now: datetime,
                       max_bytes: int) -> PreparedMessage | DeadLetter:
    """``prepare_message``, then encoded for the dedupe stage (in the child process, so the
    encoding runs in parallel and only bytes cross back to the worker)."""
    result = prepare_message(pipeline, message, now, max_bytes)
    if isinstance(result, DeadLetter):
        return result
    try:
        value = PREPARED.encode(result, message)
    except RecordInvalid as exc:  # the core made a record its own schema refuses: a bug
        log.error("prepared record invalid: %s", exc)
        return DeadLetter.of(message, "clean", type(exc).__name__, str(exc), rfc3339(now))
    return PreparedMessage(value, dict(result.article.get("removed_lines") or {}))


@dataclass(frozen=True, slots=True)
class Decided:
    """The dedupe step's outcome for one prepared message, encoded for the table and topics."""

    record: PreparedRecord
    memory: Memory
    # The dedupe-memory table value; None when there is nothing to write: the message was a
    # redelivery of an input whose memory a later input with the same article id replaced
    # (``DedupeIndex.remembers``), and the table holds that later memory, which stays.
    memory_value: bytes | None
    outputs: list[tuple[Emission, bytes]]  # each emission with its encoded, validated value


def decide_message(pipeline: Pipeline, index: DedupeIndex, value: bytes | None,
                   now: datetime) -> Decided:
    """Decode, decide and encode; raises on a message that cannot be decided or an output its
    schema refuses (the caller dead-letters it). Every output is encoded before any is sent."""
    record = PREPARED.decode(value)
    memory, emissions = pipeline.decide(record.prepared, index, now)
    outputs = [(emission, BY_ROLE[emission.topic].encode(emission.record))
               for emission in emissions]
    # The fingerprint's bytes from the prepare stage are stored as they are: encoded once.
    value = MEMORY.encode(memory, record.fingerprint_json) if index.remembers(memory) else None
    return Decided(record, memory, value, outputs)


def decode_memories(values: Iterable[bytes | None]) -> tuple[list[Memory], list[str]]:
    """The memory table's entries for rebuilding the index, and why each one that could not be
    decoded was left out: one bad entry (e.g. written by another version) must not keep the
    index from being rebuilt, which would stop the whole dedupe stage."""
    memories: list[Memory] = []
    problems: list[str] = []
    for value in values:
        try:
            memories.append(MEMORY.decode(value))
        except ValueError as exc:  # RecordUndecodable, RecordInvalid
            problems.append(str(exc)[:300])
    return memories, problems


def dedupe_original(value: bytes | None, message: RawMessage) -> RawMessage:
    """The input a failed prepared message stands for: the raw message it carries, or, when it
    is too broken to name one, the prepared ``message`` itself."""
    return PREPARED.original(value) or message

"""Whether a worker's table store on disk still belongs to the changelog the broker holds.

Faust's RocksDB store remembers the last changelog offset it applied and, on start, reads the
changelog only from there. That is right for the changelog the store was built from, and wrong
for any other: the embedded broker forgets everything when it stops, and a Kafka topic can be
deleted and created again. A store from before would then either stop the worker (Faust's
consistency check: "persisted offset ... higher than the last offset in that topic") or, if
the new changelog has grown past that offset, be kept with the old broker's memories and
without the new ones: articles judged against outputs that no longer exist. So the store is
checked before Faust opens it; a store that does not match is discarded and the table is
recovered from the changelog, as on a fresh machine.

Pure: the worker (``processor/local_state.py``) reads the facts and acts on the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

UNKNOWN_TOPIC_ID = "00000000-0000-0000-0000-000000000000"  # brokers before topic ids (< 2.8)


@dataclass(frozen=True)
class ChangelogOnBroker:
    """The changelog partition as the broker has it now."""

    topic: str
    topic_id: str | None  # None (or the zero id): the broker does not give topic ids
    end_offset: int  # the offset the next record will get


@dataclass(frozen=True)
class StoreOnDisk:
    """The local store of that changelog partition."""

    exists: bool
    recorded_topic: str | None  # the changelog it was built from; None: not recorded
    recorded_topic_id: str | None
    persisted_offset: int | None  # the last changelog offset Faust applied to it
    readable: bool = True  # False: RocksDB could not open it (left half-made by a crash)


class StaleReason(StrEnum):
    """Why a local store is discarded (the metric's label)."""

    UNREADABLE = "unreadable"  # RocksDB cannot open it: its offset is unknown
    UNRECORDED = "unrecorded"  # no record of its changelog (an older newsflow wrote it)
    OTHER_CHANGELOG = "other_changelog"  # built from another topic of that name
    AHEAD_OF_CHANGELOG = "ahead_of_changelog"  # holds records the changelog does not


@dataclass(frozen=True)
class Stale:
    reason: StaleReason
    detail: str


def known_topic_id(topic_id: str | None) -> str | None:
    return None if topic_id in (None, "", UNKNOWN_TOPIC_ID) else topic_id


def stale_store(store: StoreOnDisk, changelog: ChangelogOnBroker) -> Stale | None:
    """None if the store can be kept (Faust then replays only what it has not applied)."""
    if not store.exists:
        return None
    if not store.readable:
        return Stale(StaleReason.UNREADABLE, "RocksDB cannot open the store")
    if store.recorded_topic is None:
        return Stale(StaleReason.UNRECORDED,
                     "the store does not record which changelog it was built from")
    if store.recorded_topic != changelog.topic:
        return Stale(StaleReason.OTHER_CHANGELOG,
                     f"the store was built from changelog {store.recorded_topic}, the worker "
                     f"now uses {changelog.topic}")
    current = known_topic_id(changelog.topic_id)
    recorded = known_topic_id(store.recorded_topic_id)
    if current is not None and recorded is not None and recorded != current:
        return Stale(StaleReason.OTHER_CHANGELOG,
                     f"the store was built from changelog topic id {recorded}, the "
                     f"broker's is {current} (a broker restarted empty, or the topic created "
                     f"again)")
    if store.persisted_offset is not None and store.persisted_offset >= changelog.end_offset:
        return Stale(StaleReason.AHEAD_OF_CHANGELOG,
                     f"the store applied the changelog up to offset {store.persisted_offset}, "
                     f"the broker's ends before offset {changelog.end_offset}")
    return None

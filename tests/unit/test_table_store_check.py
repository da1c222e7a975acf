"""When a worker's table store on disk is kept, and why it is discarded."""

from __future__ import annotations

from newsflow.processor.table_store_check import (
    UNKNOWN_TOPIC_ID,
    ChangelogOnBroker,
    StaleReason,
    StoreOnDisk,
    stale_store,
)

TOPIC = "newsflow-processor-dedupe-memory-changelog"
ID_A = "01a227b9-ac73-73b1-bd80-84b4b46311e9"
ID_B = "01a227bf-4104-7301-bc5c-a7d000000000"


def store(topic: str | None = TOPIC, topic_id: str | None = ID_A,
          offset: int | None = 5) -> StoreOnDisk:
    return StoreOnDisk(exists=True, recorded_topic=topic, recorded_topic_id=topic_id,
                       persisted_offset=offset)


def reason(on_disk: StoreOnDisk, changelog: ChangelogOnBroker) -> StaleReason | None:
    stale = stale_store(on_disk, changelog)
    return None if stale is None else stale.reason


def test_no_store_nothing_to_discard() -> None:
    absent = StoreOnDisk(exists=False, recorded_topic=None, recorded_topic_id=None,
                         persisted_offset=None)
    assert stale_store(absent, ChangelogOnBroker(TOPIC, ID_A, 0)) is None


def test_same_changelog_store_kept_whether_behind_or_caught_up() -> None:
    assert reason(store(offset=5), ChangelogOnBroker(TOPIC, ID_A, 6)) is None
    assert reason(store(offset=5), ChangelogOnBroker(TOPIC, ID_A, 40)) is None
    assert reason(store(offset=None), ChangelogOnBroker(TOPIC, ID_A, 0)) is None


def test_fresh_broker_other_topic_id_discarded_even_when_its_changelog_is_longer() -> None:
    # the silent case: Faust's own check (offset beyond the end) passes, the memories are stale
    assert reason(store(offset=5), ChangelogOnBroker(TOPIC, ID_B, 40)) \
        == StaleReason.OTHER_CHANGELOG
    assert reason(store(offset=5), ChangelogOnBroker(TOPIC, ID_B, 0)) \
        == StaleReason.OTHER_CHANGELOG


def test_store_ahead_of_the_changelog_discarded() -> None:
    for end in (0, 5):
        assert reason(store(offset=5), ChangelogOnBroker(TOPIC, ID_A, end)) \
            == StaleReason.AHEAD_OF_CHANGELOG
    # a broker without topic ids: the offset is all there is to go by
    assert reason(store(topic_id=None, offset=5), ChangelogOnBroker(TOPIC, None, 3)) \
        == StaleReason.AHEAD_OF_CHANGELOG
    assert reason(store(topic_id=UNKNOWN_TOPIC_ID, offset=5),
                  ChangelogOnBroker(TOPIC, UNKNOWN_TOPIC_ID, 9)) is None


def test_unrecorded_or_other_topic_name_discarded() -> None:
    assert reason(store(topic=None), ChangelogOnBroker(TOPIC, ID_A, 40)) == StaleReason.UNRECORDED
    assert reason(store(topic="other-app-dedupe-memory-changelog"),
                  ChangelogOnBroker(TOPIC, ID_A, 40)) == StaleReason.OTHER_CHANGELOG


def test_unreadable_store_discarded_whatever_its_record_says() -> None:
    unreadable = StoreOnDisk(exists=True, recorded_topic=TOPIC, recorded_topic_id=ID_A,
                             persisted_offset=None, readable=False)
    assert reason(unreadable, ChangelogOnBroker(TOPIC, ID_A, 40)) == StaleReason.UNREADABLE

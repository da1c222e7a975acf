"""Worker metrics of our own (the Faust sensor adds the framework's). Bounded labels only."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ARTICLES_IN = Counter("newsflow_processor_messages_in_total", "Messages consumed, by stage.",
                      ["stage"])
EMITTED = Counter("newsflow_processor_records_out_total", "Records produced, by output topic role.",
                  ["topic"])
DUPLICATES = Counter("newsflow_processor_duplicates_total", "Duplicates found, by level and method.",
                     ["level", "method"])
TAGS = Counter("newsflow_processor_tags_total", "Tags assigned to distinct articles.", ["tag"])
DEAD_LETTERS = Counter("newsflow_processor_dead_letters_total",
                       "Messages sent to the dead-letter topic, by stage and error type.",
                       ["stage", "error"])
# The letters every worker can write, at 0 from its start: a series born with its first letters
# has no earlier sample, and rate() and increase() over it missed them (a poison batch read
# within one scrape never raised NewsflowDeadLettersAboveNormal). Other errors (a bug's
# exception) are counted as they come.
EXPECTED_DEAD_LETTERS = (("decode", "RecordUndecodable"), ("validate", "RecordInvalid"),
                         ("clean", "PrepareTimeout"), ("clean", "PageTooLarge"),
                         ("clean", "PrepareProcessDied"))
for _stage, _error in EXPECTED_DEAD_LETTERS:
    DEAD_LETTERS.labels(_stage, _error)
# Likewise what flows in and out, which the alerts divide by and compare.
for _stage in ("prepare", "dedupe"):
    ARTICLES_IN.labels(_stage)
for _role in ("articles", "duplicates", "stories"):
    EMITTED.labels(_role)
REMOVED_LINES = Counter("newsflow_clean_removed_lines_total",
                        "Boilerplate lines removed by cleaning, by rule.", ["rule"])
STAGE_SECONDS = Histogram("newsflow_processor_stage_duration_seconds",
                          "Processing time per message and stage.", ["stage"],
                          buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
FRESHNESS = Histogram("newsflow_processor_freshness_seconds",
                      "Delay from an article's fetch (or publication) to its emission.",
                      ["since"],
                      buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 21600, 86400, 604800))
DEDUPE_MEMORY = Gauge("newsflow_processor_dedupe_remembered_articles",
                      "Articles remembered by the dedupe stage (within the window).")
REFILED = Counter("newsflow_processor_dedupe_refiled_total",
                  "Articles whose fetch time lay outside the dedupe window (late) or too far "
                  "ahead of the worker's clock (future), filed at the window's current time.",
                  ["direction"])
MEMORY_SKIPPED = Counter("newsflow_processor_dedupe_memory_skipped_total",
                         "Entries of the dedupe memory table that could not be decoded when the "
                         "index was rebuilt, and were left out of it.")
TABLE_STORE_DISCARDED = Counter(
    "newsflow_processor_table_store_discarded_total",
    "Local table stores discarded at start because they did not belong to the broker's "
    "changelog (the table was then recovered from the changelog), by reason.", ["reason"])
STORIES = Gauge("newsflow_processor_dedupe_stories", "Stories remembered by the dedupe stage.")
SKIPPED_REREAD = Counter("newsflow_processor_skipped_records_reread_total",
                         "Records of a stream partition read again because Faust dropped them "
                         "unprocessed (docs/architecture.md), by topic and cause: skipped by the "
                         "fetch, or cleared from the stream buffers after a seek.",
                         ["topic", "cause"])
REREAD_CAUSES = ("fetch", "cleared")
REBALANCES = Counter("newsflow_processor_rebalances_total",
                     "Consumer group rebalances this worker took part in.")
READY = Gauge("newsflow_processor_ready",
              "1 when the worker finished its last rebalance and is neither rebalancing nor "
              "recovering tables (the /readyz answer).")
# Consumer lag (messages and seconds, per topic partition) and table sizes are read from the
# Faust app at scrape time: see processor/sensor.py.

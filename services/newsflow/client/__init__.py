"""newsflow's consumer library: read articles, duplicates, stories and dead letters.

>>> from newsflow.client import NewsConsumer
>>> with NewsConsumer("articles", group="my-service") as consumer:
...     for record in consumer:
...         print(record.article["title"])
"""

from newsflow.client.consumer import NewsConsumer, Reset, Start
from newsflow.client.records import (
    KINDS,
    Article,
    DeadLetter,
    DeadLetterError,
    DeadLetterOriginal,
    DeadLetterSource,
    Duplicate,
    Evidence,
    Kind,
    ReadAs,
    Record,
    Source,
    Story,
    StoryRollup,
    Tag,
)
from newsflow.errors import InvalidMessage

# SeenIds and LastStates (newsflow.client.consumer) are internals, not exported.
__all__ = ["KINDS", "Article", "DeadLetter", "DeadLetterError", "DeadLetterOriginal",
           "DeadLetterSource", "Duplicate", "Evidence", "InvalidMessage", "Kind", "NewsConsumer",
           "ReadAs", "Record", "Reset", "Source", "Start", "Story", "StoryRollup", "Tag"]

"""newsflow's consumer library: read articles, duplicates, stories and dead letters.

>>> from newsflow.client import NewsConsumer
>>> with NewsConsumer("articles", group="my-service") as consumer:
...     for record in consumer:
...         print(record.article["title"])
"""

from newsflow.client.consumer import NewsConsumer, SeenIds
from newsflow.client.records import (
    KINDS,
    Article,
    DeadLetter,
    Duplicate,
    Record,
    StoryRollup,
)
from newsflow.errors import InvalidMessage

__all__ = ["KINDS", "Article", "DeadLetter", "Duplicate", "InvalidMessage", "NewsConsumer",
           "Record", "SeenIds", "StoryRollup"]

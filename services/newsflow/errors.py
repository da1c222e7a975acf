"""The project's exception hierarchy: every error a command reports to its user is a
``NewsflowError``; its ``exit_code`` is what the command exits with (codes in the README)."""

from __future__ import annotations


class NewsflowError(Exception):
    """An error the user can act on; the message is one line saying what went wrong."""

    exit_code = 1


class BrokerUnavailable(NewsflowError):
    """No broker answered within the connect timeout."""

    exit_code = 3


class TopicNotFound(NewsflowError):
    """A topic a client was asked to read does not exist."""

    exit_code = 2


class FetchIncomplete(NewsflowError):
    """`fetch --once` finished, but a source failed or an article was dropped."""

    exit_code = 1


class LabelsFileError(NewsflowError):
    """`tags check` could not read the labelled articles; the message names file and line."""

    exit_code = 2


class RecordUndecodable(ValueError):
    """A message that is not a record at all: no value, not UTF-8, not JSON, or not in the
    parts its topic's codec expects. (``records.RecordInvalid``: a record that does not follow
    its schema.)"""

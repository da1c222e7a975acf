"""Every exception newsflow raises, in one hierarchy under ``NewsflowError``.

Errors are told apart by their type, never by a string field: a caller catches the class it
can act on (``FetchGone`` retires a source, ``EmptyFile`` becomes a dead letter named after the
class). ``exit_code`` is what a command exits with when the error reaches it (codes in the
README, "Exit codes"). No I/O and nothing but the standard library here: the pure core imports
this module too.
"""

from __future__ import annotations

# A command's exit code when Ctrl-C or SIGTERM cut it short: 128 + SIGINT, as a shell reports it.
INTERRUPTED = 130


class NewsflowError(Exception):
    """An error the user can act on; the message is one line saying what went wrong."""

    exit_code = 1


# --- commands and configuration --------------------------------------------------------------
class ConfigError(NewsflowError, ValueError):
    """Bad usage or configuration; the message names the file, field or setting."""

    exit_code = 2


class SourcesFileError(ConfigError):
    """The sources file is malformed; the message names the source and the field."""


class TaxonomyError(ConfigError):
    """The taxonomy (or an overlay) is malformed; the message names where."""


class LabelsFileError(ConfigError):
    """`tags check` could not read the labelled articles; the message names file and line."""


class DataDirInUse(ConfigError):
    """Another worker holds the data directory (each worker on a machine needs its own)."""


class TopicNotFound(ConfigError):
    """A topic a client was asked to read does not exist."""


class BrokerUnavailable(NewsflowError):
    """No broker answered within the connect timeout, or it stopped before a client was ready."""

    exit_code = 3


class FetchIncomplete(NewsflowError):
    """`fetch --once` finished, but a source failed or an article was dropped."""

    exit_code = 1


class OutputFailed(NewsflowError):
    """A command's output could not be written (a full disk, a closed file)."""

    exit_code = 1

    @classmethod
    def writing(cls, exc: OSError) -> OutputFailed:
        """The error of a write that raised ``exc`` (not BrokenPipeError: a reader that is
        gone has what it wanted)."""
        return cls(f"cannot write output: {exc.strerror or exc}")

    @classmethod
    def closed(cls) -> OutputFailed:
        """The command was started without a stdout (``>&-``: Python's ``sys.stdout`` is None,
        where ``print`` writes nothing and says nothing)."""
        return cls("cannot write output: no standard output (it is closed)")


class Terminated(BaseException):
    """A command stopped by SIGTERM before its end (``docker stop``, a supervisor): raised so
    that its children and files are closed on the way out. Like KeyboardInterrupt, and for
    the same reason, not an ``Exception``: the handlers that turn one record's failure into
    its dead letter must not swallow it."""

    exit_code = INTERRUPTED  # as after Ctrl-C, and as `fetch --once` on SIGTERM


class ProcessIncomplete(NewsflowError):
    """`process` wrote every output, but some inputs were dead-lettered; the message says how
    many and where their dead letters are."""

    exit_code = 1


class TagsCheckIncomplete(NewsflowError):
    """`tags check` printed its report, but some articles were not scored: their tagging ran
    past the per-article time budget (a topic's regex that backtracks) or killed its process;
    the message says how many and which."""

    exit_code = 1


# --- records ---------------------------------------------------------------------------------
class RecordInvalid(NewsflowError, ValueError):
    """A record does not follow its schema; the message names the offending fields."""


class RecordUndecodable(NewsflowError, ValueError):
    """A message that is not a record at all: no value, not UTF-8, not JSON, or not in the
    parts its topic's codec expects (``RecordInvalid``: a record that does not follow its
    schema)."""


class InvalidMessage(NewsflowError):
    """A message that is not JSON or does not follow its schema (the client, ``strict=True``)."""


# --- the core's stages -----------------------------------------------------------------------
class StageError(NewsflowError):
    """A pipeline stage failed on one record; ``error`` is what it raised (its class name is
    the dead letter's error type)."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage = stage
        self.error = error


class CleaningError(NewsflowError):
    """A page that cannot be cleaned; the pipeline dead-letters it with the class name."""


class PageTooLarge(CleaningError):
    """The page is above the per-page size cap."""


class TableWriteFailed(NewsflowError):
    """The worker could not write its dedupe memory table (a full or failing disk): not the
    record's fault, so not a dead letter: the worker exits at once, the record uncommitted."""


class PreparePoolClosed(NewsflowError):
    """The prepare pool was asked for work after it was closed (the worker is shutting down):
    nothing was prepared, and the record must be left unacknowledged so that it is read again
    after a restart, neither dead-lettered nor skipped."""


# --- what the fetcher reads ------------------------------------------------------------------
class BlockedURL(NewsflowError):
    """The URL may not be fetched (scheme, or an address the guard refuses); the message says
    why."""


class BodyTooLarge(NewsflowError):
    """A body (decompressed) exceeds the cap."""


class UnsafeXML(NewsflowError, ValueError):
    """XML with entity declarations or other tricks, refused before parsing."""


class FeedError(NewsflowError, ValueError):
    """The document is not a feed we can read."""


class UnsupportedInput(NewsflowError, ValueError):
    """An input ``newsflow process`` cannot read as an article: a directory, or a file whose
    type it does not know."""


class NotText(NewsflowError, ValueError):
    """A file of a directory source that is not an article; ``reason`` is the short word the
    fetcher's log uses. The subclass name is the dead letter's error type."""

    reason = "not text"


class EmptyFile(NotText):
    """Nothing at all, or nothing but white space."""

    reason = "empty"


class BinaryFile(NotText):
    """Bytes that are no text in any encoding we know (an image, an archive, a PDF), or text
    with too many control characters to be an article."""

    reason = "binary"


class BrokenFile(NotText):
    """A compressed file (``.html.gz``) that does not decompress: damaged or cut short."""

    reason = "not readable gzip"


class FileTooLarge(NotText):
    """An article file, or what it decompresses to, above ``NEWSFLOW_FETCH_MAX_BYTES``: not
    read whole (a small gzip can decompress to gigabytes)."""

    reason = "too large"


class BadRecord(NotText):
    """One record of a directory source's .json/.jsonl file that is not a raw article: not
    UTF-8, not JSON, not an object, or without a string ``body``. The message names the file
    and line; the file's other records are still read."""

    reason = "not a raw record"


# --- fetch failures: the class says what happened, ``outcome`` is its metric label -------------
class FetchError(NewsflowError):
    """A fetch failed. ``retryable``: whether trying again later may help; ``outcome``: the
    bounded label it is counted under in the fetcher's metrics and logs."""

    outcome: str = "error"
    retryable: bool = False
    status: int | None = None

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class FolderUnreadable(FetchError):
    """A directory source's folder (or a sub-folder) cannot be listed: not there, not a
    folder, no permission. The poll's error, not a malformed listing; tried again next poll."""

    retryable = True


class FetchBlocked(FetchError):
    """The guard refused the URL or an address its host resolves to (fetcher/guard.py)."""

    outcome = "blocked"


class RobotsDenied(FetchError):
    """robots.txt disallows the URL for our user agent — or could not be read, and then every
    URL of the host is disallowed until it can be. ``unreachable`` and ``expires`` (monotonic
    seconds: when that robots.txt is read again) are as they were at the refusal: the cache
    may have read it again by the time the refusal is handled."""

    outcome = "robots_denied"

    def __init__(self, url: str, reason: str, *, unreachable: bool = False,
                 expires: float | None = None) -> None:
        super().__init__(url, reason)
        self.unreachable = unreachable
        self.expires = expires


class FetchURLError(FetchError):
    """No request can be made to the URL (a host name the resolver or httpx refuses): trying
    again cannot help."""


class TooManyRedirects(FetchError):
    """A redirect loop, too many hops, or a redirect without a Location."""

    outcome = "redirects"


class FetchTooLarge(FetchError):
    """The body is above the size cap, as declared or once decompressed."""

    outcome = "too_large"


class FetchTimeout(FetchError):
    """No complete answer within the timeouts; a later try may get one."""

    outcome = "timeout"
    retryable = True


class FetchConnectError(FetchError):
    """The host could not be resolved or reached, or the connection broke."""

    outcome = "connect"
    retryable = True


class HttpStatusError(FetchError):
    """An answer that is neither content, 304 nor a redirect; 408, 429 and 5xx may pass.
    ``retry_after``: the seconds the server asked to wait (Retry-After), if it said."""

    retry_after: float | None = None

    def __init__(self, url: str, status: int, reason: str | None = None) -> None:
        super().__init__(url, reason or f"HTTP {status}")
        self.status = status
        self.retryable = status in (408, 429) or 500 <= status < 600
        # A bounded label set for the metrics: any other status (a 1xx or 3xx not usable here,
        # LinkedIn's 999, a server's own 6xx) is "http_other".
        self.outcome = (f"http_{status // 100}xx" if 400 <= status < 600 else "http_other")


class HttpClientError(HttpStatusError):
    """4xx: the request itself is refused; an article page that answers so is not retried."""


class FetchGone(HttpClientError):
    """410 Gone: a source that answers so is retired."""

    def __init__(self, url: str) -> None:
        super().__init__(url, 410, "HTTP 410 Gone")
        self.outcome = "gone"


def http_status_error(url: str, status: int, reason: str | None = None) -> HttpStatusError:
    """The error class for an HTTP status the fetcher cannot use."""
    if status == 410:
        return FetchGone(url)
    if 400 <= status < 500:
        return HttpClientError(url, status, reason)
    return HttpStatusError(url, status, reason)

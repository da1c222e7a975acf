"""The `newsflow` command: fetch, worker, process, broker, tail, demo, tags check.

Exit codes (README, "Exit codes"): 0 success; 1 finished with failures (a source failed, an
article was dropped, an input was dead-lettered, an article ``tags check`` could not score in
its time budget); 2 bad usage or configuration; 3 broker unreachable; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from newsflow.config import Settings, settings_problems, unknown_variables
from newsflow.errors import INTERRUPTED, NewsflowError, OutputFailed


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:  # argparse's own line would name this function: "invalid _port value"
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1 to 65535)") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1 to 65535)")
    return port


def _at_least(kind: Callable[[str], float], low: float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is below {kind(str(low))}")
        return value
    parse.__name__ = kind.__name__  # argparse names it in "invalid int value: 'x'"
    return parse


def _file(text: str) -> Path:
    # Path("") is the current folder: an empty value would be read as a folder, not refused.
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path")
    return Path(text)


def _fetch(args: argparse.Namespace, settings: Settings) -> int:
    from newsflow.broker import ensure_port_free
    from newsflow.errors import FetchIncomplete, SourcesFileError
    from newsflow.fetcher import metrics
    from newsflow.fetcher.http import HttpFetcher
    from newsflow.fetcher.publisher import connect_publisher
    from newsflow.fetcher.service import Fetcher
    from newsflow.fetcher.sources import load_sources

    try:
        sources = load_sources(args.sources)
        unknown = sorted(set(args.reenable) - {source.id for source in sources})
        if unknown:
            raise SourcesFileError(f"--reenable: no source {', '.join(map(repr, unknown))} "
                                   f"in {args.sources}")
        # Before the HTTP client exists (a ConfigError is a ValueError): nothing left open.
        ensure_port_free(settings.fetch_metrics_host, settings.fetch_metrics_port,
                         "NEWSFLOW_FETCH_METRICS_PORT", "NEWSFLOW_FETCH_METRICS_HOST")
        http = HttpFetcher(settings)
    except (SourcesFileError, ValueError) as exc:
        print(f"newsflow fetch: {exc}", file=sys.stderr)
        return 2

    def interrupted(what: str) -> int:
        if not args.once:
            return 0
        print(f"newsflow fetch: interrupted {what}", file=sys.stderr)
        return INTERRUPTED

    async def run() -> int:
        fetcher: Fetcher | None = None

        def health() -> tuple[bool, dict[str, Any]]:
            if fetcher is None:
                return False, {"started": False, "broker_available": False}
            return fetcher.health()

        # Served from the start, so a broker outage at start shows up as 503 and metrics,
        # with every configured source's series already there.
        metrics.sources_configured((s.id, s.poll_interval_seconds) for s in sources)
        heartbeat = metrics.Heartbeat()
        beating = asyncio.create_task(heartbeat.run(), name="liveness-heartbeat")
        server = metrics.serve(settings.fetch_metrics_host, settings.fetch_metrics_port, health,
                               heartbeat)
        # SIGTERM (docker stop, the tests' stop()) ends the loops and drains the outbox first.
        main = asyncio.current_task()
        assert main is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
        try:
            publisher = await connect_publisher(settings, bounded=args.once)
            fetcher = Fetcher(settings, sources, publisher, http, reenable=args.reenable)
        except asyncio.CancelledError:
            beating.cancel()
            server.stop()
            return interrupted("before the broker was reached; nothing was published")
        except NewsflowError:
            server.stop()
            await http.aclose()
            raise
        try:
            if args.once:
                summary = await fetcher.run_once()
                _say_summary(summary.line())
                return 0 if summary.ok else FetchIncomplete.exit_code
            await fetcher.run_forever()
            return 0
        except asyncio.CancelledError:
            # Stopping the service is how it ends (docker stop); a run that should have ended on
            # its own did not finish, and a cron job must not record it as a success.
            return interrupted("before the run finished; what was not published is fetched "
                               "again next run")
        finally:
            beating.cancel()
            await fetcher.aclose()
            server.stop()

    return asyncio.run(run())


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from newsflow.processor.app import run_worker

    return run_worker(settings, loglevel=args.loglevel)


def _reader_gone() -> None:
    """stdout's reader closed the pipe (``| head``): it has what it wanted, not a failure.
    Later writes, and Python's flush of stdout at exit, go nowhere instead of raising."""
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit


def _say_summary(line: str) -> None:
    """``fetch --once``'s summary on stdout; on stderr when stdout is closed or cannot be
    written (a full disk): the run's work is done, and its exit code says how it went."""
    try:
        if sys.stdout is None:
            raise OSError("no standard output")
        print(line, flush=True)
    except BrokenPipeError:  # its reader has gone: nothing to say it to
        _reader_gone()
    except OSError:
        _reader_gone()
        print(line, file=sys.stderr, flush=True)


def _output() -> TextIO:
    """stdout, for a command whose output is written there; OutputFailed, before any work is
    done, when there is none (``>&-``): ``print`` would drop every line without a word."""
    if sys.stdout is None:
        raise OutputFailed.closed()
    # JSON lines are UTF-8 (RFC 8259) whatever the locale: under a Latin-1 one, the first
    # article with a curly quote stopped the command with UnicodeEncodeError.
    if (sys.stdout.encoding or "").lower().replace("-", "").replace("_", "") != "utf8" \
            and isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8")
    return sys.stdout


def _output_failed(exc: OSError) -> OutputFailed:
    """The error to stop a command with when its output cannot be written (``> /dev/full``):
    stdout is replaced first, so that Python's flush of what it still holds, at exit, is not a
    second error."""
    _reader_gone()
    return OutputFailed.writing(exc)


def _process(args: argparse.Namespace, settings: Settings) -> int:
    from newsflow.errors import ProcessIncomplete
    from newsflow.interrupts import signals_raise

    try:
        # SIGTERM or Ctrl-C from here on (the imports take a second): one line, exit 130.
        with signals_raise("each line written before it is complete"):
            from newsflow.offline import process_files

            summary = process_files(settings, args.files, _output())
    except BrokenPipeError:  # `newsflow process ... | head`
        _reader_gone()
        return 0
    except OutputFailed:  # `> /dev/full`: the one line, and no second error at exit's flush
        _reader_gone()
        raise
    if not summary.ok:  # every output is written; the one stderr line says what failed
        raise ProcessIncomplete(summary.failure())
    return 0


def _broker(args: argparse.Namespace, settings: Settings) -> int:
    from newsflow.broker import run_broker

    if args.port is not None:
        settings = settings.model_copy(update={"broker_port": args.port})
    return run_broker(settings)


def _tail(args: argparse.Namespace, settings: Settings) -> int:
    import time

    started = time.monotonic()  # before the imports: --timeout counts them too (about 1 s)
    from newsflow.interrupts import signals_raise

    # SIGTERM (`timeout`, a service manager) or Ctrl-C: the reader closed, what was printed
    # committed for a group, one line, exit 130. SIGTERM used to end it on the spot, silently.
    with signals_raise("every record printed before it counts as read"):
        return _tail_until_done(args, settings, started)


def _tail_until_done(args: argparse.Namespace, settings: Settings, started: float) -> int:
    import json
    import time

    from newsflow.client import NewsConsumer, Record
    from newsflow.interrupts import held
    from newsflow.log_budget import client_log_filter

    # kafka-python logs each failed fetch and metadata refresh at ERROR, dozens a minute while
    # the broker is away: the first lines of each minute, then their count.
    client_log = client_log_filter("kafka-python", logging.getLogger("newsflow.tail"),
                                   time.monotonic)
    client_log.install("kafka")

    out = _output()

    def emit(record: Record) -> None:
        # A record is acknowledged once its line is written: one whose line failed is not. A
        # SIGTERM or Ctrl-C waits for the line's end and its acknowledgement (``held``): a
        # reader never gets half a record, and a signal taking effect as the line ends no
        # longer left that printed record unacknowledged, to come again to the group.
        try:
            with held():
                print(json.dumps(record.value, ensure_ascii=False), file=out, flush=True)
                consumer.ack(record)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_failed(exc) from None

    if args.timeout is not None:  # --timeout bounds the wait for the broker and the topic too
        settings = settings.model_copy(update={"kafka_connect_timeout_seconds": max(
            0.5, min(settings.kafka_connect_timeout_seconds,
                     args.timeout - (time.monotonic() - started)))})
    try:
        # --from-beginning always starts at the oldest record, even in a group with a committed
        # position; without it a group resumes where it stopped, and a new reader sees new ones.
        with NewsConsumer(args.topic, settings, group=args.group,
                          start="earliest" if args.from_beginning else "committed",
                          reset="latest") as consumer:
            # One deadline for the whole command: connecting counts against --timeout.
            left = (None if args.timeout is None
                    else max(0.0, args.timeout - (time.monotonic() - started)))
            client_log.install("kafka")  # the modules kafka-python imported while connecting
            try:
                consumer.run(emit, max_records=args.max, timeout=left)
            except BrokenPipeError:  # `newsflow tail ... | head`
                _reader_gone()
    finally:  # the count of what was held back, also of lines while connecting or closing
        client_log.flush(final=True)
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from newsflow.demo import run_demo

    try:
        return run_demo(settings, follow=args.follow)
    except BrokenPipeError:  # `newsflow demo | head`: run_demo has stopped what it started
        _reader_gone()
        return 0


def _tags_check(args: argparse.Namespace, settings: Settings) -> int:
    from newsflow.errors import LabelsFileError, TagsCheckIncomplete
    from newsflow.interrupts import signals_raise

    taxonomy = args.taxonomy if args.taxonomy is not None else settings.taxonomy_path
    out = _output()
    # SIGTERM or Ctrl-C from here on (the imports take a second): the children stopped, one
    # line, exit 130.
    with signals_raise("no report printed"):
        from newsflow.core.tagging import Tagger
        from newsflow.tags_check import (
            check_in_children,
            print_report,
            read_labels,
            unknown_labels,
        )
        from newsflow.taxonomy_files import load_taxonomy

        try:
            articles = read_labels(args.labels)
        except LabelsFileError as exc:
            print(f"newsflow tags check: {exc}", file=sys.stderr)
            return exc.exit_code
        tagger = Tagger(load_taxonomy(taxonomy))
        unknown = unknown_labels(articles, [topic.name for topic in tagger.topics])
        if unknown is not None:
            print(f"newsflow tags check: warning: {unknown}", file=sys.stderr)
        # Each article in a child process under the stream's per-page budget: a topic's regex
        # that backtracks on one article costs that article, not the whole check.
        report = check_in_children(tagger.topics, articles, settings.clean_time_budget_seconds,
                                   settings.prepare_processes)
    try:
        print_report(report, out)
        out.flush()  # a block-buffered stdout: its reader's absence shows here, or at exit
    except BrokenPipeError:  # `newsflow tags check ... | head`: the exit code still says
        _reader_gone()  # whether every article was scored
    except OSError as exc:  # `> /dev/full`
        raise _output_failed(exc) from None
    failure = report.failure()
    if failure is not None:  # the report is printed; the one stderr line says what is missing
        raise TagsCheckIncomplete(failure)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsflow", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    fetch = commands.add_parser("fetch", help="poll sources and publish raw articles")
    fetch.add_argument("--sources", type=_file, required=True, help="sources YAML file")
    fetch.add_argument("--once", action="store_true",
                       help="poll every source once, wait for acknowledgements, exit")
    fetch.add_argument("--reenable", action="append", default=[], metavar="SOURCE_ID",
                       help="poll again a source an earlier run retired after 410 Gone "
                            "(repeatable)")
    fetch.set_defaults(handler=_fetch)

    worker = commands.add_parser("worker", help="run the Faust processor")
    worker.add_argument("--loglevel", default="info", type=str.lower,
                        choices=["debug", "info", "warning", "error", "critical"])
    worker.set_defaults(handler=_worker)

    process = commands.add_parser("process", help="run the core offline over files")
    process.add_argument("files", nargs="+", type=_file,
                         help=".jsonl or .json raw records, .txt, .html, .html.gz; "
                              "- reads raw records, one JSON line each, from stdin")
    process.set_defaults(handler=_process)

    broker = commands.add_parser("broker", help="run the embedded broker with the topics")
    broker.add_argument("--port", type=_port, default=None, help="default NEWSFLOW_BROKER_PORT")
    broker.set_defaults(handler=_broker)

    tail = commands.add_parser("tail", help="print a topic's records, one JSON object per line")
    tail.add_argument("topic", help="articles, duplicates, stories, deadletter, raw or a topic name")
    tail.add_argument("--from-beginning", action="store_true",
                      help="start at the oldest record (default: the group's committed position, "
                           "else new records only)")
    tail.add_argument("--max", type=_at_least(int, 1), default=None,
                      help="exit 0 after this many records")
    tail.add_argument("--timeout", type=_at_least(float, 0.0), default=None,
                      help="exit 0 after this many seconds")
    tail.add_argument("--group", default=None,
                      help="consumer group whose committed position is read and advanced")
    tail.set_defaults(handler=_tail)

    tags = commands.add_parser("tags", help="taxonomy tools")
    tags_commands = tags.add_subparsers(dest="tags_command", metavar="{check}", required=True)
    tags_check = tags_commands.add_parser(
        "check", help="precision, recall and errors with evidence on labelled articles")
    tags_check.add_argument("--labels", type=_file, required=True,
                            help='JSON Lines: {"id", "title", "text" (or "body"), '
                                 '"labels": [topic, ...]}')
    tags_check.add_argument("--taxonomy", type=_file, default=None,
                            help="taxonomy overlay to check (default: NEWSFLOW_TAXONOMY_PATH)")
    tags_check.set_defaults(handler=_tags_check)

    demo = commands.add_parser("demo", help="broker + sample site + fetcher + worker, end to end")
    demo.add_argument("--follow", action="store_true", help="keep running after the sample")
    demo.set_defaults(handler=_demo)
    return parser


class CancelledRefreshFilter(logging.Filter):
    """kafka-python (3.0.12) logs ``Metadata refresh: failed Cancelled`` at ERROR when it closes
    a connection under its own metadata request: its bootstrap connection once the cluster is
    known, or all of them when a client (an admin that created the topics) is closed. The
    refresh is retried, or no longer wanted; nothing failed. So is ``failed NetworkSelector
    closed!``: a client closed (a command stopping) under a refresh still in flight. Such a
    line, now and then at a command's start or end, reads as a fault, so it is a DEBUG line
    (shown with ``-v``)."""

    MESSAGE = "Metadata refresh: failed %s"  # kafka.cluster's own format string

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or record.msg != self.MESSAGE \
                or not isinstance(record.args, tuple) or not record.args:
            return True
        from kafka.errors import Cancelled  # only for this line: kafka is slow to import

        reason = record.args[0]
        if isinstance(reason, Cancelled) or (isinstance(reason, RuntimeError)
                                             and str(reason) == "NetworkSelector closed!"):
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
            # The logger's level was checked before this filter: check it again for DEBUG.
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    cluster = logging.getLogger("kafka.cluster")
    if not any(isinstance(f, CancelledRefreshFilter) for f in cluster.filters):
        cluster.addFilter(CancelledRefreshFilter())
    if not verbose:  # client libraries narrate every connection at INFO
        for noisy in ("kafka", "aiokafka", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # kafka-python logs every refused connection attempt at ERROR (dozens a minute while a
        # broker is away); newsflow reports the outage itself, once per retry, and gives up
        # with one line. -v shows the client's own account.
        logging.getLogger("kafka.net").setLevel(logging.CRITICAL)
        logging.getLogger("kafka.conn").setLevel(logging.CRITICAL)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    from pydantic import ValidationError

    from newsflow.errors import TaxonomyError, Terminated

    # "newsflow tags check: ...": every line of one command names it the same way.
    command = " ".join(filter(None, (args.command, getattr(args, "tags_command", None))))
    for line in unknown_variables(os.environ):
        print(f"newsflow {command}: warning: {line}", file=sys.stderr, flush=True)
    try:
        return int(args.handler(args, Settings()))
    except ValidationError as exc:  # a NEWSFLOW_ variable: name it, on one line
        print(f"newsflow {command}: configuration error: {settings_problems(exc)}",
              file=sys.stderr)
        return 2
    except TaxonomyError as exc:  # bad configuration: say what, not where
        print(f"newsflow {command}: configuration error: {exc}", file=sys.stderr)
        return 2
    except NewsflowError as exc:
        print(f"newsflow {command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated as exc:
        print(f"newsflow {command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C: the user knows; no traceback
        return INTERRUPTED

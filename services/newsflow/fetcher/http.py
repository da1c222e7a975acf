"""HTTP fetching with httpx, done carefully enough for the open web.

One ``get`` call: the address guard on every hop, robots.txt, the per-host gate, conditional
GET, retries with backoff and jitter (honouring Retry-After), redirects followed by hand (so
each hop is re-checked and permanent moves are reported to the caller), a total timeout and a
streamed size cap on the decompressed body.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from newsflow.config import Settings
from newsflow.core.urls import url_fault, web_url
from newsflow.errors import (
    BlockedURL,
    BodyTooLarge,
    FetchBlocked,
    FetchConnectError,
    FetchError,
    FetchTimeout,
    FetchTooLarge,
    FetchURLError,
    HttpStatusError,
    RobotsDenied,
    TooManyRedirects,
    http_status_error,
)
from newsflow.fetcher import metrics
from newsflow.fetcher.content import BodyCut, Inflater, decode, detect_charset
from newsflow.fetcher.guard import AddressGuard
from newsflow.fetcher.politeness import ROBOTS_MAX_BYTES, HostGates, RobotsCache
from newsflow.fetcher.transport import GuardedTransport
from newsflow.retry import Backoff, Retry

log = logging.getLogger(__name__)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})
NO_WHOLE_BODY = {204: "no content", 205: "no content",
                 206: "part of a body, to a request for the whole"}
COOKIE_JAR_MAX_BYTES = 4096  # names and values of every cookie kept (``_bound_cookies``)


@dataclass(slots=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None
    # The URL that answered with them, when a temporary redirect led there from the listing
    # URL they are stored under (None: that URL itself).
    url: str | None = None

    def headers(self) -> dict[str, str]:
        # A value that is not printable ASCII is not sent (the request is then unconditional):
        # httpx cannot encode it, so the request failed before it was sent, every poll, and
        # the stored value, replaced only by an answer, kept the source failing for good.
        sent = {"If-None-Match": self.etag, "If-Modified-Since": self.last_modified}
        return {name: value for name, value in sent.items()
                if value and value.isascii() and value.isprintable()}


@dataclass(slots=True)
class Response:
    url: str
    status: int
    content: bytes
    content_type: str
    encoding: str
    etag: str | None
    last_modified: str | None
    moved: list[tuple[str, str]] = field(default_factory=list)  # permanent redirects seen
    content_type_header: str = ""  # as sent, parameters (charset) included
    truncated: bool = False  # cut at the ``truncate_at`` limit the caller asked for

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def text(self) -> str:
        return decode(self.content, self.encoding)

    @property
    def validators(self) -> Validators:
        return Validators(self.etag, self.last_modified)


@dataclass(slots=True)
class _Raw:
    status: int
    headers: httpx.Headers
    content: bytes
    truncated: bool = False


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to float()
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# Types that say nothing about the body: a page served as one of these that starts as an HTML
# document is read as HTML (browsers sniff it so too), not as plain text with its markup.
_UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})
_HTML_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]",
                         re.IGNORECASE | re.DOTALL)


def _sniffed_type(header: str, content: bytes) -> str:
    declared = header.split(";")[0].strip().lower()
    if declared in _UNTYPED and _HTML_START.match(content[:4096]):
        return "text/html"
    return declared


def asked_delay(error: BaseException) -> float | None:
    """The pause an answer asked for with Retry-After, if it did."""
    return error.retry_after if isinstance(error, HttpStatusError) else None


# Where a redirect's Location is kept from httpx, which builds the next hop's request even
# when it does not follow redirects, and raises on a Location it cannot read (``javascript:``,
# a broken IPv6 host) before the answer reaches us. Hops are ours to follow and to refuse.
HELD_LOCATION = "x-newsflow-location"


async def _hold_location(response: httpx.Response) -> None:
    location = response.headers.pop("location", None)
    if location is not None:
        response.headers[HELD_LOCATION] = location


class HttpFetcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.guard = AddressGuard(settings.fetch_allow_networks)
        self.gates = HostGates(settings.fetch_host_concurrency, settings.fetch_host_min_delay_seconds,
                               settings.fetch_max_crawl_delay_seconds)
        self.robots = RobotsCache(settings.fetch_user_agent, settings.fetch_robots_ttl_seconds,
                                  self._load_robots)
        self.backoff = Backoff(settings.fetch_backoff_base_seconds,
                               settings.fetch_backoff_max_seconds)
        self.client = httpx.AsyncClient(
            headers={"User-Agent": settings.fetch_user_agent,
                     # Only codings we inflate ourselves under the size cap.
                     "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(settings.fetch_read_timeout_seconds,
                                  connect=settings.fetch_connect_timeout_seconds),
            follow_redirects=False,  # done by hand: every hop goes through the guard
            trust_env=False,  # a proxy from the environment would bypass the guard
            transport=GuardedTransport(self.guard),
            event_hooks={"response": [_hold_location]},
        )

    async def get(self, url: str, *, kind: str = "page", source: str = "",
                  headers: dict[str, str] | None = None, validators: Validators | None = None,
                  validators_for: Callable[[str], Validators | None] | None = None,
                  respect_robots: bool = True, truncate_at: int | None = None) -> Response:
        """``validators``: sent with the request for ``url`` itself; ``validators_for``: looked
        up for every hop's URL instead, so that a listing behind a redirect gets them where
        they apply (the final URL, which the caller stores them under). ``truncate_at``: keep
        the first that many (decompressed) bytes of a larger body instead of failing with
        too_large."""
        started = time.monotonic()
        if validators_for is None:
            def validators_for(hop_url: str) -> Validators | None:
                return validators if hop_url == url else None
        try:
            return await self._get(url, kind, source, headers or {}, validators_for,
                                   respect_robots, truncate_at)
        except FetchBlocked:
            metrics.BLOCKED.labels(source).inc()
            raise
        except RobotsDenied:
            metrics.ROBOTS_DENIALS.labels(source).inc()
            raise
        finally:
            metrics.FETCH_SECONDS.labels(kind).observe(time.monotonic() - started)

    async def _get(self, url: str, kind: str, source: str, headers: dict[str, str],
                   validators_for: Callable[[str], Validators | None], respect_robots: bool,
                   truncate_at: int | None) -> Response:
        visited: list[str] = []
        moved: list[tuple[str, str]] = []
        permanent = True
        current = url
        for _hop in range(self.settings.fetch_max_redirects + 1):
            if current in visited:
                raise TooManyRedirects(url, f"redirect loop at {current}")
            visited.append(current)
            await self._check_hop(url, current, kind)
            if respect_robots:
                await self._check_robots(current)
            request_headers = dict(headers)
            validators = validators_for(current)
            conditional = validators is not None and bool(validators.headers())
            if conditional and validators is not None:
                request_headers.update(validators.headers())
            raw = await self._with_retries(url, current, request_headers, kind, conditional,
                                           truncate_at)
            if raw.status in REDIRECTS:
                location = raw.headers.get(HELD_LOCATION)
                if not location:
                    raise TooManyRedirects(url, f"HTTP {raw.status} without Location")
                target = web_url(location, current)
                if target is None:
                    raise TooManyRedirects(url, f"HTTP {raw.status} to {location[:200]!r}: "
                                                f"{url_fault(location, current)}")
                # Remember a move only while every hop so far was permanent.
                permanent = permanent and raw.status in PERMANENT
                if permanent:
                    moved.append((current, target))
                current = target
                continue
            if raw.status >= 400 or raw.status < 200 or (300 <= raw.status < 400
                                                          and raw.status != 304):
                raise http_status_error(url, raw.status)
            if raw.status in NO_WHOLE_BODY:
                # 204 and 205 hold nothing, 206 a part: published, they were an empty or a cut
                # article (a page's answer may change: tried again at the next poll).
                raise http_status_error(url, raw.status, f"HTTP {raw.status}: "
                                                         f"{NO_WHOLE_BODY[raw.status]}")
            if raw.status == 304 and not conditional:
                # Nothing was read and nothing can be: "not modified" would report a listing
                # never read as a quiet success, every poll.
                raise http_status_error(url, 304, "HTTP 304 Not Modified to a request that "
                                                  "sent no validators")
            # The last of several Content-Type headers, as browsers take it: httpx joins them
            # ("text/html, text/html"), and no type was recognised in the joined value.
            content_type_header = (raw.headers.get_list("content-type") or [""])[-1]
            return Response(
                url=current, status=raw.status, content=raw.content,
                content_type=_sniffed_type(content_type_header, raw.content),
                encoding=detect_charset(raw.content, content_type_header),
                etag=raw.headers.get("etag"), last_modified=raw.headers.get("last-modified"),
                moved=moved, content_type_header=content_type_header, truncated=raw.truncated,
            )
        raise TooManyRedirects(url, f"more than {self.settings.fetch_max_redirects} redirects")

    async def _check_hop(self, url: str, hop: str, kind: str) -> None:
        """The address guard on a hop before anything is sent. A host that does not resolve (a
        DNS server down, EAI_AGAIN) is a connect error and retried as one; a refused address
        is not retried. The guard's message names the hop: the URL is said once, not twice."""
        async def attempt() -> None:
            try:
                await self.guard.check(hop)
            except BlockedURL as exc:
                raise FetchBlocked(url, str(exc).removeprefix(f"{url}: ")) from exc
            except UnicodeError as exc:  # the resolver cannot encode the host name
                raise FetchURLError(url, f"no request can be made to {hop[:200]}: {exc}") from exc
            except ConnectionError as exc:
                raise FetchConnectError(url, str(exc).removeprefix(f"{url}: ")) from exc

        def retrying(error: BaseException, delay: float, tries: int) -> None:
            metrics.RETRIES.labels(kind, "connect").inc()
            log.info("retrying %s in %.2f s (connect, attempt %d)", hop, delay, tries)

        retry = Retry(self.backoff, retry_on=(FetchConnectError,),
                      attempts=self.settings.fetch_retries + 1, before_sleep=retrying)
        await retry.acall(attempt)

    async def _check_robots(self, url: str) -> None:
        robots = await self.robots.get(url)
        host = urlsplit(url).netloc
        self.gates.set_crawl_delay(host, robots.crawl_delay(self.settings.fetch_user_agent))
        if not robots.allowed(url, self.settings.fetch_user_agent):
            raise RobotsDenied(url, robots.reason or "disallowed by robots.txt",
                               unreachable=self.robots.unreachable(url),
                               expires=self.robots.expires(url))

    async def _load_robots(self, url: str) -> tuple[int | None, str, str]:
        """(status, text, failure): a missing robots.txt (4xx) is normal and logged at INFO;
        anything that makes the host disallowed, or only partly read, at WARNING."""
        try:
            response = await self.get(url, kind="robots", respect_robots=False,
                                      truncate_at=ROBOTS_MAX_BYTES)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                log.info("robots.txt %s: %s: no rules, everything allowed", url, exc.reason)
            else:
                log.warning("robots.txt %s unreachable (%s): everything on the host is "
                            "disallowed until it can be read", url, exc.reason)
            return exc.status, "", exc.reason
        text = response.text
        if response.truncated:
            # The cut may fall inside a rule: only whole lines are parsed.
            text = text.rsplit("\n", 1)[0]
            log.warning("robots.txt %s is larger than %d KiB: only its first %d KiB are parsed",
                        url, ROBOTS_MAX_BYTES // 1024, ROBOTS_MAX_BYTES // 1024)
        return response.status, text, ""

    async def _with_retries(self, origin: str, url: str, headers: dict[str, str], kind: str,
                            conditional: bool, truncate_at: int | None) -> _Raw:
        """One hop, retried on timeouts, broken connections, 429 and 5xx (``origin``: the URL
        asked for, which errors about the answer name)."""
        host = urlsplit(url).netloc

        async def attempt() -> _Raw:
            async with self.gates.slot(host):
                raw = await self._once(url, headers, truncate_at)
            metrics.record_response(kind, raw.status, conditional)
            if raw.status == 429 or raw.status >= 500:
                told = retry_after_seconds(raw.headers.get("retry-after"))
                too_long = told is not None and told > self.settings.fetch_max_retry_after_seconds
                error = http_status_error(origin, raw.status, (
                    f"HTTP {raw.status} with Retry-After {told:.0f} s, more than "
                    "NEWSFLOW_FETCH_MAX_RETRY_AFTER_SECONDS") if too_long else None)
                error.retry_after = told
                raise error
            return raw

        def retrying(error: BaseException, delay: float, tries: int) -> None:
            reason = (("429" if error.status == 429 else "5xx")
                      if isinstance(error, HttpStatusError) else getattr(error, "outcome", ""))
            metrics.RETRIES.labels(kind, reason).inc()
            log.info("retrying %s in %.2f s (%s, attempt %d)", url, delay, reason, tries)

        retry = Retry(self.backoff, retry_on=self._worth_retrying,
                      attempts=self.settings.fetch_retries + 1, wait=asked_delay,
                      before_sleep=retrying)
        return await retry.acall(attempt)

    def _worth_retrying(self, error: BaseException) -> bool:
        """Retryable fetch errors, unless the server asked for a longer pause than we wait."""
        if not isinstance(error, FetchError) or not error.retryable:
            return False
        told = asked_delay(error)
        return told is None or told <= self.settings.fetch_max_retry_after_seconds

    def _bound_cookies(self) -> None:
        """Cookies are kept and sent back (a consent redirect needs its cookie), but the jar
        lives as long as the process: a site that set new ones on every page grew the Cookie
        header until the host refused the requests (400 past nginx's 8 KiB), and those
        articles were dropped for good. Past ``COOKIE_JAR_MAX_BYTES`` the jar is emptied."""
        jar = self.client.cookies.jar
        if sum(len(c.name) + len(c.value or "") for c in jar) > COOKIE_JAR_MAX_BYTES:
            jar.clear()

    async def _once(self, url: str, headers: dict[str, str], truncate_at: int | None) -> _Raw:
        """One request, no redirects; the body is read only for 2xx answers."""
        limit = truncate_at or self.settings.fetch_max_bytes
        self._bound_cookies()
        try:
            async with asyncio.timeout(self.settings.fetch_timeout_seconds):
                async with self.client.stream("GET", url, headers=headers) as response:
                    self._check_peer(url, response)
                    if not 200 <= response.status_code < 300:
                        return _Raw(response.status_code, response.headers, b"")
                    declared = response.headers.get("content-length", "")
                    encoding = response.headers.get("content-encoding", "")
                    if (declared.isdigit() and not encoding and int(declared) > limit
                            and truncate_at is None):
                        raise BodyTooLarge(f"Content-Length {declared} larger than {limit} bytes")
                    inflater = Inflater(encoding, limit, truncate=truncate_at is not None)
                    async for chunk in response.aiter_raw():
                        inflater.feed(chunk)
                        if inflater.truncated:
                            break  # the rest is not read
                    return _Raw(response.status_code, response.headers, inflater.body(),
                                inflater.truncated)
        except BodyTooLarge as exc:
            raise FetchTooLarge(url, str(exc)) from exc
        except BodyCut as exc:  # as a connection broken mid-body: tried again
            raise FetchConnectError(url, str(exc)) from exc
        except httpx.InvalidURL as exc:  # a host name httpx's IDNA refuses, and the like
            raise FetchURLError(url, f"no request can be made to it: {exc}") from exc
        except BlockedURL as exc:
            raise FetchBlocked(url, str(exc)) from exc
        except ValueError as exc:  # unsupported or corrupt Content-Encoding
            raise FetchError(url, str(exc)) from exc
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise FetchTimeout(url, f"timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise FetchConnectError(url, f"{type(exc).__name__}: {exc}") from exc

    def _check_peer(self, url: str, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if peer:
            self.guard.check_peer(url, str(peer[0]))

    async def aclose(self) -> None:
        await self.client.aclose()

"""Article links and dedupe keys, and the article ids derived from the keys.

Two forms of one URL: ``canonical_link`` is what consumers get (the original scheme and host,
still a working link, minus fragments and tracking parameters); ``canonicalize_url`` is the
dedupe key (scheme folded to https, ``www.``/``m.``/``amp.`` dropped...) that makes the same page
reached by different links meet. The key is not meant to be opened.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only track the reader; dropping them makes syndicated links meet.
TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|igshid|yclid|"
    r"_ga|_gl|ref|ref_src|cmpid|ocid|smid|s_cid|at_medium|at_campaign|icid|ito|ncid|sr_share|"
    r"outputType|amp)$",
    re.IGNORECASE,
)
AMP_PATH = re.compile(r"(/amp/?$)|(/amp(?=/))|(\.amp(?=\.html?$|$))", re.IGNORECASE)
AMP_HOST = re.compile(r"^(amp\.|m\.)")


# httpx refuses longer URLs before sending anything; a link or redirect past it is no address.
MAX_URL_CHARS = 65_536


def _resolved(link: str, base: str) -> tuple[str, str | None]:
    """``link`` made absolute against ``base``, and why no request can be made to it (None
    when one can)."""
    url = ""
    try:
        url = urljoin(base, link.strip())
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it is the check: ValueError when out of range
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535"
        return url, str(exc)
    if parts.scheme.lower() not in ("http", "https"):
        return url, "not an http(s) address"
    if not parts.hostname:
        return url, "no host"
    if len(url) > MAX_URL_CHARS:
        return url, f"longer than {MAX_URL_CHARS} characters"
    try:  # as the resolver encodes it: a label over 63 characters, or an empty one, fails there
        parts.hostname.encode("idna")
    except UnicodeError:
        return url, "a host name no resolver can look up (a label empty or over 63 characters)"
    return url, None


def url_fault(link: str, base: str = "") -> str | None:
    """Why no request can be made to ``link`` (made absolute against ``base``), or None when one
    can: not http(s) (an Atom ``tag:`` id, ``javascript:``), no host, a broken IPv6 host, a port
    out of range, a host name the resolver refuses, a URL longer than httpx sends."""
    return _resolved(link, base)[1]


def web_url(link: str, base: str = "") -> str | None:
    """``link``, made absolute against ``base``, if a request can be made to it (`url_fault`
    says why not); None otherwise. Listings hold such links; one of them must cost its own
    entry only."""
    url, fault = _resolved(link, base)
    return None if fault else url


def canonicalize_url(url: str) -> str:
    """Normalise a URL so that the same page reached by different links gets one form.

    Lower-cases scheme and host, drops ``www.``/``amp.``/``m.``, default ports, fragments,
    tracking parameters, AMP path variants and trailing slashes; sorts the remaining query.
    Non-web URLs (``file:``, ``urn:``) are returned stripped but otherwise untouched.
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    host = AMP_HOST.sub("", host.removeprefix("www."))
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = AMP_PATH.sub("", parts.path) or "/"
    path = re.sub(r"/{2,}", "/", path)
    if len(path) > 1:
        path = path.rstrip("/")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not TRACKING_PARAMS.match(k)]
    query.sort()
    # Both schemes name one article; https is what publishers converge on.
    return urlunsplit(("https", netloc, path, urlencode(query), ""))


def canonical_link(url: str) -> str:
    """The URL as a working link: scheme, host, port and path kept; fragment and tracking
    parameters dropped (they never change what the page shows). Non-web URLs are returned
    stripped but otherwise untouched."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not TRACKING_PARAMS.match(k)]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       urlencode(query), ""))


def stable_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def article_id_for_url(url: str) -> str:
    return stable_hash(canonicalize_url(url))[:32]


def article_id_for_content(normalised_text: str) -> str:
    return "c" + stable_hash(normalised_text)[:31]

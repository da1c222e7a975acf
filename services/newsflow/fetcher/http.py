"""HTTP fetching with httpx: a descriptive User-Agent, timeouts and a streamed size cap."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from newsflow.config import Settings


class FetchError(Exception):
    """A fetch failed; ``retryable`` says whether trying again later may help."""

    def __init__(self, url: str, reason: str, *, retryable: bool) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.retryable = retryable


@dataclass(slots=True)
class Response:
    url: str
    status: int
    content: bytes
    content_type: str
    encoding: str
    etag: str | None
    last_modified: str | None

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")


class HttpFetcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            headers={"User-Agent": settings.fetch_user_agent},
            timeout=httpx.Timeout(settings.fetch_timeout_seconds),
            follow_redirects=True,
            max_redirects=5,
        )

    async def get(self, url: str, headers: dict[str, str] | None = None) -> Response:
        limit = self.settings.fetch_max_bytes
        try:
            async with self.client.stream("GET", url, headers=headers) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise FetchError(url, f"body larger than {limit} bytes", retryable=False)
                    chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise FetchError(url, f"timeout: {exc!r}", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"{type(exc).__name__}: {exc}", retryable=True) from exc
        status = response.status_code
        if status >= 400:
            raise FetchError(url, f"HTTP {status}", retryable=status == 429 or status >= 500)
        return Response(
            url=str(response.url),
            status=status,
            content=b"".join(chunks),
            content_type=response.headers.get("content-type", "").split(";")[0].strip(),
            encoding=response.encoding or "utf-8",
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

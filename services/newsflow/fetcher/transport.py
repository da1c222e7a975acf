"""The httpx transport of the fetcher: an httpcore connection pool whose network backend is
the address guard's ``PinnedBackend``.

httpx's own ``AsyncHTTPTransport`` takes no network backend, but httpcore's
``AsyncConnectionPool`` does (its public ``network_backend`` parameter), and httpx accepts any
``AsyncBaseTransport``. So this is the small adapter between the two public APIs: an httpx
request in, an httpx response out, httpcore's errors raised as the httpx errors of the same
name (what ``fetcher/http.py`` catches).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager

import httpcore
import httpx

from newsflow.fetcher.guard import AddressGuard, PinnedBackend

# httpcore error -> httpx error; looked up along the raised error's class hierarchy, so a
# subclass httpcore adds later still maps to its nearest known parent.
ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
}


@contextmanager
def httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped = next((ERRORS[kind] for kind in type(exc).__mro__ if kind in ERRORS), None)
        if mapped is None:
            raise
        raise mapped(str(exc), request=request) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterable[bytes], request: httpx.Request) -> None:
        self.chunks = chunks
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors(self.request):
            async for chunk in self.chunks:
                yield chunk

    async def aclose(self) -> None:
        close = getattr(self.chunks, "aclose", None)  # httpcore's streams release the connection
        if close is not None:
            with httpx_errors(self.request):
                await close()


class GuardedTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 connections made only to addresses the guard checked (no proxy, no
    environment: a proxy would connect on the fetcher's behalf and bypass the guard)."""

    def __init__(self, guard: AddressGuard) -> None:
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0,
            network_backend=PinnedBackend(guard),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions,
        )
        with httpx_errors(request):
            response = await self.pool.handle_async_request(core_request)
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Body(response.stream, request),
                              extensions=response.extensions)

    async def aclose(self) -> None:
        await self.pool.aclose()

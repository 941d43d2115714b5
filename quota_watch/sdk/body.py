"""Bounded body reads that count decompressed bytes: a gzip bomb never outgrows the limit."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from quota_watch.sdk.errors import UnexpectedResponse

if TYPE_CHECKING:
    import httpx

__all__ = ["ACCEPT_ENCODING", "INFLATE_STEP", "aiter_bounded", "read_bounded"]

ACCEPT_ENCODING = "gzip, deflate"
"""The encodings the kit can inflate in bounded steps; sent on every kit request."""

INFLATE_STEP = 64 * 1024
"""At most this many decompressed bytes come out of one inflate call."""


class _Inflater:
    """gzip or deflate, inflated in steps of at most INFLATE_STEP output bytes."""

    def __init__(self, encoding: str, where: str) -> None:
        self._encoding = encoding
        self._where = where
        self._raw_deflate = False
        self._started = False
        self._z = self._new()

    def _new(self) -> zlib._Decompress:
        if self._encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS)

    def _broken(self) -> UnexpectedResponse:
        return UnexpectedResponse(
            f"{self._where}: the {self._encoding} response body does not decompress"
        )

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decompressed pieces of `data`, each at most INFLATE_STEP bytes."""
        while data:
            try:
                piece = self._z.decompress(data, INFLATE_STEP)
            except zlib.error:
                # "deflate" is zlib-wrapped by the RFC but raw in some servers (as httpx allows).
                if self._encoding == "deflate" and not self._started and not self._raw_deflate:
                    self._raw_deflate = True
                    self._z = self._new()
                    continue
                raise self._broken() from None
            self._started = True
            if piece:
                yield piece
            if self._z.eof:
                # A gzip body may be several members back to back; anything else after the
                # end of the stream is left alone, as zlib does.
                data = self._z.unused_data
                if data and self._encoding == "gzip":
                    self._z = self._new()
                    continue
                return
            data = self._z.unconsumed_tail
            if not piece and data:
                raise self._broken()

    def finish(self) -> bytes:
        """What remains after the last input (a few bytes at most: input was drained in steps)."""
        try:
            return self._z.flush()
        except zlib.error:
            raise self._broken() from None


def _inflater(response: httpx.Response, where: str) -> _Inflater | None:
    encodings = [
        e.strip().lower()
        for e in response.headers.get("content-encoding", "").split(",")
        if e.strip() and e.strip().lower() != "identity"
    ]
    if not encodings:
        return None
    if len(encodings) == 1 and encodings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflater("deflate" if encodings[0] == "deflate" else "gzip", where)
    shown = ", ".join(encodings)
    raise UnexpectedResponse(
        f"{where}: response body in Content-Encoding {shown!r}, not one of {ACCEPT_ENCODING}"
    )


def _too_large(where: str, limit: int) -> UnexpectedResponse:
    return UnexpectedResponse(f"{where}: response exceeds {limit} bytes")


async def aiter_bounded(response: httpx.Response, limit: int, where: str) -> AsyncIterator[bytes]:
    """A streamed response's decompressed body in pieces, UnexpectedResponse once more than
    `limit` decompressed bytes arrived (at most `limit` plus one INFLATE_STEP is ever held)."""
    import httpx

    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UnexpectedResponse(f"{where}: response of {declared} bytes exceeds {limit} bytes")
    try:
        already = response.content  # read before (a non-streamed request): count what is held
    except httpx.ResponseNotRead:
        pass
    else:
        if len(already) > limit:
            raise _too_large(where, limit)
        yield already
        return
    inflater = _inflater(response, where)
    size = 0
    async for raw in response.aiter_raw():
        pieces = [raw] if inflater is None else inflater.feed(raw)
        for piece in pieces:
            size += len(piece)
            if size > limit:
                raise _too_large(where, limit)
            yield piece
    if inflater is not None:
        rest = inflater.finish()
        size += len(rest)
        if size > limit:
            raise _too_large(where, limit)
        if rest:
            yield rest


async def read_bounded(response: httpx.Response, limit: int, where: str) -> bytes:
    """A streamed response's whole decompressed body, refusing more than `limit` bytes."""
    chunks = [piece async for piece in aiter_bounded(response, limit, where)]
    return b"".join(chunks)

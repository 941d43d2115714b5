"""A rendered /metrics body kept in pieces: sent in bounded chunks, gzipped piece by piece.

A scrape never joins the whole exposition into one buffer: at 50,000 series (38.5 MiB) that
buffer is above glibc's largest mmap threshold (32 MiB), so every scrape mapped fresh pages
and faulted each one in (~10,000 page faults, half the scrape's CPU), and the cost per series
grew with the body. Chunks of CHUNK_BYTES reuse the allocator's free memory instead.

The accounts' sample lines come in `Piece`s that outlive the scrape (a run of accounts'
pre-rendered lines of one family); each piece deflates once into a segment that does not
refer to anything before it, so a gzip body is those cached segments between the few live
lines (headers, daemon-wide samples), compressed as the scrape goes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence

#: Bytes per chunk the HTTP layer sends: small enough to stay off fresh mmaps, large enough
#: that the per-chunk overhead (an ASGI message, a socket write) is noise.
CHUNK_BYTES = 256 * 1024

#: gzip member header: magic, deflate, no flags, mtime 0, no extra flags, OS unknown (as
#: gzip.compress(mtime=0) writes it).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


class Piece:
    """Sample lines of one family from a run of accounts, as pre-rendered, not joined."""

    __slots__ = ("_deflated", "refs", "size")

    def __init__(self, refs: list[bytes]) -> None:
        self.refs = refs
        self.size = sum(map(len, refs))
        self._deflated: bytes | None = None

    def deflated(self, co: zlib._Compress) -> bytes:
        """Raw deflate of the lines that refers to nothing before it, byte-aligned (made once,
        with `co`, a raw deflate compressor whose last call was a full flush, if any)."""
        if self._deflated is None:
            self._deflated = co.compress(b"".join(self.refs)) + co.flush(zlib.Z_FULL_FLUSH)
        return self._deflated


class Body:
    """A /metrics body: live bytes and cached pieces, in order."""

    __slots__ = ("items", "size")

    def __init__(self, items: Sequence[bytes | Piece]) -> None:
        self.items = items
        self.size = sum(len(i) if isinstance(i, bytes) else i.size for i in items)

    def join(self) -> bytes:
        """The whole body as one bytes object (tests and the one-shot callers)."""
        return b"".join(self.chunks())

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The body in chunks of about `chunk_bytes` (a large piece may make one larger)."""
        pending: list[bytes] = []
        size = 0
        for item in self.items:
            if isinstance(item, bytes):
                pending.append(item)
                size += len(item)
            else:
                pending.extend(item.refs)
                size += item.size
            if size >= chunk_bytes:
                yield b"".join(pending)
                pending, size = [], 0
        if pending:
            yield b"".join(pending)

    def gzip(self, level: int) -> bytes:
        """The body as one gzip member (RFC 1952), the pieces' cached segments reused."""
        out = [_GZIP_HEADER]
        crc = 0
        co = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        live = False  # live bytes went into `co` since its last flush
        segments: zlib._Compress | None = None  # the pieces' compressor, made if one needs it
        for item in self.items:
            if isinstance(item, bytes):
                out.append(co.compress(item))
                crc = zlib.crc32(item, crc)
                live = True
                continue
            if live:
                # A full flush: what `co` writes next refers to nothing before the segment.
                out.append(co.flush(zlib.Z_FULL_FLUSH))
                live = False
            if segments is None:
                segments = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
            out.append(item.deflated(segments))
            for ref in item.refs:
                crc = zlib.crc32(ref, crc)
        out.append(co.flush(zlib.Z_FINISH))  # the final block
        out.append(struct.pack("<II", crc, self.size & 0xFFFFFFFF))
        return b"".join(out)

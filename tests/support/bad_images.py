"""Hostile uploads made in the test: a small PNG that decodes to a giant image, a truncated JPEG."""

from __future__ import annotations

import functools
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=2)
def giant_png(side: int = 20_000) -> bytes:
    """A valid 8-bit greyscale PNG of ``side`` × ``side`` black pixels: about 0.4 MB of file
    for 400 million pixels (1.2 GB once decoded to BGR). Made fast: one deflated block of
    1000 zero rows (a full flush makes it independent of what precedes it) repeated, then an
    empty final block, and the Adler-32 of n zero bytes, (n mod 65521) << 16 | 1."""
    rows = 1000
    assert side % rows == 0
    row = b"\x00" * (side + 1)  # filter byte + pixels
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(row * rows) + packer.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    size = (side + 1) * side
    adler = ((size % 65521) << 16) | 1
    body = b"\x78\xda" + block * (side // rows) + end + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def truncated_jpeg(jpeg: bytes) -> bytes:
    """The first 60 % of a real JPEG: a header that reads, pixels that stop."""
    return jpeg[: int(len(jpeg) * 0.6)]

"""Images written from their specifications, for tests that need real
ones without an imaging library."""

import struct
import zlib


def png(width, height, claimed=None):
    """A PNG of `width` x `height` pixels (a gradient), written here from the
    PNG specification; `claimed` puts other dimensions in its header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (x % 256, y % 256, 80))
                    for y in range(height))
    w, h = claimed or (width, height)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))

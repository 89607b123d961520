"""Counting a JPEG's scans from its marker segments, before any pixel is decoded.

Each scan of a progressive JPEG makes the decoder walk every block of its components again, so
decoding time grows with the number of scans times the pixels: one 61-byte scan repeated 1000
times held a 40 Mpx decode for 29 s. The pixel and memory limits cannot see that; the count can.

Real encoders write few scans: libjpeg's progressive script (``jpeg_simple_progression``, also
jpegtran's ``-progressive``) has 10 for YCbCr, 6 for grayscale and 18 for CMYK, and mozjpeg's
scan optimisation chooses among 64 candidate scans, writing fewer. :data:`MAX_JPEG_SCANS`
allows 100, past the most mozjpeg can write, and bounds the work to about 100 passes over the
image (at the outside test's 23 ms a pass at 40 Mpx, about 2.3 s next to 0.7 s for a plain
decode); nvImageCodec's default against the same attack is 256.

The walk follows the markers as libjpeg does: after SOI, each segment's length is skipped (so
an EXIF thumbnail inside APP1 is never counted), a scan's entropy-coded data runs to the next
marker that is neither a stuffed ``FF 00`` nor a restart marker, fill ``FF`` bytes before a
marker are skipped, and bytes between segments are skipped to the next marker (libjpeg warns of
"extraneous bytes" and goes on). The count stops at EOI: what follows (an MPO's second image) is
not decoded as part of the first.
"""

from __future__ import annotations

import re

MAX_JPEG_SCANS = 100
"""The most scans a JPEG may have (module docstring)."""

_NEXT_MARKER = re.compile(rb"\xff+([^\x00\xff])")
# Markers without a length: TEM, the restart markers RST0-7 and SOI.
_STANDALONE = {0x01, 0xD8, *range(0xD0, 0xD8)}
_EOI = 0xD9
_SOS = 0xDA


def count_scans(data: bytes, *, stop_after: int = MAX_JPEG_SCANS) -> int:
    """The number of SOS segments before EOI in the JPEG ``data``, counted to ``stop_after + 1``
    at most (enough to refuse it): a walk of the marker segments, not a decode."""
    scans = 0
    position = 2  # after SOI, which the caller's format check has seen
    while scans <= stop_after:
        found = _NEXT_MARKER.search(data, position)
        if found is None:
            break
        marker, position = found.group(1)[0], found.end()
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            continue
        if position + 2 > len(data):
            break
        length = int.from_bytes(data[position : position + 2], "big")
        scans += marker == _SOS
        # A scan's entropy-coded data follows its header; the next search skips through it.
        position += max(length, 2)
    return scans

"""The QR code printed on a commune's poster: a PNG a phone camera reads from across a room."""

from __future__ import annotations

import io

import segno

COVER_PIXELS = 1400  # podcast apps want square artwork of 1400 to 3000 pixels


def qr_png(url: str, *, scale: int | None = 10) -> bytes:
    """`url` as a QR code (error correction M survives a creased or smudged poster).

    PNG rather than SVG: it is what the decoder in the tests reads, so the picture on the
    poster is the one that was checked; pages scale it up with crisp pixels for print.
    `scale=None`: large enough for a podcast's cover art (at least COVER_PIXELS square).
    """
    code = segno.make(url, error="m", micro=False)
    if scale is None:
        width, _height = code.symbol_size(scale=1, border=4)
        scale = -(-COVER_PIXELS // int(width))
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()

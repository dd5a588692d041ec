"""The QR code printed on a commune's poster: a PNG a phone camera reads from across a room."""

from __future__ import annotations

import io

import segno


def qr_png(url: str, *, scale: int = 10) -> bytes:
    """`url` as a QR code (error correction M survives a creased or smudged poster).

    PNG rather than SVG: it is what the decoder in the tests reads, so the picture on the
    poster is the one that was checked; pages scale it up with crisp pixels for print.
    """
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()

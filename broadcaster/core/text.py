"""Small text helpers shared across the core."""

from __future__ import annotations

import re
import unicodedata

_NON_SLUG = re.compile(r"[^a-z0-9]+")


def ascii_fold(text: str) -> str:
    """'Phường Chân Mây – Lăng Cô' -> 'Phuong Chan May - Lang Co' (đ has no decomposition)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def slugify(text: str, *, max_length: int | None = None) -> str:
    """ASCII a-z, 0-9 and hyphens: "Chuông Huế" -> "chuong-hue"; for URLs and file names.

    `max_length` cuts the slug without leaving a hyphen at the end (a file name or URL
    part ending in "-" looks broken).
    """
    slug = _NON_SLUG.sub("-", ascii_fold(text).lower()).strip("-")
    if max_length is not None:
        slug = slug[:max_length].rstrip("-")
    return slug

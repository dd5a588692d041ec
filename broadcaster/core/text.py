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


def slugify(text: str) -> str:
    return _NON_SLUG.sub("-", ascii_fold(text).lower()).strip("-")

"""The shipped loanword lexicon (broadcaster/data/loanwords.yaml) and its place in reading.

The file is read once per process. ``normalize`` applies it right after the staff
lexicon, so a staff entry for the same word wins. An approved version is read with the
lexicon frozen at its approval (``FrozenLexicon``): that frozen mapping already holds
the loanword readings of that day, and no live loanword layer is applied over it, so
editing or upgrading the file never changes what an approved bulletin says on air.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import yaml

from broadcaster.speech.tokens import Dictionary

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "loanwords.yaml"


class LoanwordError(ValueError):
    """The loanword file is not a mapping of written words to readings."""


class FrozenLexicon(dict[str, str]):
    """A lexicon frozen at approval: the whole word-level reading, loanwords included."""


def load(path: Path | None = None) -> dict[str, str]:
    """written -> reading from a loanword file (the shipped one by default)."""
    path = path or SHIPPED
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise LoanwordError(f"{path}: expected 'written: reading' lines")
    entries: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip() or not str(key).strip():
            raise LoanwordError(f"{path}: {key!r} needs a reading")
        entries[str(key)] = " ".join(value.split())
    return entries


@lru_cache(maxsize=1)
def shipped() -> dict[str, str]:
    """The shipped entries (cached for the process; callers must not mutate it)."""
    return load()


@lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    return Dictionary(shipped())


def digest() -> str:
    """Changes whenever a shipped reading changes (part of the lexicon version)."""
    text = "".join(f"{k}\t{v}\n" for k, v in sorted(shipped().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]

"""The normalizer's working parts shared by every reader.

Owns the per-line placeholder store (each reading a rule produces is parked there and
stands in the line as one private-use character, so later readers cannot rewrite it),
the clean-up of a raw line, the whole-word dictionary matcher used for abbreviations and
the staff lexicon, the context-word lookups ("the word before this number") and spelling
with Vietnamese letter names. It knows nothing of what any reader reads.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping

_LETTER_NAMES = {
    "a": "a", "ă": "á", "â": "ớ", "b": "bê", "c": "xê", "d": "dê", "đ": "đê",
    "e": "e", "ê": "ê", "f": "ép", "g": "gờ", "h": "hát", "i": "i", "j": "giây",
    "k": "ca", "l": "lờ", "m": "mờ", "n": "nờ", "o": "o", "ô": "ô", "ơ": "ơ",
    "p": "pê", "q": "quy", "r": "rờ", "s": "ét", "t": "tê", "u": "u", "ư": "ư",
    "v": "vê", "w": "vê kép", "x": "ích", "y": "i", "z": "dét",
}  # fmt: skip

# ---------------------------------------------------------------------------
# Placeholders: every reading produced by a rule is parked in a per-line store and
# replaced by one private-use character, so later rules cannot rewrite it and
# context checks still see the original words around it.
# ---------------------------------------------------------------------------

_PH_BASE = 0xF0000
_PH_LIMIT = 0x10FFFD - _PH_BASE
PH = "[\U000f0000-\U0010fffd]"
PH_RE = re.compile(PH)

NUM = "n"
WORD = "w"


class Line:
    """One line being read: its placeholder store and what could not be read in it.

    ``dropped`` lists, in the order found, the tokens taken out of the line because
    nothing can read them (control characters, emoji, scripts other than Latin...);
    ``normalize_report`` turns them into positions. ``loanwords`` says whether the
    shipped loanword layer applies (not under a lexicon frozen at approval).
    """

    __slots__ = ("store", "dropped", "loanwords", "mark")

    def __init__(self, *, loanwords: bool = True, mark: bool = False) -> None:
        self.store: list[tuple[str, str]] = []
        self.dropped: list[str] = []
        self.loanwords = loanwords
        self.mark = mark

    def leave_out(self, token: str, *, expanded: bool = False) -> str:
        """Record ``token`` as unreadable; what stands in its place in the line.

        Normally a space; when marking (the editor's preview), a reading "\\x02n\\x03"
        that says where the n-th dropped token was.
        """
        self.dropped.append(token)
        if self.mark:
            mark = f"\x02{len(self.dropped) - 1}\x03"
            return mark if expanded else self.protect(mark, WORD)
        return " "

    def protect(self, reading: str, kind: str = NUM) -> str:
        if len(self.store) >= _PH_LIMIT:
            return " " + reading + " "
        self.store.append((reading, kind))
        return chr(_PH_BASE + len(self.store) - 1)

    def reading(self, ph: str) -> str:
        return self.store[ord(ph) - _PH_BASE][0]

    def kind(self, ph: str) -> str:
        return self.store[ord(ph) - _PH_BASE][1]

    def expand(self, text: str) -> str:
        return PH_RE.sub(lambda m: " " + self.reading(m.group()) + " ", text)


# A reader: (line text, its placeholder store, the compiled staff lexicon or None)
# -> the text with its readings replaced by placeholders.
Rule = Callable[[str, "Line", "Dictionary | None"], str]

_TONES = dict.fromkeys(map(ord, "\u0300\u0301\u0303\u0309\u0323"))
_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
    r"[aăâeêioôơuưy]{1,3}(?:ch|ng|nh|[cmnpt])?"
)


def strip_tones(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).translate(_TONES))


def is_syllable(word: str) -> bool:
    return _SYLLABLE.fullmatch(strip_tones(word.lower())) is not None


def spell(word: str) -> str:
    names = [_LETTER_NAMES.get(strip_tones(c.lower()), "") for c in word]
    return " ".join(n for n in names if n)


def is_digits(text: str) -> bool:
    # str.isdigit() is also true for "²" and other non-ASCII digits that int() rejects.
    return text.isascii() and text.isdigit()


VOWELS = re.compile("[aăâeêioôơuưy]")

_WORD_RE = re.compile(r"[^\W\d_]+")


_PREV_WORD = re.compile(r"([^\W\d_]+)[\s,(:]*$")


def prev_word(text: str, pos: int) -> str:
    """The word right before ``pos`` (only spaces, commas, "(" or ":" between); lower case.

    A number or a reading in between means there is no adjacent word: "13/8-15/8"
    must not see "ngày" before the second date.
    """
    m = _PREV_WORD.search(text, max(0, pos - 40), pos)
    return m.group(1).lower() if m else ""


def prev_words(text: str, pos: int, n: int) -> str:
    words = _WORD_RE.findall(text[max(0, pos - 60) : pos])
    return " ".join(words[-n:]).lower()


def next_word(text: str, pos: int) -> str:
    m = _WORD_RE.search(text, pos, pos + 40)
    if not m or text[pos : m.start()].strip(" "):
        return ""
    return m.group().lower()


class Dictionary:
    """Whole-word matcher of a dictionary, longest key first.

    A key without lower-case letters matches case-sensitively, any other key
    case-insensitively. Readings of ``numeric`` keys (weekday codes "T2") are parked as
    numbers, so a range between two of them ("T2-T6") is read "đến".
    """

    __slots__ = ("regex", "exact", "folded", "numeric")

    def __init__(
        self, entries: Mapping[str, str], *, numeric: Collection[str] = frozenset()
    ) -> None:
        self.numeric = frozenset(numeric)
        self.exact: dict[str, str] = {}
        self.folded: dict[str, str] = {}
        alts = []
        first_exact: set[str] = set()
        first_folded: set[str] = set()
        for raw_key, raw_value in entries.items():
            # Whitespace is collapsed like the text it is matched against.
            key = " ".join(unicodedata.normalize("NFC", str(raw_key)).split())
            value = " ".join(unicodedata.normalize("NFC", str(raw_value)).split())
            if not key:
                continue
            escaped = re.escape(key)
            if any(c.islower() for c in key):
                self.folded[key.lower()] = value
                alts.append((len(key), key, f"(?i:{escaped})"))
                first_folded.add(key[0])
            else:
                self.exact[key] = value
                alts.append((len(key), key, escaped))
                first_exact.add(key[0])
        alts.sort(key=lambda a: (-a[0], a[1]))
        if not alts:
            self.regex = re.compile(r"(?!x)x")
            return
        pattern = "|".join(a[2] for a in alts)
        # The first-character lookahead lets the engine skip most positions before it
        # tries hundreds of alternatives; it makes a large lexicon ~4x cheaper.
        starts = []
        if first_exact:
            starts.append("[" + "".join(sorted(map(re.escape, first_exact))) + "]")
        if first_folded:
            starts.append("(?i:[" + "".join(sorted(map(re.escape, first_folded))) + "])")
        self.regex = re.compile(rf"(?<![^\W_])(?={'|'.join(starts)})(?:{pattern})(?![^\W_])")

    def lookup(self, text: str) -> str | None:
        if text in self.exact:
            return self.exact[text]
        return self.folded.get(text.lower())

    def apply(self, text: str, line: Line) -> str:
        def repl(m: re.Match[str]) -> str:
            key = m.group()
            value = self.lookup(key)
            if value is None:
                return key
            kind = NUM if key in self.numeric else WORD
            return line.protect(value, kind)

        return self.regex.sub(repl, text)


# --- cleanup of the raw line -------------------------------------------------
# Invisible format characters (soft hyphen, zero-width space/joiners, direction marks,
# byte-order mark) carry no sound and no meaning for a listener: removed silently.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
# Control characters, private-use characters (the placeholders live there) and lone
# surrogates are garbage from a copy and paste: removed, and reported as unreadable.
_CONTROL = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ue000-\uf8ff\U000f0000-\U0010ffff\ud800-\udfff]+"
)
# Letters of other scripts (Cyrillic, Chinese, Thai...): nothing here can read them.
FOREIGN = re.compile(r"[^\W\d_\x00-\u024f\u1e00-\u1eff]+")
# Full-width and ideographic punctuation pasted from other documents is the same pause.
_WIDE_PUNCT = {"。": ".", "，": ",", "、": ",", "：": ":", "；": ";", "！": "!", "？": "?"}
_DASHES = str.maketrans(
    {**{c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"}, **_WIDE_PUNCT}
)
SPACES = re.compile(r"\s+")
_BULLET = re.compile(r"^(?:[•●○▪■◦►*]+\s*|[-+]+\s+|-(?=[^\W\d_]))")


_UNICODE_DIGIT = re.compile(r"(?![0-9])\d")


def _ascii_digit(m: re.Match[str]) -> str:
    return str(unicodedata.decimal(m.group()))


def clean(line: str, dropped: list[str] | None = None) -> str:
    """The raw line tidied for the readers; unreadable characters go to ``dropped``."""
    if not line.isascii():
        line = _INVISIBLE.sub("", line)
    if _CONTROL.search(line):
        if dropped is not None:
            dropped.extend(_CONTROL.findall(line))
        line = _CONTROL.sub("", line)
    if not line.isascii():
        line = _UNICODE_DIGIT.sub(_ascii_digit, line)
    line = line.translate(_DASHES).replace("…", "...").replace("º", "°").replace("˚", "°")
    line = SPACES.sub(" ", line).strip()
    return _BULLET.sub("", line)

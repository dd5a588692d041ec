"""Vietnamese text normalizer: written announcement text -> the words an announcer says.

``normalize(text, lexicon=...)`` turns numbers, dates, times, money, units, phone
numbers, URLs, document symbols and public-administration abbreviations into
Vietnamese words. It is a pure, deterministic function; every regex is compiled at
import time.

Readings chosen (northern / standard broadcast), so the behaviour can be argued with:

* Numbers: see ``numbers.py`` ("nghìn", "linh", "mốt", "lăm", "bốn" after tens).
  Dots group thousands (183.620, 1.128.620); a comma is the decimal mark and is
  read "phẩy". One or two decimals are read as a number ("16,27" -> "mười sáu phẩy
  hai mươi bảy"), a leading zero or three or more decimals digit by digit ("0,05" ->
  "không phẩy không năm"). A dot that cannot be a thousands separator is read
  "chấm" ("4.0" -> "bốn chấm không", as people say it), or "phẩy" when a unit or
  "triệu"/"tỷ" follows ("4.5 tỷ" is a mistyped "4,5 tỷ"). Leading zeros are dropped
  from one- or two-digit numbers ("05" -> "năm"); longer zero-led numbers are read digit
  by digit. Numbers up to 27 digits are read with "triệu tỷ", "tỷ tỷ" (10^15 -> "một
  triệu tỷ"), except account and card numbers, which stay digit by digit. A minus sign
  before a figure is "âm" ("-2°C" -> "âm hai độ xê"); between two figures it is a range.
* Money and units: đ, đồng, VNĐ, VND -> "đồng"; USD, $ -> "đô la mỹ"; "%" -> "phần
  trăm"; km, m, m2/m², m3, ha, kg, °C ... -> "ki lô mét", "mét vuông", "héc ta",
  "độ xê". "/" meaning "per" is read "một": "50.000đ/kg" -> "năm mươi nghìn đồng một
  ki lô gam", "đồng/người/tháng"; a measured quantity per unit of time is read "trên":
  "km/h" -> "ki lô mét trên giờ". Currency signs before or after ($ € £ ¥ ₫) are said
  once for a range ("10$-20$" -> "mười đến hai mươi đô la mỹ"); cents are "xu" ("0,5$"
  -> "năm mươi xu"); colloquial k/tr/t ("2tr5" -> "hai triệu năm trăm nghìn") are money,
  but the "5K" health message stays "năm ca" (money.py). Fractions outside a date are
  "một phần hai", mixed numbers "năm và một phần hai".
* Dates: "ngày mười ba tháng tám năm hai nghìn không trăm hai mươi". "ngày" is added
  when the text does not already say "ngày"/"mùng"/"mồng". Days 1-10 take "mồng"
  ("ngày mồng năm tháng sáu"), the form used in northern broadcasting; if the author
  wrote "mùng" it is kept and not doubled. Month 4 is "tháng tư". "d/m" is a date
  unless the context says fraction ("1/2 dân số", "chiếm 3/4") or address ("số 12/3"
  -> "mười hai trên ba"); "m/yyyy" is "tháng m năm yyyy" ("quý 3/2021" -> "quý ba năm
  ...").
* Times: "17h30", "17:30", "17g30" -> "mười bảy giờ ba mươi phút"; ":00"/"h00" drop
  the minutes. Any "a - b" between two numeric readings is read "a đến b" (ranges,
  "2021-2026", "6h30-7h30", "thứ 2 - thứ 6"), except a score after "tỷ số".
* Ordinals after "thứ": 1 -> "nhất", 4 -> "tư", others cardinal; weekday lists
  "thứ 2, 4, 6" repeat "thứ". Roman numerals are read only after a context word
  (quý, thế kỷ/kỉ, đại hội, khóa, lần thứ, cấp, chương, mục, phần, đoạn, khoản, năm ...),
  in upper or lower case up to MMMCMXCIX; single letters (C, D, L, M), common capitals
  (MC, CD, XL) and syllables followed by a word stay letters or words, so "hạng C" or
  "phần di sản" are not numerals.
* Document symbols "số 215/KH-UBND", "100/2019/NĐ-CP": the number as a cardinal,
  "/" as "trên", "-" as "gạch ngang"; known issuers are read in full (UBND ->
  "ủy ban nhân dân", CP -> "chính phủ", TTg -> "thủ tướng"), document-type codes
  (KH, QĐ, NQ, CT, TT ...) are spelled with Vietnamese letter names ("ca hát",
  "quy đê") because they are identifiers a listener may need to look the paper up.
* Phone numbers (0..., +84, 1800/1900 hotlines, 111-116 after "gọi", "số",
  "đường dây nóng", ..., other short numbers only after such a word) are read digit
  by digit, one comma-separated group per written group (the comma gives the pause an
  announcer makes), or 4-3-3 / 4-3-4 when written without separators.
* URLs drop the scheme and "www", read "." as "chấm" and "/" as "gạch chéo"; path
  words have hyphens turned into spaces. E-mail "@" is "a còng". Short labels are
  spelled (vn -> "vê nờ").
* Unknown all-caps tokens that are not a Vietnamese syllable are spelled with letter
  names (CT -> "xê tê"); all-caps Vietnamese words ("THÔNG BÁO") are just lowered.
* Outline markers at the start of a line ("I.", "2.", "a)") become "một,", "hai,",
  "a,"; a leading "-" or "•" bullet is dropped.
* Output is lower case; commas, periods and other prosody punctuation are kept,
  brackets and spaced dashes become commas, quotes are dropped, whitespace is
  collapsed, and newlines are preserved one for one (other line-break characters such
  as "\r" or U+2028 become spaces, so ``str.splitlines`` agrees with ``split("\n")``).

Where each reading lives: ``contacts.py`` (URLs, e-mail, phones), ``abbreviations.py``
(the dictionary and the staff lexicon), ``symbols.py`` (document symbols, codes,
spelled words, signs and punctuation), ``dates.py`` (dates, times), ``figures.py``
(plain numbers, ordinals, Roman numerals, ranges), ``units.py`` (units, money,
percent, "per"); ``numbers.py`` says the number words and ``tokens.py`` holds the
parts they share. This module only says in which order they read a line.

Nothing is dropped silently: every character is read (signs are named: "#" -> "thăng",
"§" -> "mục", "^" -> "mũ", "$" -> "đô la mỹ", Greek letters by name), kept as a pause,
dropped as markup that has no sound (quotes, "*", "_", invisible format characters), or
left out and reported: ``normalize_report`` returns the spoken text with every token it
could not read (emoji, words in other scripts, control characters, unknown signs) and
its place, for ``broadcaster normalize --strict`` and the editor's preview.

Loanwords ("app" -> "áp", "QR" -> "kiu a") come from the shipped, editable file
broadcaster/data/loanwords.yaml (``loanwords.py``), applied right after the staff lexicon,
except under a lexicon frozen at approval, which already holds them.

Lexicon (staff pronunciation dictionary): applied before every rule, whole-word,
longest key first. A key without any lower-case letter ("UBND", "5K", "TT&TT") is
matched case-sensitively; a key containing lower case ("Bluezone", "Đ/c") is matched
case-insensitively. Its readings override the built-in ``ABBREVIATIONS`` and are
emitted as written (lower-cased), without further rewriting.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from broadcaster.speech.abbreviations import (
    ABBREVIATIONS,
    compile_lexicon,
    read_abbreviations,
    read_lexicon,
    read_loanwords,
)
from broadcaster.speech.contacts import read_phones, read_urls
from broadcaster.speech.dates import read_date_words, read_dates, read_times
from broadcaster.speech.figures import (
    read_joins,
    read_leftover_digits,
    read_minus,
    read_numbers,
    read_ordinals,
    read_roman,
)
from broadcaster.speech.loanwords import FrozenLexicon
from broadcaster.speech.money import read_colloquial, read_money
from broadcaster.speech.numbers import number_to_words
from broadcaster.speech.symbols import read_alnum, read_doc_symbols, read_symbols, read_words
from broadcaster.speech.tokens import FOREIGN, SPACES, Dictionary, Line, Rule, clean
from broadcaster.speech.units import read_per, read_units

__all__ = [
    "ABBREVIATIONS",
    "Normalized",
    "Unreadable",
    "normalize",
    "normalize_report",
    "number_to_words",
]

# The readers, in the order they read a line, each with whether it only reads lines
# that hold a digit (a line without digits skips those). Order matters: a reader
# never sees what an earlier one claimed, so the most specific forms come first (a
# URL before a phone number, a document symbol before a date, a date before a plain
# number) and the catch-alls last. A new form is one reader and one row here.
_READERS: tuple[tuple[Rule, bool], ...] = (
    (read_urls, False),
    (read_lexicon, False),
    (read_loanwords, False),
    (read_phones, True),
    (read_doc_symbols, True),
    (read_colloquial, True),
    (read_abbreviations, False),
    (read_times, True),
    (read_dates, True),
    (read_date_words, True),
    (read_roman, False),
    (read_ordinals, True),
    (read_money, False),
    (read_minus, True),
    (read_units, True),
    (read_numbers, True),
    (read_per, False),
    (read_alnum, True),
    (read_joins, False),
    (read_leftover_digits, True),
    (read_words, False),
    (read_symbols, False),
)
_RULES = tuple(reader for reader, _ in _READERS)
_RULES_NO_DIGIT = tuple(reader for reader, digits_only in _READERS if not digits_only)
_HAS_DIGIT = re.compile("[0-9]")

_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_PUNCT_RUN = re.compile(r"([,.;:!?])(?:\s*[,.;:!?])+")
_PUNCT_NO_SPACE = re.compile(r"([,;:!?]|\.(?!\d))(?=[^\W_])")
_STRONG = ".!?"


def _merge_punct(m: re.Match[str]) -> str:
    run = "".join(m.group().split())
    for c in run:
        if c in _STRONG:
            return c
    return run[0]


def _tidy(text: str) -> str:
    text = SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _PUNCT_RUN.sub(_merge_punct, text)
    text = _PUNCT_NO_SPACE.sub(r"\1 ", text)
    text = text.lstrip(" ,;:").rstrip(" ,;")
    if text[:1] in (".", "!", "?"):
        text = text[1:].lstrip()
    return text.lower()


def _read_line(
    raw: str, lex: Dictionary | None, loanwords: bool, mark: bool = False
) -> tuple[str, Line]:
    line = Line(loanwords=loanwords, mark=mark)
    text = clean(raw, line.dropped)
    if not text:
        return "", line
    rules = _RULES if _HAS_DIGIT.search(text) else _RULES_NO_DIGIT
    for rule in rules:
        text = rule(text, line, lex)
    text = line.expand(text)
    if not text.isascii() and FOREIGN.search(text):
        # A reader passed a word of another script on (in a code such as "12你好").
        text = FOREIGN.sub(lambda m: line.leave_out(m.group(), expanded=True), text)
    return _tidy(text), line


def _compiled(lexicon: Mapping[str, str] | None) -> Dictionary | None:
    if not lexicon:
        return None
    # Cached on the items in the caller's order: the lexicon comes fresh from the
    # database on every call, and hashing its items is far cheaper than compiling.
    try:
        return compile_lexicon(tuple(lexicon.items()))
    except TypeError:
        return compile_lexicon(tuple((str(k), str(v)) for k, v in lexicon.items()))


def normalize(text: str, *, lexicon: Mapping[str, str] | None = None) -> str:
    """Return what a Vietnamese announcer would say for ``text``.

    One output line per input line ("\\n" only; other line-break characters are
    treated as spaces). See the module docstring for the readings chosen. Anything
    that cannot be read is left out; ``normalize_report`` says what and where.
    """
    text = unicodedata.normalize("NFC", text)
    lex = _compiled(lexicon)
    loanwords = not isinstance(lexicon, FrozenLexicon)
    return "\n".join(_read_line(raw, lex, loanwords)[0] for raw in text.split("\n"))


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A token nothing could read, at ``text[start:end]`` of the NFC-normalized input."""

    token: str
    start: int
    end: int

    @property
    def label(self) -> str:
        """The token as it can be printed: invisible characters as U+XXXX."""
        if self.token.isprintable():
            return self.token
        return " ".join(c if c.isprintable() else f"U+{ord(c):04X}" for c in self.token)


@dataclass(frozen=True, slots=True)
class Normalized:
    """The spoken text, what was left out of it, and the spoken text with it marked.

    ``marked`` is the spoken text as (text, unreadable) pieces: each unreadable token
    written where it stood, flagged True, so a preview can highlight it in place.
    """

    spoken: str
    unreadable: tuple[Unreadable, ...]
    marked: tuple[tuple[str, bool], ...]


# What a spoken line may contain once read: Latin letters, spaces and pauses.
_SPEAKABLE = re.compile(r"[^\W\d_\x00-\u024f\u1e00-\u1eff]|[^\w ,.;:!?\x02\x03]|[_]")
_MARK = re.compile("\x02([0-9]+)\x03")


def _pieces(said: str, written: list[str]) -> list[tuple[str, bool]]:
    pieces: list[tuple[str, bool]] = []
    for i, part in enumerate(_MARK.split(said)):
        if i % 2:
            pieces.append((written[int(part)], True))
        elif part:
            pieces.append((part, False))
    return pieces


def _locate(raw: str, token: str, cursor: int) -> tuple[int, int] | None:
    """Where `token` stands in the line as written: (start, end), or None."""
    for haystack, needle in ((raw, token), (raw.lower(), token.lower())):
        at = haystack.find(needle, cursor)
        if at < 0:
            at = haystack.find(needle)
        if at >= 0:
            return at, at + len(needle)
    # The line is cleaned before it is read: invisible characters that stood between the
    # token's own characters are gone from it, so the token spans more of the line.
    return _locate_spread(raw, token, cursor) or _locate_spread(raw, token, 0)


def _locate_spread(raw: str, token: str, start: int) -> tuple[int, int] | None:
    wanted = token.lower()
    for begin in range(start, len(raw)):
        i, j = begin, 0
        while i < len(raw) and j < len(wanted):
            if raw[i].lower() == wanted[j]:
                i, j = i + 1, j + 1
            elif j and unicodedata.category(raw[i]) in ("Cf", "Cc"):
                i += 1
            else:
                break
        if j == len(wanted):
            return begin, i
    return None


def normalize_report(text: str, *, lexicon: Mapping[str, str] | None = None) -> Normalized:
    """``normalize`` plus every token it could not read, with its place in ``text``.

    Positions are offsets into the NFC form of ``text`` (what the editor shows).
    """
    text = unicodedata.normalize("NFC", text)
    lex = _compiled(lexicon)
    loanwords = not isinstance(lexicon, FrozenLexicon)
    spoken: list[str] = []
    found: list[Unreadable] = []
    marked: list[tuple[str, bool]] = []
    offset = 0
    for number, raw in enumerate(text.split("\n")):
        said, line = _read_line(raw, lex, loanwords)
        spoken.append(said)
        # Safety net: a character that reached the output unread is reported too.
        written: list[str] = []
        cursor = 0
        for token in line.dropped + _SPEAKABLE.findall(said):
            place = _locate(raw, token, cursor)
            if place is None:
                at = end = cursor
            else:
                # A reader may have lower-cased it: report it as written.
                at, end = place
                cursor = end
            as_written = raw[at:end]
            # The marks go where the reading shows the token, without the invisible
            # characters cleaning took out; the report names what the editor typed.
            written.append(as_written if len(as_written) == len(token) else token)
            found.append(Unreadable(as_written or token, offset + at, offset + end))
        offset += len(raw) + 1
        if number:
            marked.append(("\n", False))
        if line.dropped:
            # Read again, marking: the marks move the spaces, so not the spoken text.
            marked += _pieces(_read_line(raw, lex, loanwords, mark=True)[0], written)
        elif said:
            marked.append((said, False))
    found.sort(key=lambda u: (u.start, u.end))
    return Normalized("\n".join(spoken), tuple(found), tuple(marked))

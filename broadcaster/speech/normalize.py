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
  from one- or two-digit numbers ("05" -> "năm"); longer zero-led numbers and numbers
  over 15 digits are read digit by digit.
* Money and units: đ, đồng, VNĐ, VND -> "đồng"; USD, $ -> "đô la mỹ"; "%" -> "phần
  trăm"; km, m, m2/m², m3, ha, kg, °C ... -> "ki lô mét", "mét vuông", "héc ta",
  "độ xê". "/" meaning "per" is read "một": "50.000đ/kg" -> "năm mươi nghìn đồng một
  ki lô gam", "km/h" -> "ki lô mét một giờ", "đồng/người/tháng".
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
  (quý, thế kỷ, đại hội, khóa, lần thứ, cấp, ...), and only I/V/X forms up to 39 so
  "hạng C" or "nhóm D" stay letters.
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

from broadcaster.speech.abbreviations import (
    ABBREVIATIONS,
    compile_lexicon,
    read_abbreviations,
    read_lexicon,
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
from broadcaster.speech.money import read_colloquial, read_money
from broadcaster.speech.numbers import number_to_words
from broadcaster.speech.symbols import read_alnum, read_doc_symbols, read_symbols, read_words
from broadcaster.speech.tokens import SPACES, Dictionary, Line, Rule, clean
from broadcaster.speech.units import read_per, read_units

__all__ = ["ABBREVIATIONS", "normalize", "number_to_words"]

# The readers, in the order they read a line, each with whether it only reads lines
# that hold a digit (a line without digits skips those). Order matters: a reader
# never sees what an earlier one claimed, so the most specific forms come first (a
# URL before a phone number, a document symbol before a date, a date before a plain
# number) and the catch-alls last. A new form is one reader and one row here.
_READERS: tuple[tuple[Rule, bool], ...] = (
    (read_urls, False),
    (read_lexicon, False),
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


def _normalize_line(raw: str, lex: Dictionary | None) -> str:
    text = clean(raw)
    if not text:
        return ""
    line = Line()
    rules = _RULES if _HAS_DIGIT.search(text) else _RULES_NO_DIGIT
    for rule in rules:
        text = rule(text, line, lex)
    text = line.expand(text)
    return _tidy(text)


def normalize(text: str, *, lexicon: Mapping[str, str] | None = None) -> str:
    """Return what a Vietnamese announcer would say for ``text``.

    One output line per input line ("\\n" only; other line-break characters are
    treated as spaces). See the module docstring for the readings chosen.
    """
    text = unicodedata.normalize("NFC", text)
    lex = None
    if lexicon:
        # Cached on the items in the caller's order: the lexicon comes fresh from the
        # database on every call, and hashing its items is far cheaper than compiling.
        try:
            lex = compile_lexicon(tuple(lexicon.items()))
        except TypeError:
            lex = compile_lexicon(tuple((str(k), str(v)) for k, v in lexicon.items()))
    return "\n".join(_normalize_line(raw, lex) for raw in text.split("\n"))

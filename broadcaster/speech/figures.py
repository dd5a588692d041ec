"""Readers of figures in running text: plain and decimal numbers, ordinals, Roman numerals.

Owns the readers of a bare figure ("183.620", "4,5 tỷ"), ordinals after "thứ" ("thứ 2,
4, 6"), Roman numerals after a context word ("quý III"), outline markers ("I.", "a)"),
the joins between two numeric readings ("a - b" -> "a đến b", "a/b" -> "a trên b") and
minus signs ("-2°C" -> "âm hai độ xê") and the digits no other reader claimed. A range of
money says its currency once ("60.000đ-65.000đ"). Roman numerals up to MMMCMXCIX, upper or
lower case, are read after the words that number a part of a text, a century or a year
("chương cccxlv", "thế kỉ xix", "năm MCMXCIX"). The number words are ``numbers.py``'s;
fractions are read with dates (``dates.py``), as only the context tells them apart.
"""

from __future__ import annotations

import re

from broadcaster.speech.money import CURRENCIES
from broadcaster.speech.numbers import (
    digits_to_words,
    int_words,
    month_to_words,
    number_to_words,
    number_words,
    ordinal_to_words,
)
from broadcaster.speech.tokens import (
    NUM,
    PH,
    WORD,
    Dictionary,
    Line,
    is_syllable,
    next_word,
    prev_words,
    spell,
)
from broadcaster.speech.units import NUMTOK, SCALE

# --- Roman numerals in context ----------------------------------------------------
_ROMAN = r"(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})"
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_ROMAN_HINT = re.compile(r"(?<![^\W_])[IVX]+(?![^\W_])")
_ROMAN_CONTEXT = (
    "quý|thế kỷ|thế kỉ|đại hội|trung ương|khóa|khoá|thứ|kỳ|kì|phần|chương|mục|tập|đợt|"
    "giai đoạn|cấp|hạng|loại|vùng|nhóm|quân khu|khu vực|tháng|phụ lục|lần|mức độ|mức"
)
_ROMAN_RE = re.compile(
    rf"(?i:\b(?P<w>{_ROMAN_CONTEXT}))\s+(?P<r>{_ROMAN})(?![\w])"
    r"(?:/(?P<y>[0-9]{4})(?![\w]))?"
)
# After the words that number parts of a text, centuries and years, any valid numeral up
# to MMMCMXCIX, in upper or lower case ("thế kỉ xix", "mục XCIX", "năm MCMXCIX"); one of
# C, D, L, M alone is a letter ("phần C", "khoản d"), and so is a unit ("năm mm") or a
# common abbreviation ("năm MC").
_FULL_ROMAN = r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_FULL_CONTEXT = "chương|mục|phần|đoạn|khoản|thế kỷ|thế kỉ|thứ|năm"
_FULL_ROMAN_RE = re.compile(
    rf"(?i:\b(?P<w>{_FULL_CONTEXT}))\s+(?P<r>[IVXLCDM]+|[ivxlcdm]+)(?![\w])"
)
_FULL_ROMAN_VALID = re.compile(_FULL_ROMAN)
# Outline markers at the start of a line: "I.", "2.", "a)" -> "một,", "hai,", "a,".
_HEADING = re.compile(rf"^(?:(?P<r>{_ROMAN})|(?P<n>[0-9]{{1,2}})|(?P<l>[a-zđ]))[.)]\s")
_WORD_AFTER = re.compile(r"\s+[^\W\d_]")
# Letters, units and common capitals that happen to be valid numerals ("năm MC", "cỡ XL").
_NOT_ROMAN = frozenset("C D L M mm cm dm ml dl cl mi li MC MV CD DC CC CM MD XL".split())


def _roman_value(numeral: str) -> int:
    total = 0
    for i, c in enumerate(numeral):
        v = _ROMAN_VALUES[c]
        if i + 1 < len(numeral) and _ROMAN_VALUES[numeral[i + 1]] > v:
            total -= v
        else:
            total += v
    return total


def _context_reading(word: str, value: int) -> str:
    low = word.lower()
    if low == "thứ":
        return ordinal_to_words(value)
    if low == "tháng":
        return month_to_words(value)
    return number_to_words(value)


def read_roman(text: str, line: Line, lex: Dictionary | None) -> str:
    def full(m: re.Match[str]) -> str:
        raw = m.group("r")
        numeral = raw.upper()
        if raw in _NOT_ROMAN or (len(raw) == 1 and numeral in _NOT_ROMAN):
            return m.group()
        if not _FULL_ROMAN_VALID.fullmatch(numeral):
            return m.group()
        # "phần di sản", "mục vi phạm", "PHẦN DI SẢN": a syllable that starts a word pair
        # is that word; "chương vi," and "Phần VI của" are numerals.
        word_like = numeral[0] != "I" and is_syllable(raw)  # "vi", "xi", "di"; not "ii"
        if word_like and (raw.islower() or m.group("w").isupper()):
            if _WORD_AFTER.match(m.string, m.end()):
                return m.group()
        reading = _context_reading(m.group("w"), _roman_value(numeral))
        return f"{m.group('w')} " + line.protect(reading)

    def repl(m: re.Match[str]) -> str:
        reading = _context_reading(m.group("w"), _roman_value(m.group("r")))
        if m.group("y"):
            reading += " năm " + number_to_words(int(m.group("y")))
        return f"{m.group('w')} " + line.protect(reading)

    def heading(m: re.Match[str]) -> str:
        if m.group("r"):
            reading = number_to_words(_roman_value(m.group("r")))
        elif m.group("n"):
            reading = number_to_words(int(m.group("n")))
        else:
            reading = spell(m.group("l"))
        return line.protect(reading, WORD) + ", "

    text = _HEADING.sub(heading, text)
    text = _FULL_ROMAN_RE.sub(full, text)
    return _ROMAN_RE.sub(repl, text) if _ROMAN_HINT.search(text) else text


# --- minus signs ---------------------------------------------------------------------
# A "-" right before a digit is a minus unless it joins two numbers ("5-10", "5 -10"),
# or belongs to a word or code ("Covid-19", "NĐ-CP"); symbols, phones and dates were
# read before this runs. "-2°C" -> "âm hai độ xê", "-0,007" -> "âm không phẩy ...".
_MINUS_RE = re.compile(r"(?<![\w.,/$€£¥₫)\]-])-(?=[0-9])")
_NUMBER_BEFORE = re.compile(rf"(?:[0-9%°]|{PH})\s*$")


def read_minus(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        if _NUMBER_BEFORE.search(m.string, max(0, m.start() - 4), m.start()):
            return m.group()
        return line.protect("âm", WORD) + " "

    return _MINUS_RE.sub(repl, text) if "-" in text else text


# --- ordinals after "thứ" ------------------------------------------------------------
_ORD_ITEM = r"[0-9]{1,3}(?![\w]|[.,/:][0-9])"
_THU_RE = re.compile(
    rf"(?i:\b(?P<w>thứ))\s+(?P<n>{_ORD_ITEM})"
    rf"(?P<more>(?:\s*(?:,|-|và|đến|hoặc)\s*[2-8](?![\w]|[.,/:][0-9]))*)"
)
_THU_SPLIT = re.compile(r"\s*(,|-|và|đến|hoặc)\s*([0-9]+)")


def read_ordinals(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        first = int(m.group("n"))
        more = m.group("more")
        if more and not 2 <= first <= 8:
            more = ""
        out = f"{m.group('w')} " + line.protect(ordinal_to_words(first))
        for sep, num in _THU_SPLIT.findall(more):
            joiner = {",": ",", "-": " đến"}.get(sep, " " + sep)
            out += f"{joiner} thứ " + line.protect(ordinal_to_words(int(num)))
        return out

    return _THU_RE.sub(repl, text)


_NUMBER_RE = re.compile(rf"(?<![\w.,])(?P<num>{NUMTOK})(?![\w])")

_SCALE_WORDS = frozenset(SCALE.split("|"))


# A run of 16+ digits is a number ("triệu tỷ") unless it names an account, a card or a
# code, which is read digit by digit as it must be copied down.
_IDENTIFIER_WORDS = frozenset(
    "khoản stk thẻ mã seri serial hiệu cccd cmnd danh đơn vận hợp".split()
)


def _long_identifier(text: str, pos: int) -> bool:
    return not _IDENTIFIER_WORDS.isdisjoint(prev_words(text, pos, 3).split())


def read_numbers(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        num = m.group("num")
        if len(num) > 15 and num.isdigit() and _long_identifier(m.string, m.start()):
            return line.protect(digits_to_words(num))
        dot = "phẩy" if next_word(m.string, m.end()) in _SCALE_WORDS else "chấm"
        return line.protect(number_words(m.group("num"), dot))

    return _NUMBER_RE.sub(repl, text)


# --- joins between readings ---------------------------------------------------------
_CURRENCY_WORDS = frozenset(CURRENCIES.values())
_RANGE_JOIN = re.compile(rf"({PH})\s*-\s*(?=(?:(?i:thứ)\s+)?({PH}))")
_OVER_JOIN = re.compile(rf"({PH})[/:](?=({PH}))")


def read_joins(text: str, line: Line, lex: Dictionary | None) -> str:
    def range_join(m: re.Match[str]) -> str:
        a, b = m.group(1), m.group(2)
        if line.kind(a) == NUM and line.kind(b) == NUM:
            if prev_words(m.string, m.start(), 2) in ("tỷ số", "tỉ số"):
                return f"{a} "
            first, second = line.reading(a), line.reading(b)
            for currency in _CURRENCY_WORDS:
                # "60.000đ-65.000đ": the currency is said once, as in "10$-20$"
                if first.endswith(" " + currency) and f" {currency}" in second:
                    return line.protect(first.removesuffix(" " + currency)) + " đến "
            return f"{a} đến "
        return m.group()

    def over_join(m: re.Match[str]) -> str:
        a, b = m.group(1), m.group(2)
        if line.kind(a) == NUM and line.kind(b) == NUM:
            return f"{a} trên "
        return m.group()

    text = _RANGE_JOIN.sub(range_join, text)
    return _OVER_JOIN.sub(over_join, text)


# --- digits no rule claimed ("abc,5", "1.2.3.4/5") ------------------------------------
_DIGITS_RE = re.compile(r"[0-9]+")


def read_leftover_digits(text: str, line: Line, lex: Dictionary | None) -> str:
    return _DIGITS_RE.sub(lambda m: line.protect(int_words(m.group())), text)

"""Readers of figures in running text: plain and decimal numbers, ordinals, Roman numerals.

Owns the readers of a bare figure ("183.620", "4,5 tỷ"), ordinals after "thứ" ("thứ 2,
4, 6"), Roman numerals after a context word ("quý III"), outline markers ("I.", "a)"),
the joins between two numeric readings ("a - b" -> "a đến b", "a/b" -> "a trên b") and
the digits no other reader claimed. The number words themselves are ``numbers.py``'s.
Minus signs and fractions (issue 14) are readers of this kind.
"""

from __future__ import annotations

import re

from broadcaster.speech.numbers import (
    int_words,
    month_to_words,
    number_to_words,
    number_words,
    ordinal_to_words,
)
from broadcaster.speech.tokens import NUM, PH, WORD, Dictionary, Line, next_word, prev_words, spell
from broadcaster.speech.units import NUMTOK, SCALE

# --- Roman numerals in context ----------------------------------------------------
_ROMAN = r"(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})"
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}
_ROMAN_HINT = re.compile(r"(?<![^\W_])[IVX]+(?![^\W_])")
_ROMAN_CONTEXT = (
    "quý|thế kỷ|thế kỉ|đại hội|trung ương|khóa|khoá|thứ|kỳ|kì|phần|chương|mục|tập|đợt|"
    "giai đoạn|cấp|hạng|loại|vùng|nhóm|quân khu|khu vực|tháng|phụ lục|lần|mức độ|mức"
)
_ROMAN_RE = re.compile(
    rf"(?i:\b(?P<w>{_ROMAN_CONTEXT}))\s+(?P<r>{_ROMAN})(?![\w])"
    r"(?:/(?P<y>[0-9]{4})(?![\w]))?"
)
# Outline markers at the start of a line: "I.", "2.", "a)" -> "một,", "hai,", "a,".
_HEADING = re.compile(rf"^(?:(?P<r>{_ROMAN})|(?P<n>[0-9]{{1,2}})|(?P<l>[a-zđ]))[.)]\s")


def _roman_value(numeral: str) -> int:
    total = 0
    for i, c in enumerate(numeral):
        v = _ROMAN_VALUES[c]
        if i + 1 < len(numeral) and _ROMAN_VALUES[numeral[i + 1]] > v:
            total -= v
        else:
            total += v
    return total


def read_roman(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        word, value = m.group("w"), _roman_value(m.group("r"))
        low = word.lower()
        if low == "thứ":
            reading = ordinal_to_words(value)
        elif low == "tháng":
            reading = month_to_words(value)
        else:
            reading = number_to_words(value)
        if m.group("y"):
            reading += " năm " + number_to_words(int(m.group("y")))
        return f"{word} " + line.protect(reading)

    def heading(m: re.Match[str]) -> str:
        if m.group("r"):
            reading = number_to_words(_roman_value(m.group("r")))
        elif m.group("n"):
            reading = number_to_words(int(m.group("n")))
        else:
            reading = spell(m.group("l"))
        return line.protect(reading, WORD) + ", "

    text = _HEADING.sub(heading, text)
    return _ROMAN_RE.sub(repl, text) if _ROMAN_HINT.search(text) else text


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


def read_numbers(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        dot = "phẩy" if next_word(m.string, m.end()) in _SCALE_WORDS else "chấm"
        return line.protect(number_words(m.group("num"), dot))

    return _NUMBER_RE.sub(repl, text)


# --- joins between readings ---------------------------------------------------------
_RANGE_JOIN = re.compile(rf"({PH})\s*-\s*(?=(?:(?i:thứ)\s+)?({PH}))")
_OVER_JOIN = re.compile(rf"({PH})[/:](?=({PH}))")


def read_joins(text: str, line: Line, lex: Dictionary | None) -> str:
    def range_join(m: re.Match[str]) -> str:
        a, b = m.group(1), m.group(2)
        if line.kind(a) == NUM and line.kind(b) == NUM:
            if prev_words(m.string, m.start(), 2) in ("tỷ số", "tỉ số"):
                return f"{a} "
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

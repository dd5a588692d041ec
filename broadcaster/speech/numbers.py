"""Vietnamese number words (northern / standard broadcast reading).

Readings chosen, and why:

* "nghìn" (not "ngàn"), "triệu", "tỷ": the forms used by VTV/VOV and in legal
  documents that spell amounts out ("Bằng chữ: ...").
* "linh" for a zero tens digit after hundreds ("một trăm linh năm"), the northern
  form; the southern "lẻ" is not used.
* "mốt" for 1 after tens >= 2 ("hai mươi mốt"), "lăm" for 5 after any tens
  ("mười lăm", "hai mươi lăm"), "bốn" (not "tư") for 4 after tens: "hai mươi bốn"
  is the form written in legal text and cannot be misheard; "tư" is kept for the
  ordinal ("thứ tư") and the month ("tháng tư"), see ``ordinal_to_words``.
* Inner zero groups are read out in full ("một nghìn không trăm linh năm",
  "một triệu không trăm linh năm"), which is how amounts are read aloud, while
  all-zero groups are skipped ("hai triệu một trăm").
* Above 999 999 999 the "tỷ" block recurses: 10^12 is "một nghìn tỷ", 10^15 is
  "một triệu tỷ", 10^18 is "một tỷ tỷ". Digit strings up to 27 digits are read this
  way (issue 14); longer ones, and zero-led ones, are identifiers read digit by digit.

The package ``vn-numberwords`` was measured and not used: it reads 65, 75, 85
and 95 as "... mươi năm" instead of "... mươi lăm" and converts through float,
so integers above 2^53 come out wrong or raise.
"""

from __future__ import annotations

import re

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_DIGIT_VALUE = {word: value for value, word in enumerate(DIGITS)}
_BILLION = 1_000_000_000


def _triplet(n: int, *, full: bool) -> list[str]:
    """Words for 0 < n < 1000; ``full`` reads a zero hundreds digit aloud."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
        if tens == 0 and units:
            words += ["linh", DIGITS[units]]
            return words
    if tens == 0:
        if units:
            words.append(DIGITS[units])
        return words
    if tens == 1:
        words.append("mười")
    else:
        words += [DIGITS[tens], "mươi"]
    if units == 1 and tens >= 2:
        words.append("mốt")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(DIGITS[units])
    return words


def _below_billion(n: int, *, full: bool) -> list[str]:
    """Words for 0 < n < 10^9; ``full`` when a higher block was already read."""
    words: list[str] = []
    for scale, name in ((1_000_000, "triệu"), (1_000, "nghìn"), (1, "")):
        group, n = divmod(n, scale)
        if group:
            words += _triplet(group, full=full)
            if name:
                words.append(name)
            full = True
    return words


def _words(n: int) -> list[str]:
    if n < _BILLION:
        return _below_billion(n, full=False)
    high, low = divmod(n, _BILLION)
    words = _words(high) + ["tỷ"]
    if low:
        words += _below_billion(low, full=True)
    return words


def number_to_words(n: int) -> str:
    """Vietnamese cardinal reading of an integer, e.g. 1005 -> "một nghìn không trăm linh năm"."""
    n = int(n)
    if n < 0:
        return "âm " + number_to_words(-n)
    if n == 0:
        return DIGITS[0]
    return " ".join(_words(n))


def digits_to_words(digits: str) -> str:
    """Read a string of ASCII digits one by one: "113" -> "một một ba"."""
    return " ".join(DIGITS[ord(c) - 48] for c in digits)


def ordinal_to_words(n: int) -> str:
    """Reading after "thứ": thứ nhất, thứ hai, thứ ba, thứ tư, thứ năm, ..."""
    if n == 1:
        return "nhất"
    if n == 4:
        return "tư"
    return number_to_words(n)


def month_to_words(n: int) -> str:
    """Month names: tháng một ... tháng tư ... tháng mười hai."""
    return "tư" if n == 4 else number_to_words(n)


def fraction_digits_to_words(frac: str) -> str:
    """The part after a decimal comma.

    Announcers read one or two digits as a number ("16,27" -> "... phẩy hai mươi
    bảy", "1,5" -> "... phẩy năm"). A leading zero or three or more digits are read
    digit by digit ("0,05" -> "... phẩy không năm", "3,14159" -> "... phẩy một bốn
    một năm chín"), because there the number reading would change the value heard.
    """
    if len(frac) <= 2 and frac[0] != "0":
        return number_to_words(int(frac))
    return digits_to_words(frac)


MAX_NUMBER_DIGITS = 27


def int_words(digits: str) -> str:
    """Integer token: zero-padded short numbers drop the zero ("05" -> "năm")."""
    if len(digits) > MAX_NUMBER_DIGITS or (len(digits) > 2 and digits[0] == "0"):
        return digits_to_words(digits)
    return number_to_words(int(digits))


_THOUSANDS_DOT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+")
_THOUSANDS_COMMA = re.compile(r"[0-9]{1,3}(?:,[0-9]{3}){2,}")
_LAST_SEPARATOR = re.compile(r"([0-9.,]+?)([.,])([0-9]+)")
_SEPARATORS = re.compile(r"([.,])")


def number_words(tok: str, dot: str = "chấm") -> str:
    """Read a digit token with Vietnamese separators (dot = thousands, comma = decimal).

    ``dot`` is the word for a decimal dot: "chấm" by default ("4.0"), "phẩy" when a
    unit or scale word follows ("4.5 tỷ"), where the dot is a mistyped comma.
    """
    if tok.isdigit():
        return int_words(tok)
    int_part, sep, frac = tok, "", ""
    m = _LAST_SEPARATOR.fullmatch(tok)
    if _THOUSANDS_DOT.fullmatch(tok) or _THOUSANDS_COMMA.fullmatch(tok):
        return int_words(tok.replace(".", "").replace(",", ""))
    if m and (_THOUSANDS_DOT.fullmatch(m.group(1)) and m.group(2) == ","):
        int_part, sep, frac = m.group(1).replace(".", ""), ",", m.group(3)
    elif m and (_THOUSANDS_COMMA.fullmatch(m.group(1)) and m.group(2) == "."):
        int_part, sep, frac = m.group(1).replace(",", ""), ".", m.group(3)
    elif m and m.group(1).isdigit():
        int_part, sep, frac = m.group(1), m.group(2), m.group(3)
        if sep == "," and frac == "000":
            return int_words(int_part + frac)
    else:
        # Version-like "1.2.3": read each piece.
        parts = _SEPARATORS.split(tok)
        return " ".join(
            ("chấm" if p == "." else "phẩy") if p in ".," else int_words(p) for p in parts if p
        )
    word = "phẩy" if sep == "," else dot
    return f"{int_words(int_part)} {word} {fraction_digits_to_words(frac)}"


def words_to_number(text: str) -> int:
    """Parse the canonical words produced by ``number_to_words`` back to an int.

    Only our own output is accepted (a round-trip check), not free Vietnamese;
    anything else raises ValueError.
    """
    words = text.split()
    if not words:
        raise ValueError("empty number")
    if words[0] == "âm":
        return -words_to_number(" ".join(words[1:]))
    if words == ["không"]:
        return 0
    return _parse_scaled(words)


def _parse_scaled(words: list[str]) -> int:
    if "tỷ" in words:
        cut = len(words) - 1 - words[::-1].index("tỷ")
        high = _parse_scaled(words[:cut])
        return high * _BILLION + (
            _parse_below_billion(words[cut + 1 :]) if cut + 1 < len(words) else 0
        )
    return _parse_below_billion(words)


def _parse_below_billion(words: list[str]) -> int:
    total = 0
    for scale, name in ((1_000_000, "triệu"), (1_000, "nghìn")):
        if name in words:
            cut = words.index(name)
            total += _parse_triplet(words[:cut]) * scale
            words = words[cut + 1 :]
    if words:
        total += _parse_triplet(words)
    return total


def _digit(word: str, allowed: range = range(10)) -> int:
    value = _DIGIT_VALUE.get(word, -1)
    if value not in allowed:
        raise ValueError(f"unexpected word: {word!r}")
    return value


# Units as written after "mười" / "X mươi": "mốt" and "lăm" replace "một" and "năm".
_AFTER_MUOI = {"hai": 2, "ba": 3, "bốn": 4, "lăm": 5, "sáu": 6, "bảy": 7, "tám": 8, "chín": 9}
_AFTER_MUOI_TEENS = {**_AFTER_MUOI, "một": 1}
_AFTER_MUOI_TENS = {**_AFTER_MUOI, "mốt": 1}


def _parse_triplet(words: list[str]) -> int:
    """One group (1..999) exactly as ``_triplet`` writes it; anything else raises."""
    if not words:
        raise ValueError("missing group")
    value = 0
    hundreds = len(words) >= 2 and words[1] == "trăm"
    if hundreds:
        value = _digit(words[0]) * 100
        words = words[2:]
        if words and words[0] == "linh":
            if len(words) != 2:
                raise ValueError("bad 'linh' group")
            return value + _digit(words[1], range(1, 10))
    if not words:
        if value == 0:
            raise ValueError("empty group")
        return value
    if words[0] == "mười":
        units, rest = _AFTER_MUOI_TEENS, words[1:]
        value += 10
    elif len(words) >= 2 and words[1] == "mươi":
        units, rest = _AFTER_MUOI_TENS, words[2:]
        value += _digit(words[0], range(2, 10)) * 10
    elif len(words) == 1 and not hundreds:
        return _digit(words[0], range(1, 10))
    else:
        raise ValueError(f"unexpected words: {words!r}")
    if not rest:
        return value
    if len(rest) != 1 or rest[0] not in units:
        raise ValueError(f"unexpected words: {rest!r}")
    return value + units[rest[0]]

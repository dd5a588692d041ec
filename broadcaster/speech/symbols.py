"""Readers of written symbols: document symbols, codes, abbreviations left over, signs.

Document symbols ("số 215/KH-UBND", "100/2019/NĐ-CP") read the number, "/" as "trên",
"-" as "gạch ngang", issuers in full and document-type codes letter by letter; letter+
digit codes ("QL1A", "Covid-19" when not in the dictionary) read each run; unknown
all-caps tokens are spelled; "&", "+", "=", "%" and other signs become words and the
remaining punctuation becomes pauses.
"""

from __future__ import annotations

import re

from broadcaster.speech.abbreviations import ABBR_FOLDED, ABBREVIATIONS
from broadcaster.speech.numbers import digits_to_words, int_words, number_to_words
from broadcaster.speech.tokens import (
    FOREIGN,
    PH,
    PH_RE,
    VOWELS,
    WORD,
    Dictionary,
    Line,
    is_digits,
    is_syllable,
    prev_word,
    spell,
    strip_tones,
)
from broadcaster.speech.units import UNITS

# elsewhere CP is "cổ phần" and BTC "ban tổ chức".
_DOC_ISSUERS = {"CP": "chính phủ", "BTC": "bộ tài chính", "TCT": "tổng cục thuế"}

# Document-type codes are identifiers, spelled so the paper can be found again.
_DOC_TYPES = frozenset(
    "KH QĐ NQ NĐ CT TT TB CV BC TTr HD KL CĐ QC GP ĐA PA BB GM TTLT CTr HĐ QĐi".split()
)

# Letter prefixes of letter+digit codes ("QL1A", "BĐ3", "ĐT741").
_CODE_PREFIXES = {
    "QL": "quốc lộ",
    "TL": "tỉnh lộ",
    "ĐT": "đường tỉnh",
    "BĐ": "báo động",
    "Km": "ki lô mét",
    "KM": "ki lô mét",
}

# --- document symbols ----------------------------------------------------------
_CODE = rf"(?:[A-ZĐƯ][A-Za-zĐđƯư0-9]*(?:&[A-ZĐ][A-Za-zĐđ]*)*|{PH})"
_DOC = re.compile(
    rf"(?<![\w/.,])(?P<num>[0-9]+[a-z]?)(?:/(?P<year>[0-9]{{4}}))?/(?P<code>{_CODE}(?:[-/]{_CODE})*)"
    r"(?![\w])"
)


_CODE_RUN = re.compile(r"[0-9]+|[^\W\d_&]+|&")
_CODE_SEP = re.compile(r"([-/])")


def _read_code_part(part: str, line: Line) -> str:
    if PH_RE.fullmatch(part):
        return line.reading(part)
    if part in _DOC_TYPES:
        return spell(part)
    if part in _DOC_ISSUERS:
        return _DOC_ISSUERS[part]
    if part in ABBREVIATIONS:
        return ABBREVIATIONS[part]
    out = []
    for run in _CODE_RUN.findall(part):
        if run == "&":
            out.append("và")
        elif is_digits(run):
            out.append(int_words(run))
        elif run in _DOC_ISSUERS:
            out.append(_DOC_ISSUERS[run])
        elif run in ABBREVIATIONS:
            out.append(ABBREVIATIONS[run])
        else:
            out.append(spell(run))
    return " ".join(out)


def read_doc_symbols(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        num = m.group("num")
        digits = num.rstrip("abcdefghijklmnopqrstuvwxyz")
        words = [int_words(digits.lstrip("0") or "0")]
        if num != digits:
            words.append(spell(num[len(digits) :]))
        if m.group("year"):
            words += ["trên", number_to_words(int(m.group("year")))]
        words.append("trên")
        for piece in _CODE_SEP.split(m.group("code")):
            if piece == "-":
                words.append("gạch ngang")
            elif piece == "/":
                words.append("trên")
            elif piece:
                words.append(_read_code_part(piece, line))
        return line.protect(" ".join(words), WORD)

    return _DOC.sub(repl, text)


_ALNUM_RE = re.compile(r"(?<![\w.,])(?=[^\W_]*[0-9])(?=[^\W_]*[^\W\d_])[^\W_]+(?![\w])")
_ALNUM_RUN = re.compile(r"[0-9]+|[^\W\d_]+")


def _read_letters(run: str) -> str:
    if run in _CODE_PREFIXES:
        return _CODE_PREFIXES[run]
    if run in ABBREVIATIONS:
        return ABBREVIATIONS[run]
    low = run.lower()
    if low in ABBR_FOLDED:
        return ABBR_FOLDED[low]
    if run.isupper() or len(run) <= 2:
        return spell(run)
    return low


def read_alnum(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        tok = m.group()
        if tok in UNITS:
            return line.protect(UNITS[tok], WORD)
        words = []
        for run in _ALNUM_RUN.findall(tok):
            if is_digits(run):
                words.append(int_words(run) if len(run) <= 4 else digits_to_words(run))
            else:
                words.append(_read_letters(run))
        reading = " ".join(words)
        # "đường ĐT741": the text already says "đường", so do not read it twice.
        prev = prev_word(m.string, m.start())
        if prev and reading.startswith(prev + " "):
            reading = reading[len(prev) + 1 :]
        return line.protect(reading, WORD)

    return _ALNUM_RE.sub(repl, text)


_UPPER = "".join(c for c in map(chr, [*range(0x41, 0x250), *range(0x1E00, 0x1F00)]) if c.isupper())
# Only the words read_words may change: all-caps tokens and short consonant-only
# lower-case tokens; matching every word would cost a Python call per word.
_CODE_WORD_RE = re.compile(rf"(?<![^\W_])(?:[{_UPPER}]+|[bcdđfghjklmnpqrstvwxz]{{1,4}})(?![^\W_])")


def read_words(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        tok = m.group()
        if tok.isupper():
            return tok if is_syllable(tok) else line.protect(spell(tok), WORD)
        if tok.islower() and len(tok) <= 4 and not VOWELS.search(strip_tones(tok)):
            if tok in UNITS:
                return line.protect(UNITS[tok], WORD)
            return line.protect(spell(tok), WORD)
        return tok

    return _CODE_WORD_RE.sub(repl, text)


# --- symbols and punctuation ---------------------------------------------------------
# Every character left at this point is read (a sign named), kept as a pause, dropped as
# markup that carries no sound (quotes, "*" emphasis, "_", joining "-" and "/"), or
# reported: line.dropped collects it and normalize_report says where it was.
_SYMBOLS = {
    "&": " và ",
    "+": " cộng ",
    "=": " bằng ",
    "@": " a còng ",
    "~": " khoảng ",
    "≈": " khoảng ",
    ">": " lớn hơn ",
    "<": " nhỏ hơn ",
    "≥": " lớn hơn hoặc bằng ",
    "≤": " nhỏ hơn hoặc bằng ",
    "%": " phần trăm ",
    "‰": " phần nghìn ",
    "°": " độ ",
    "×": " nhân ",
    "÷": " chia ",
    "±": " cộng trừ ",
    "√": " căn ",
    "^": " mũ ",
    "²": " bình phương ",
    "³": " lập phương ",
    "#": " thăng ",
    "№": " số ",
    "§": " mục ",
    "\\": " gạch chéo ngược ",
    "→": " đến ",
    "$": " đô la mỹ ",
    "€": " ơ rô ",
    "£": " bảng anh ",
    "¥": " yên ",
    "₫": " đồng ",
}
# "#3", "hạng mục # 3": a number sign; elsewhere (hashtags) "#" is read "thăng".
_HASH_NUMBER = re.compile(rf"#(?=\s?(?:[0-9]|{PH}))")


def _number_sign(m: re.Match[str]) -> str:
    # "hồ sơ số #12" already says "số".
    return " " if prev_word(m.string, m.start()) == "số" else " số "


_SYMBOL_RE = re.compile("[" + "".join(map(re.escape, _SYMBOLS)) + "]")
_SPACED_DASH = re.compile(r"(?:^|\s)-+(?:\s|$)")
_WORD_SLASH = re.compile(rf"(?<=[^\W\d_]|{PH})\s*/\s*(?=[^\W\d_]|{PH})")
_BRACKETS = re.compile(r"[()\[\]{}|•·▪●◦]")
_SILENT = re.compile("[\"'`´“”‘’„‟«»‹›*_/-]")
_UNREADABLE = re.compile(rf"[^\w\s,.;:!?{PH[1:-1]}]+")
_ELLIPSIS = re.compile(r"\.{2,}")

# Greek letters met in health and science notices, by their Vietnamese names; a word in
# another script (Cyrillic, Chinese, Thai...) cannot be read and is reported.
_GREEK = {
    "α": "an pha", "β": "bê ta", "γ": "gam ma", "δ": "đen ta", "Δ": "đen ta",
    "ε": "ép xi lon", "λ": "lam đa", "μ": "muy", "π": "pi", "σ": "xích ma",
    "Σ": "xích ma", "ω": "ô mê ga", "Ω": "ô mê ga",
}  # fmt: skip
# The micro sign is a Latin-1 letter, so no other rule sees it: "5 µg" in a health notice.
_MICRO_UNITS = {"g": "mi crô gam", "m": "mi crô mét", "l": "mi crô lít", "L": "mi crô lít"}
_MICRO = re.compile(r"(?<![^\W\d_])[µμ]([gmlL]?)(?![^\W\d_])")


def _micro(m: re.Match[str]) -> str:
    return " " + (_MICRO_UNITS[m.group(1)] if m.group(1) else "muy") + " "


def _foreign(m: re.Match[str], line: Line) -> str:
    word = m.group()
    if word in _GREEK:
        return " " + _GREEK[word] + " "
    return line.leave_out(word)


def read_symbols(text: str, line: Line, lex: Dictionary | None) -> str:
    # The membership tests skip whole regex scans on the common sentence.
    if "#" in text:
        text = _HASH_NUMBER.sub(_number_sign, text)
    text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group()], text)
    if "-" in text:
        text = _SPACED_DASH.sub(", ", text)
    if "/" in text:
        text = _WORD_SLASH.sub(", ", text)
    text = _BRACKETS.sub(", ", text)
    if ".." in text:
        text = _ELLIPSIS.sub(".", text)
    text = _SILENT.sub(" ", text)
    if not text.isascii():
        if "µ" in text or "μ" in text:
            text = _MICRO.sub(_micro, text)
        text = FOREIGN.sub(lambda m: _foreign(m, line), text)
    return _UNREADABLE.sub(lambda m: line.leave_out(m.group()), text)

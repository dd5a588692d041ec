"""Readers of ways to reach someone: URLs, e-mail addresses and phone numbers.

URLs drop the scheme and "www" and read "." as "chấm", "/" as "gạch chéo"; "@" is
"a còng". Phone numbers (mobile, landline, +84, 1800/1900 hotlines, short service and
emergency numbers after a phone word) are read digit by digit in their written groups.
"""

from __future__ import annotations

import re

from broadcaster.speech.abbreviations import ABBR_FOLDED
from broadcaster.speech.numbers import digits_to_words, number_to_words
from broadcaster.speech.tokens import (
    VOWELS,
    WORD,
    Dictionary,
    Line,
    is_digits,
    is_syllable,
    next_word,
    spell,
)

_URL_WORDS = {
    "vn": "vê nờ",
    "com": "com",
    "gov": "gov",
    "net": "nét",
    "info": "in phô",
    "gmail": "gờ meo",
    "yahoo": "da hu",
    "youtube": "diu túp",
    "google": "gu gồ",
}


def _phone_groups(groups: list[str]) -> str:
    return ", ".join(digits_to_words(g) for g in groups if g)


def _chunk(digits: str) -> list[str]:
    sizes = {8: (4, 4), 9: (3, 3, 3), 10: (4, 3, 3), 11: (4, 3, 4)}.get(len(digits))
    if not sizes:
        return [digits]
    out, i = [], 0
    for size in sizes:
        out.append(digits[i : i + size])
        i += size
    return out


# --- URLs and e-mail ---------------------------------------------------------
_TLDS = "vn|com|net|org|gov|edu|info|io|me|biz|asia|int"
_EMAIL_URL = re.compile(
    r"(?i)(?<![\w.@/])"
    r"(?:(?P<email>[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)+)"
    r"|(?:(?:https?|ftp)://(?:www\.)?(?P<host1>[a-z0-9-]+(?:\.[a-z0-9-]+)*)"
    rf"|(?:www\.)?(?P<host2>(?:[a-z0-9-]+\.)+(?:{_TLDS})(?![\w-])))"
    r"(?::[0-9]+)?(?P<path>/[^\s]*)?)"
)
_TRAILING_PUNCT = ".,;:!?)]}\"'"
_URL_HINT = re.compile(rf"(?i)@|://|www\.|\.(?:{_TLDS})\b")
_LABEL_PIECE = re.compile(r"[^\W\d_]+|[0-9]+|-")
_QUERY = re.compile(r"[?#]")
_SLUG_SEP = re.compile(r"[-_+]+")
_WWW = re.compile(r"(?i)^www\.")


def _read_label(label: str, lex: Dictionary | None) -> str:
    if lex is not None:
        hit = lex.lookup(label)
        if hit is not None:
            return hit
    low = label.lower()
    if low in _URL_WORDS:
        return _URL_WORDS[low]
    if low in ABBR_FOLDED:
        return ABBR_FOLDED[low]
    out = []
    for piece in _LABEL_PIECE.findall(low):
        if piece == "-":
            out.append("gạch ngang")
        elif is_digits(piece):
            out.append(number_to_words(int(piece)) if len(piece) <= 2 else digits_to_words(piece))
        elif not is_syllable(piece) and (len(piece) <= 3 or not VOWELS.search(piece)):
            out.append(spell(piece))
        else:
            out.append(piece)
    return " ".join(out)


def _read_path(path: str, lex: Dictionary | None) -> str:
    path = _QUERY.split(path, maxsplit=1)[0].strip("/")
    segments = []
    for seg in path.split("/"):
        words = []
        for piece in _SLUG_SEP.split(seg):
            if not piece:
                continue
            words.append(" chấm ".join(_read_label(p, lex) for p in piece.split(".") if p))
        if words:
            segments.append(" ".join(words))
    return " gạch chéo ".join(segments)


def read_urls(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        whole = m.group()
        tail = ""
        while whole and whole[-1] in _TRAILING_PUNCT:
            tail = whole[-1] + tail
            whole = whole[:-1]
        if m.group("email"):
            local, _, domain = whole.partition("@")
            local_words = " chấm ".join(_read_label(p, lex) for p in local.split(".") if p)
            domain_words = " chấm ".join(_read_label(p, lex) for p in domain.split(".") if p)
            return line.protect(f"{local_words} a còng {domain_words}", WORD) + tail
        host = m.group("host1") or m.group("host2") or ""
        host = _WWW.sub("", host)
        reading = " chấm ".join(_read_label(p, lex) for p in host.split(".") if p)
        path_start = m.start("path") - m.start() if m.group("path") else None
        if path_start is not None and path_start < len(whole):
            path_words = _read_path(whole[path_start:], lex)
            if path_words:
                reading += " gạch chéo " + path_words
        return line.protect(reading, WORD) + tail

    if not _URL_HINT.search(text):
        return text
    return _EMAIL_URL.sub(repl, text)


# --- phone numbers -----------------------------------------------------------
_PHONE = re.compile(
    r"(?<![\w.,+/])(?P<head>\+84|\(0[0-9]{2,3}\)|0)(?P<rest>(?:[ .\-]?[0-9]{1,4}){1,6})(?![0-9])"
)
_HOTLINE = re.compile(
    # 1800/1900 numbers have 8 or 10 digits: "1900 9095", "1900.1234.56", "19001234".
    r"(?<![\w.,/])(?P<head>1[89]00)(?P<sep>[ .]?)"
    r"(?P<rest>[0-9]{4}[ .][0-9]{2}|[0-9]{2,3}[ .][0-9]{3,4}|[0-9]{6}|[0-9]{4})"
    r"(?![0-9]|[.,][0-9])"
)
_PHONE_TOKEN = re.compile(r"[ .\-]?[0-9]+")
_HOTLINE_SEP = re.compile(r"[ .]")
_SERVICE = re.compile(r"(?<![\w.,/])(?P<num>[1-9][0-9]{2,4})(?![\w]|[.,][0-9])")
_PHONE_CONTEXT = re.compile(
    r"(?:gọi|tổng đài|đường dây nóng|hotline|điện thoại|cấp cứu|khẩn cấp|số máy)"
    r"(?:\W+[^\W\d_]+){0,2}\W*$"
)


_EMERGENCY = frozenset({"111", "112", "113", "114", "115", "116"})
# Emergency numbers are well known, so a looser context is enough: a phone word up
# to five words back ("tổng đài bảo vệ trẻ em 111") or "số" right before.
_EMERGENCY_CONTEXT = re.compile(
    r"(?:(?:gọi|tổng đài|đường dây nóng|hotline|điện thoại|cấp cứu|khẩn cấp|số máy)"
    r"(?:\W+[^\W\d_]+){0,5}|\bsố)\W*$"
)
_PHONE_HINT = re.compile(
    r"(?i)gọi|tổng đài|đường dây nóng|hotline|điện thoại|cấp cứu|khẩn cấp|số máy|\bsố\b"
)
_SERVICE_NEXT = frozenset({"", "hoặc", "hay", "để", "và", "khi", "ngay", "miễn", "của"})


def _has_phone_context(text: str, pos: int, line: Line) -> bool:
    before = line.expand(text[max(0, pos - 60) : pos]).lower()
    return _PHONE_CONTEXT.search(before) is not None


def read_phones(text: str, line: Line, lex: Dictionary | None) -> str:
    def mobile(m: re.Match[str]) -> str:
        head = m.group("head")
        tokens = _PHONE_TOKEN.findall(m.group("rest"))
        groups: list[str] = []
        used = 0
        first = m.group("rest").lstrip(" .-")[:1]
        # Mobile numbers (0 + 3/5/7/8/9) have 10 digits, landlines (02x) 11: the
        # limit keeps a following count ("0914 123 456 2 người") out of the number.
        mobile_lead = first in ("3", "5", "7", "8", "9")
        if head == "+84":
            lead, count, limit = "cộng tám bốn", 0, 9 if mobile_lead else 10
        elif head.startswith("("):
            lead, count, limit = digits_to_words(head[1:-1]), len(head) - 2, 11
        else:
            lead, count, limit = "", 1, 10 if mobile_lead else 11
        for i, tok in enumerate(tokens):
            digits = tok.lstrip(" .-")
            if count + len(digits) > limit:
                break
            if i == 0 and head == "0":
                digits = "0" + digits
            groups.append(digits)
            count += len(digits) - (1 if i == 0 and head == "0" else 0)
            used += len(tok)
        if count < 9:
            return m.group()
        if len(groups) == 1:
            groups = _chunk(groups[0])
        reading = _phone_groups(groups)
        if lead:
            reading = f"{lead}, {reading}"
        return line.protect(reading, WORD) + m.group("rest")[used:]

    def hotline(m: re.Match[str]) -> str:
        if not m.group("sep") and (
            next_word(m.string, m.end()) not in _SERVICE_NEXT
            or not _has_phone_context(m.string, m.start(), line)
        ):
            return m.group()
        rest = _HOTLINE_SEP.split(m.group("rest"))
        return line.protect(_phone_groups([m.group("head"), *rest]), WORD)

    def service(m: re.Match[str]) -> str:
        num = m.group("num")
        if num in _EMERGENCY:
            before = line.expand(m.string[max(0, m.start() - 80) : m.start()]).lower()
            if not _EMERGENCY_CONTEXT.search(before):
                return m.group()
        # "gọi 1022" but not "gọi điện cho 150 hộ": a service number is not followed
        # by the noun it would count.
        elif next_word(m.string, m.end()) not in _SERVICE_NEXT or not _has_phone_context(
            m.string, m.start(), line
        ):
            return m.group()
        return line.protect(digits_to_words(num), WORD)

    text = _PHONE.sub(mobile, text)
    text = _HOTLINE.sub(hotline, text)
    if not _PHONE_HINT.search(line.expand(text) if line.store else text):
        return text
    return _SERVICE.sub(service, text)

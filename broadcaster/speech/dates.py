"""Readers of dates and times of day.

"17h30", "17:30" -> "mười bảy giờ ba mươi phút"; "13/8/2020" -> "ngày mười ba tháng
tám năm hai nghìn không trăm hai mươi" ("mồng" for days 1-10); "d/m" is a date unless
the words around it say fraction or address; "m/yyyy" is a month; "ngày 5", "tháng 4"
read the number as a day or a month. Fractions are read here too, since only the context
tells them from a date: "1/2 kg", "3/4 số hộ" -> "một phần hai ...", "5 1/2" -> "năm và
một phần hai".
"""

from __future__ import annotations

import re

from broadcaster.speech.numbers import month_to_words, number_to_words
from broadcaster.speech.tokens import PH, Dictionary, Line, next_word, prev_word, prev_words

# --- times ---------------------------------------------------------------------
_HOUR = r"(?:[01]?[0-9]|2[0-4])"
_TIME = (
    rf"(?P<h{{i}}>{_HOUR})(?:[hH](?P<m{{i}}a>[0-5][0-9])?(?![^\W\d_])"
    rf"|:(?P<m{{i}}b>[0-5][0-9])(?::(?P<s{{i}}>[0-5][0-9]))?|[gG](?P<m{{i}}c>[0-5][0-9]))"
)
_TIME_RE = re.compile(
    rf"(?<![\w.,:/])(?:(?:{_TIME.format(i=1)}|(?P<bare>{_HOUR}))\s*-\s*)?{_TIME.format(i=2)}"
    r"(?![\w]|[.,:][0-9])"
)
_RATIO_WORDS = frozenset({"lệ", "số"})


def _time_words(m: re.Match[str], i: int) -> str:
    hour = int(m.group(f"h{i}"))
    minute = m.group(f"m{i}a") or m.group(f"m{i}b") or m.group(f"m{i}c")
    words = [number_to_words(hour), "giờ"]
    if minute and int(minute):
        words += [number_to_words(int(minute)), "phút"]
    second = m.group(f"s{i}")
    if second and int(second):
        words += [number_to_words(int(second)), "giây"]
    return " ".join(words)


def read_times(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group("m2b") and prev_word(m.string, m.start()) in _RATIO_WORDS:
            return m.group()
        end = _time_words(m, 2)
        if m.group("h1"):
            return line.protect(f"{_time_words(m, 1)} đến {end}")
        if m.group("bare"):
            return line.protect(f"{number_to_words(int(m.group('bare')))} đến {end}")
        return line.protect(end)

    return _TIME_RE.sub(repl, text)


# --- dates ---------------------------------------------------------------------
_D = r"(?:0?[1-9]|[12][0-9]|3[01])"
_M = r"(?:0?[1-9]|1[0-2])"
_Y = r"(?:1[89][0-9]{2}|2[0-9]{3})"
_DATE_RE = re.compile(
    r"(?<![\w.,/:])(?:"
    rf"(?P<fd>{_D})(?P<fs>[/.-])(?P<fm>{_M})(?P=fs)(?P<fy>{_Y})"
    rf"|(?P<rd1>{_D})\s*-\s*(?P<rd2>{_D})(?P<rs>[/.])(?P<rm>{_M})(?:(?P=rs)(?P<ry>{_Y}))?"
    rf"|(?P<dm1>[0-9]{{1,2}})/(?P<dm2>[0-9]{{1,2}})(?![/.,][0-9])"
    rf"|(?P<mm>{_M})/(?P<my>{_Y})"
    r")(?![\w]|[.,/][0-9])"
)
_DATE_HINT = re.compile("[0-9][/.-][0-9]")
_DAY_PREFIX = frozenset({"ngày", "mùng", "mồng"})
# Words that make "d/m" a date even before "số hộ"; weaker ones ("từ", "đến") are
# left to the default, which is a date anyway unless a fraction noun follows.
_DATE_CONTEXT = _DAY_PREFIX | {
    "hôm", "sáng", "trưa", "chiều", "tối", "đêm", "khuya", "hạn", "dịp", "lễ",
}  # fmt: skip
_FRACTION_BEFORE = frozenset(
    "chiếm khoảng gần hơn trên dưới còn đạt bằng tăng giảm mất được thành góp".split()
)
_FRACTION_AFTER = frozenset(
    "số dân diện tổng lượng các những trong của phần quãng thời khối ngân sản giá lực "
    "kế chỉ nhiệm công dự vốn quỹ".split()
)
# A measure after "a/b" makes it a fraction whatever the figures ("1/2 kg", "3/4 lít").
_MEASURE_AFTER = frozenset(
    "kg g mg l ml m cm mm km ha lít mét gam tấn tạ yến sào cân lạng cốc chén bát thìa "
    "muỗng viên quả liều gói túi chai hộp bao lớp hải dặm".split()
)
_ADDRESS_BEFORE = frozenset("số ngõ ngách hẻm kiệt nhà".split())
# A whole number and a fraction: "5 1/2" -> "năm và một phần hai".
_MIXED_RE = re.compile(
    r"(?<![\w.,/:-])(?P<w>[0-9]{1,4}) (?P<a>[0-9]{1,2})/(?P<b>[0-9]{1,2})(?![\w]|[/.,-][0-9])"
)
_DAY_LIST = re.compile(r"(?i:\b(?:ngày|mùng|mồng))\s+[0-9]{1,2}\s+(?:và|hoặc)\s*$")


def _day_words(day: int, prev: str) -> str:
    if day <= 10 and prev not in ("mùng", "mồng"):
        return "mồng " + number_to_words(day)
    return number_to_words(day)


def _date_words(day: int, month: int, year: str | None, prev: str) -> str:
    words = [] if prev in _DAY_PREFIX else ["ngày"]
    words += [_day_words(day, prev), "tháng", month_to_words(month)]
    if year:
        words += ["năm", number_to_words(int(year))]
    return " ".join(words)


def read_dates(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        s = m.string
        prev = prev_word(s, m.start())
        if m.group("fd"):
            return line.protect(
                _date_words(int(m.group("fd")), int(m.group("fm")), m.group("fy"), prev)
            )
        if m.group("rd1"):
            first = _date_words(int(m.group("rd1")), int(m.group("rm")), None, prev)
            first = first.rsplit(" tháng ", 1)[0]
            second = _date_words(int(m.group("rd2")), int(m.group("rm")), m.group("ry"), "ngày")
            return line.protect(f"{first} đến {second}")
        if m.group("mm"):
            month, year = int(m.group("mm")), number_to_words(int(m.group("my")))
            if prev == "quý":
                return line.protect(f"{number_to_words(month)} năm {year}")
            if prev in _ADDRESS_BEFORE:  # "số 12/2021" is a number, not December
                return line.protect(f"{number_to_words(month)} trên {year}")
            head = "" if prev == "tháng" else "tháng "
            return line.protect(f"{head}{month_to_words(month)} năm {year}")
        a, b = int(m.group("dm1")), int(m.group("dm2"))
        is_date = 1 <= a <= 31 and 1 <= b <= 12
        nxt = next_word(s, m.end())
        if prev in _ADDRESS_BEFORE:
            kind = "over"
        elif is_date and prev in _DATE_CONTEXT:
            kind = "date"
        elif a and b > 1 and nxt in _MEASURE_AFTER:
            kind = "fraction"
        elif prev in _FRACTION_BEFORE or (
            0 < a < b and (nxt in _FRACTION_AFTER or prev_words(s, m.start(), 2) == "trong đó")
        ):
            kind = "fraction"
        elif is_date:
            kind = "date"
        else:
            kind = "fraction" if 0 < a < b else "over"
        if kind == "date":
            if prev in ("và", "hoặc") and _DAY_LIST.search(s, 0, m.start()):
                prev = "ngày"  # "ngày 25 và 26/6": the second day shares the first "ngày"
            return line.protect(_date_words(a, b, None, prev))
        joiner = "phần" if kind == "fraction" else "trên"
        return line.protect(f"{number_to_words(a)} {joiner} {number_to_words(b)}")

    def mixed(m: re.Match[str]) -> str:
        a, b = int(m.group("a")), int(m.group("b"))
        prev = prev_word(m.string, m.start())
        if not 0 < a < b or prev in _DATE_CONTEXT or prev in _ADDRESS_BEFORE or prev == "tháng":
            return m.group()
        whole = number_to_words(int(m.group("w")))
        return line.protect(f"{whole} và {number_to_words(a)} phần {number_to_words(b)}")

    if not _DATE_HINT.search(text):
        return text
    if " " in text:
        text = _MIXED_RE.sub(mixed, text)
    return _DATE_RE.sub(repl, text)


_DAY_WORD = re.compile(
    r"(?i:\b(?P<w>ngày|mùng|mồng))\s+(?P<d>0?[1-9]|[12][0-9]|3[01])"
    # "ngày 5 tháng 6", "ngày 5 hàng tháng", "ngày 7 và 8/7", "ngày 5 đến ngày 7/9"
    r"(?=\s+(?i:tháng|hàng tháng|hằng tháng)\b"
    rf"|\s*(?:,|-|và|hoặc|đến)\s*(?:ngày\s+)?(?:[0-9]{{1,2}}\s+tháng\b|{PH}))"
)
_MONTH_WORD = re.compile(r"(?i:\b(?P<w>tháng))\s+(?P<m>0?[1-9]|1[0-2])(?![\w]|[.,/][0-9])")


def read_date_words(text: str, line: Line, lex: Dictionary | None) -> str:
    text = _DAY_WORD.sub(
        lambda m: (
            f"{m.group('w')} " + line.protect(_day_words(int(m.group("d")), m.group("w").lower()))
        ),
        text,
    )
    return _MONTH_WORD.sub(
        lambda m: f"{m.group('w')} " + line.protect(month_to_words(int(m.group("m")))), text
    )

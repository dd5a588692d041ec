"""Readers of money: currency symbols and the colloquial amounts of price bulletins.

Currency symbols before or after the amount ("$5", "10$", "10€", "£3", "100₫/kg"); a
range with the symbol on both ends says it once ("10$-20$" -> "mười đến hai mươi đô la
mỹ"); below one dollar or euro the amount is cents ("0,5$" -> "năm mươi xu"); a symbol
alone is its name ("bằng €" -> "bằng ơ rô").

Colloquial amounts: "k" is nghìn ("100k"), "tr" triệu ("1tr"), "t" tỷ ("1t"); a digit
after the letter is the next lower part, as people say it ("2tr5" -> "hai triệu năm trăm
nghìn", "2t3" -> "hai tỷ ba trăm triệu", "1k5" -> "một nghìn năm trăm"). "5K" in the
Ministry of Health's message (khẩu trang, khử khuẩn, khoảng cách, không tụ tập, khai báo
y tế) stays "năm ca": upper-case "5K" is the message unless a price word, "đ" or "/kg"
says money ("giá 5K/kg"); a lower-case "5k" is money unless the words that introduce the
message come before it ("thông điệp 5k"). After "chạy" or "cự ly" a "k" is a distance
("giải chạy 5k" -> "năm ki lô mét"), after a vehicle a "t" is tonnes ("xe tải 5t" -> "năm
tấn"). This reader runs before the dictionary so that its "5K" does not claim a price.
"""

from __future__ import annotations

import re

from broadcaster.speech.numbers import MAX_NUMBER_DIGITS, number_to_words, number_words
from broadcaster.speech.tokens import WORD, Dictionary, Line, prev_words
from broadcaster.speech.units import NUMTOK, SCALE, per_words

CURRENCIES = {
    "$": "đô la mỹ",
    "US$": "đô la mỹ",
    "€": "ơ rô",
    "£": "bảng anh",
    "¥": "yên",
    "₫": "đồng",
}
# Currencies whose hundredth is said "xu" when the amount is below one.
_CENTS = frozenset({"đô la mỹ", "ơ rô"})

_SYM = r"(?:US\$|[$€£¥₫])"
_SCALE_OPT = rf"(?:\s?(?P<scale{{i}}>{SCALE})(?![\w]))?"
_AFTER = rf"(?P<num{{i}}>{NUMTOK}){_SCALE_OPT}\s?(?P<sa{{i}}>{_SYM})"
_BEFORE = rf"(?P<sb{{i}}>{_SYM})\s?(?P<numb{{i}}>{NUMTOK}){_SCALE_OPT.replace('scale', 'scaleb')}"
_ONE = rf"(?:{_AFTER}|{_BEFORE})"
_MONEY_RE = re.compile(
    rf"(?<![\w.,]){_ONE.format(i=1)}(?:\s*-\s*{_ONE.format(i=2)})?"
    rf"(?P<per>(?:/[^\W\d_]+(?![\w]))*)(?![\w])"
)
_MONEY_HINT = re.compile("[$€£¥₫]")
_BARE_SYM = re.compile(_SYM)


def _amount(num: str, scale: str | None, currency: str) -> str:
    """One amount and its currency word, with cents below one dollar or euro."""
    if not scale and currency in _CENTS:
        whole, _, frac = num.partition(",")
        if whole == "0" and frac and len(frac) <= 2 and int(frac):
            return f"{number_to_words(int(frac.ljust(2, '0')))} xu"
    words = [number_words(num, "phẩy")]
    if scale:
        words.append(scale)
    return " ".join([*words, currency])


def _parts(m: re.Match[str], i: int) -> tuple[str, str | None, str] | None:
    if m.group(f"num{i}"):
        return m.group(f"num{i}"), m.group(f"scale{i}"), CURRENCIES[m.group(f"sa{i}")]
    if m.group(f"numb{i}"):
        return m.group(f"numb{i}"), m.group(f"scaleb{i}"), CURRENCIES[m.group(f"sb{i}")]
    return None


def read_money(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        first, second = _parts(m, 1), _parts(m, 2)
        assert first is not None
        per = per_words(m.group("per"), first[2]) if m.group("per") else ""
        if second is None:
            return line.protect(" ".join(filter(None, [_amount(*first), per])))
        one = _amount(*first)
        two = _amount(*second)
        if first[2] == second[2] and not one.endswith(" xu") and not two.endswith(" xu"):
            one = one.removesuffix(" " + first[2])  # "10$-20$": the currency said once
        return line.protect(" ".join(filter(None, [one, "đến", two, per])))

    if not _MONEY_HINT.search(text):
        return text
    text = _MONEY_RE.sub(repl, text)
    # A symbol without an amount ("định giá bằng €") is still said, never dropped.
    return _BARE_SYM.sub(lambda m: " " + line.protect(CURRENCIES[m.group()], WORD) + " ", text)


# --- colloquial amounts: 100k, 1tr, 2tr5, 1t, 2t3 ---------------------------------
_COLLOQUIAL_SCALES = {"k": 1_000, "K": 1_000, "tr": 1_000_000, "t": 1_000_000_000}
_COLLOQUIAL_RE = re.compile(
    r"(?<![\w.,])(?P<num>[0-9]{1,3}(?:\.[0-9]{3})*)(?:,(?P<dec>[0-9]{1,2}))?"
    r"(?P<unit>tr|k|K|t)(?P<tail>[0-9]{1,3})?"
    r"(?P<dong>\s?(?:đ|đồng)(?![\w]))?(?P<per>(?:/[^\W\d_]+(?![\w]))*)(?![\w]|[.,][0-9])"
)
_SCALE_WORD = {"k": "nghìn", "K": "nghìn", "tr": "triệu", "t": "tỷ"}
_COLLOQUIAL_HINT = re.compile(r"[0-9](?:tr|k|K|t)(?![^\W\d_])")
_RUN_WORDS = frozenset({"chạy", "ly"})  # "chạy 5k", "cự ly 10k"
_LOAD_WORDS = frozenset({"xe", "tải", "trọng", "chở", "cẩu"})
# "thông điệp 5k", "thực hiện 5k", "tuân thủ 5k", "nguyên tắc 5k".
_FIVE_K_BEFORE = frozenset({"điệp", "hiện", "thủ", "tắc"})
# ... but after a price word, or with "đ" or "/kg", "5K" is money: "giá 5K/kg".
_PRICE_BEFORE = frozenset("giá phí bán mua nộp trả vé cước lương thưởng tặng góp chỉ còn".split())


def _colloquial_words(m: re.Match[str]) -> str | None:
    """The reading of one colloquial amount, or None to leave it as written."""
    num, unit, tail = m.group("num").replace(".", ""), m.group("unit"), m.group("tail")
    dec = m.group("dec")
    before = prev_words(m.string, m.start(), 1)
    if unit in "kK" and not tail and before in _RUN_WORDS:
        return number_words(f"{num},{dec}" if dec else num) + " ki lô mét"
    if num == "5" and unit in "kK" and not tail and not dec:
        priced = m.group("dong") or m.group("per") or before in _PRICE_BEFORE
        if not priced and (unit == "K" or before in _FIVE_K_BEFORE):
            return "năm ca"  # the 5K message, not five thousand
    if unit == "t" and not _LOAD_WORDS.isdisjoint(prev_words(m.string, m.start(), 2).split()):
        decimals = dec or tail
        return number_words(f"{num},{decimals}" if decimals else num) + " tấn"
    if dec:
        # "3,5tr" is read as written; "3,5tr5" is no amount, the later readers say it
        return None if tail else f"{number_words(num + ',' + dec)} {_SCALE_WORD[unit]}"
    scale = _COLLOQUIAL_SCALES[unit]
    value = int(num) * scale + (int(tail) * scale // 10 ** len(tail) if tail else 0)
    return number_to_words(value) if len(str(value)) <= MAX_NUMBER_DIGITS else None


def read_colloquial(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        reading = _colloquial_words(m)
        if reading is None:
            return m.group()
        if m.group("dong"):
            reading += " đồng"
        if m.group("per"):
            reading += " " + per_words(m.group("per"), "đồng")
        return line.protect(reading)

    return _COLLOQUIAL_RE.sub(repl, text) if _COLLOQUIAL_HINT.search(text) else text

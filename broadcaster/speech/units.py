"""Readers of quantities: numbers with a unit, money, percent, and "per" ("/").

Owns the unit and currency tables (``UNITS``, ``PER_UNITS``): "50.000đ/kg" -> "năm mươi
nghìn đồng một ki lô gam", "60 km/h" -> "sáu mươi ki lô mét trên giờ" (a rate per unit of
time is "trên"). Currency symbols and colloquial amounts are ``money.py``'s, minus signs
``figures.py``'s.
"""

from __future__ import annotations

import re

from broadcaster.speech.numbers import number_words
from broadcaster.speech.tokens import WORD, Dictionary, Line

UNITS = {
    "%": "phần trăm",
    "‰": "phần nghìn",
    "km/h": "ki lô mét trên giờ",
    "km/giờ": "ki lô mét trên giờ",
    "m/s": "mét trên giây",
    "m/min": "mét trên phút",
    "°C": "độ xê",
    "°c": "độ xê",
    "oC": "độ xê",
    "°F": "độ ép",
    "°": "độ",
    "km²": "ki lô mét vuông",
    "km2": "ki lô mét vuông",
    "m²": "mét vuông",
    "m2": "mét vuông",
    "m³": "mét khối",
    "m3": "mét khối",
    "cm³": "xen ti mét khối",
    "cm3": "xen ti mét khối",
    "cm": "xen ti mét",
    "mm": "mi li mét",
    "km": "ki lô mét",
    "m": "mét",
    "ha": "héc ta",
    "kg": "ki lô gam",
    "mg": "mi li gam",
    "mcg": "mi crô gam",
    "µg": "mi crô gam",
    "g": "gam",
    "ml": "mi li lít",
    "l": "lít",
    "kWh": "ki lô oát giờ",
    "kW": "ki lô oát",
    "MW": "mê ga oát",
    "kV": "ki lô vôn",
    "W": "oát",
    "V": "vôn",
    "mV": "mi li vôn",
    "Hz": "héc",
    "kHz": "ki lô héc",
    "MHz": "mê ga héc",
    "GHz": "gi ga héc",
    "KB": "ki lô bai",
    "MB": "mê ga bai",
    "GB": "gi ga bai",
    "TB": "tê ra bai",
    "Mbps": "mê ga bít trên giây",
    "Gbps": "gi ga bít trên giây",
    "hp": "mã lực",
    "HP": "mã lực",
    "đ": "đồng",
    "Đ": "đồng",
    "đồng": "đồng",
    "VNĐ": "đồng",
    "VND": "đồng",
    "vnđ": "đồng",
    "vnd": "đồng",
    "₫": "đồng",
    "USD": "đô la mỹ",
    "usd": "đô la mỹ",
}
# Units reached after "/" ("đ/kg", "người/tháng") besides UNITS.
PER_UNITS = {**UNITS, "h": "giờ", "s": "giây", "min": "phút"}
# A measured quantity per unit of time is a rate, read "trên" ("m³/s" -> "mét khối trên
# giây", as "km/h" is "ki lô mét trên giờ"); anything else per unit is "một" ("đồng/kg").
_TIME_UNITS = frozenset({"h", "giờ", "s", "giây", "min", "phút"})
_MONEY_WORDS = frozenset({"đồng", "đô la mỹ"})

# --- numbers with units, money, percent --------------------------------------------
NUMTOK = r"[0-9]+(?:[.,][0-9]+)*"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=lambda u: (-len(u), u)))
PER_ALT = "|".join(re.escape(u) for u in sorted(PER_UNITS, key=lambda u: (-len(u), u)))
SCALE = r"nghìn|ngàn|triệu|tỷ|tỉ"
_UNIT_RE = re.compile(
    rf"(?<![\w.,])(?P<num>{NUMTOK})(?:\s?(?P<scale>{SCALE})(?![\w]))?"
    rf"\s?(?P<unit>{_UNIT_ALT})(?P<per>(?:/(?:{PER_ALT}|[^\W\d_]+)(?![\w]))*)(?![\w])"
)
_PER_ITEM = re.compile(rf"/({PER_ALT}|[^\W\d_]+)(?![\w])")


def per_words(per: str, head: str = "") -> str:
    """The "/unit" tail after a quantity whose unit reads ``head``."""
    words = []
    rate = head not in _MONEY_WORDS
    for unit in _PER_ITEM.findall(per):
        words += ["trên" if rate and unit in _TIME_UNITS else "một", PER_UNITS.get(unit, unit)]
    return " ".join(words)


def read_units(text: str, line: Line, lex: Dictionary | None) -> str:
    def repl(m: re.Match[str]) -> str:
        unit = m.group("unit")
        words = [number_words(m.group("num"), "phẩy")]
        if m.group("scale"):
            words.append(m.group("scale"))
        words.append(UNITS[unit])
        if m.group("per"):
            words.append(per_words(m.group("per"), UNITS[unit]))
        return line.protect(" ".join(words))

    return _UNIT_RE.sub(repl, text)


_PER_HEAD = "đồng|tấn|tạ|yến|lít|người|lượt|con|chiếc|liều|mũi|suất|hộ|ca|lần"
_PER_TAIL = (
    "ngày|tháng|năm|tuần|giờ|quý|vụ|người|hộ|khẩu|lượt|con|sào|lần|suất|ha|kg|m2|m²|m3|m³|km"
)
_PER_WORD = re.compile(
    rf"(?i:\b(?:(?P<head>{_PER_HEAD})/(?P<unit>{PER_ALT}|[^\W\d_]+)"
    rf"|(?P<head2>[^\W\d_]+)/(?P<tail>{_PER_TAIL})))(?![\w])"
)


def read_per(text: str, line: Line, lex: Dictionary | None) -> str:
    """ "đồng/tháng", "con/m2", "lít nước/ngày" -> "... một ..." (per)."""

    def per(m: re.Match[str]) -> str:
        head = m.group("head") or m.group("head2")
        unit = m.group("unit") or m.group("tail")
        reading = PER_UNITS.get(unit) or PER_UNITS.get(unit.lower()) or unit
        return f"{head} " + line.protect("một " + reading, WORD)

    return _PER_WORD.sub(per, text) if "/" in text else text

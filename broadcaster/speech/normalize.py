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

Lexicon (staff pronunciation dictionary): applied before every rule, whole-word,
longest key first. A key without any lower-case letter ("UBND", "5K", "TT&TT") is
matched case-sensitively; a key containing lower case ("Bluezone", "Đ/c") is matched
case-insensitively. Its readings override the built-in ``ABBREVIATIONS`` and are
emitted as written (lower-cased), without further rewriting.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from functools import lru_cache

from broadcaster.speech.numbers import (
    digits_to_words,
    fraction_digits_to_words,
    month_to_words,
    number_to_words,
    ordinal_to_words,
)

__all__ = ["ABBREVIATIONS", "normalize", "number_to_words"]

# ---------------------------------------------------------------------------
# Dictionaries
# ---------------------------------------------------------------------------

_WEEKDAYS = {
    "T2": "thứ hai",
    "T3": "thứ ba",
    "T4": "thứ tư",
    "T5": "thứ năm",
    "T6": "thứ sáu",
    "T7": "thứ bảy",
    "CN": "chủ nhật",
}

ABBREVIATIONS: dict[str, str] = {
    # Party, state and mass organisations
    "UBND": "ủy ban nhân dân",
    "HĐND": "hội đồng nhân dân",
    "MTTQ": "mặt trận tổ quốc",
    "MTTQVN": "mặt trận tổ quốc việt nam",
    "UBMTTQ": "ủy ban mặt trận tổ quốc",
    "UBMTTQVN": "ủy ban mặt trận tổ quốc việt nam",
    "BCĐ": "ban chỉ đạo",
    "BCĐQG": "ban chỉ đạo quốc gia",
    "BCH": "ban chấp hành",
    "BTV": "ban thường vụ",
    "BQL": "ban quản lý",
    "UBKT": "ủy ban kiểm tra",
    "TW": "trung ương",
    "TƯ": "trung ương",
    "TU": "tỉnh ủy",
    "HU": "huyện ủy",
    "ĐU": "đảng ủy",
    "QH": "quốc hội",
    "UBTVQH": "ủy ban thường vụ quốc hội",
    "ĐBQH": "đại biểu quốc hội",
    "HĐBC": "hội đồng bầu cử",
    "UBBC": "ủy ban bầu cử",
    "BBC": "ban bầu cử",
    "TBC": "tổ bầu cử",
    "KVBP": "khu vực bỏ phiếu",
    "TTg": "thủ tướng",
    "VPCP": "văn phòng chính phủ",
    "CCB": "cựu chiến binh",
    "HCCB": "hội cựu chiến binh",
    "LHPN": "liên hiệp phụ nữ",
    "HLHPN": "hội liên hiệp phụ nữ",
    "HND": "hội nông dân",
    "ĐTN": "đoàn thanh niên",
    "TNCS": "thanh niên cộng sản",
    "ĐVTN": "đoàn viên thanh niên",
    "TNXP": "thanh niên xung phong",
    "HCM": "hồ chí minh",
    "XHCN": "xã hội chủ nghĩa",
    "CHXHCN": "cộng hòa xã hội chủ nghĩa",
    "CNXH": "chủ nghĩa xã hội",
    "CNH-HĐH": "công nghiệp hóa, hiện đại hóa",
    "VN": "việt nam",
    # Ministries
    "BYT": "bộ y tế",
    "BCA": "bộ công an",
    "BQP": "bộ quốc phòng",
    "BNV": "bộ nội vụ",
    "BTP": "bộ tư pháp",
    "BXD": "bộ xây dựng",
    "BGTVT": "bộ giao thông vận tải",
    "BTTTT": "bộ thông tin và truyền thông",
    "BTNMT": "bộ tài nguyên và môi trường",
    "BLĐTBXH": "bộ lao động thương binh và xã hội",
    "BGDĐT": "bộ giáo dục và đào tạo",
    "BNNPTNT": "bộ nông nghiệp và phát triển nông thôn",
    "BKHĐT": "bộ kế hoạch và đầu tư",
    "BVHTTDL": "bộ văn hóa thể thao và du lịch",
    # Administrative units and places
    "TP": "thành phố",
    "TP.": "thành phố",
    "Tp.": "thành phố",
    "TP.HCM": "thành phố hồ chí minh",
    "TP. HCM": "thành phố hồ chí minh",
    "TPHCM": "thành phố hồ chí minh",
    "TX": "thị xã",
    "TT": "thị trấn",
    "KDC": "khu dân cư",
    "TDP": "tổ dân phố",
    "KP": "khu phố",
    "NTM": "nông thôn mới",
    "ĐBSCL": "đồng bằng sông cửu long",
    # Staff and titles
    "CBCCVC": "cán bộ công chức viên chức",
    "CBCC": "cán bộ công chức",
    "CCVC": "công chức viên chức",
    "CBCNV": "cán bộ công nhân viên",
    "CNVC": "công nhân viên chức",
    "CNVCLĐ": "công nhân viên chức lao động",
    "NLĐ": "người lao động",
    "Đ/c": "đồng chí",
    "GS": "giáo sư",
    "PGS": "phó giáo sư",
    "TS": "tiến sĩ",
    "ThS": "thạc sĩ",
    "BS": "bác sĩ",
    "KS": "kỹ sư",
    "GV": "giáo viên",
    "HS": "học sinh",
    "SV": "sinh viên",
    "VĐV": "vận động viên",
    # Documents and procedures
    "TTHC": "thủ tục hành chính",
    "QĐ": "quyết định",
    "NQ": "nghị quyết",
    "NĐ": "nghị định",
    "CV": "công văn",
    "V/v": "về việc",
    "STT": "số thứ tự",
    "CMND": "chứng minh nhân dân",
    "CCCD": "căn cước công dân",
    "GPLX": "giấy phép lái xe",
    "GCN": "giấy chứng nhận",
    "QSDĐ": "quyền sử dụng đất",
    "GCNQSDĐ": "giấy chứng nhận quyền sử dụng đất",
    "GPMB": "giải phóng mặt bằng",
    "ĐKKD": "đăng ký kinh doanh",
    "MST": "mã số thuế",
    "SĐT": "số điện thoại",
    "ĐT": "điện thoại",
    "ĐVT": "đơn vị tính",
    # Sectors and departments
    "KT-XH": "kinh tế xã hội",
    "KTXH": "kinh tế xã hội",
    "VH-XH": "văn hóa xã hội",
    "VHXH": "văn hóa xã hội",
    "QP-AN": "quốc phòng an ninh",
    "QPAN": "quốc phòng an ninh",
    "ANQP": "an ninh quốc phòng",
    "ANTT": "an ninh trật tự",
    "TTATXH": "trật tự an toàn xã hội",
    "ATGT": "an toàn giao thông",
    "TTATGT": "trật tự an toàn giao thông",
    "ATTP": "an toàn thực phẩm",
    "VSATTP": "vệ sinh an toàn thực phẩm",
    "VSMT": "vệ sinh môi trường",
    "TT&TT": "thông tin và truyền thông",
    "TTTT": "thông tin và truyền thông",
    "VH-TT": "văn hóa thông tin",
    "VHTT": "văn hóa thông tin",
    "VH-TT&DL": "văn hóa thể thao và du lịch",
    "VHTTDL": "văn hóa thể thao và du lịch",
    "GD&ĐT": "giáo dục và đào tạo",
    "GD-ĐT": "giáo dục và đào tạo",
    "GDĐT": "giáo dục và đào tạo",
    "LĐ-TB&XH": "lao động thương binh và xã hội",
    "LĐTB&XH": "lao động thương binh và xã hội",
    "LĐTBXH": "lao động thương binh và xã hội",
    "NN&PTNT": "nông nghiệp và phát triển nông thôn",
    "NN-PTNT": "nông nghiệp và phát triển nông thôn",
    "NNPTNT": "nông nghiệp và phát triển nông thôn",
    "TN&MT": "tài nguyên và môi trường",
    "TNMT": "tài nguyên và môi trường",
    "KH&ĐT": "kế hoạch và đầu tư",
    "KHĐT": "kế hoạch và đầu tư",
    "KH&CN": "khoa học và công nghệ",
    "KHCN": "khoa học công nghệ",
    "TC-KH": "tài chính kế hoạch",
    "TCKH": "tài chính kế hoạch",
    "GTVT": "giao thông vận tải",
    "CNTT": "công nghệ thông tin",
    "BTXH": "bảo trợ xã hội",
    "NCC": "người có công",
    "CLB": "câu lạc bộ",
    # Health
    "BHYT": "bảo hiểm y tế",
    "BHXH": "bảo hiểm xã hội",
    "BHTN": "bảo hiểm thất nghiệp",
    "SYT": "sở y tế",
    "TTYT": "trung tâm y tế",
    "TYT": "trạm y tế",
    "BV": "bệnh viện",
    "BVĐK": "bệnh viện đa khoa",
    "CDC": "trung tâm kiểm soát bệnh tật",
    "WHO": "tổ chức y tế thế giới",
    "KHHGĐ": "kế hoạch hóa gia đình",
    "DS-KHHGĐ": "dân số kế hoạch hóa gia đình",
    "HIV/AIDS": "hát i vê ết",
    "AIDS": "ết",
    "Covid-19": "cô vít mười chín",
    "Covid": "cô vít",
    "SARS-CoV-2": "sát cô vi hai",
    "nCoV": "en cô vi",
    "A/H5N1": "a hát năm nờ một",
    "5K": "năm ca",
    "SpO2": "ét pê o hai",
    "PC-Covid": "pê xê cô vít",
    "Bluezone": "blu dôn",
    "vaccine": "vắc xin",
    "vắc-xin": "vắc xin",
    "Vero Cell": "vê rô xen",
    "AstraZeneca": "át tra dê nê ca",
    "Pfizer": "phai dơ",
    "Moderna": "mô đéc na",
    "Zalo": "da lô",
    "Facebook": "phây búc",
    "hotline": "đường dây nóng",
    "email": "i meo",
    "e-mail": "i meo",
    "website": "oép sai",
    "online": "trực tuyến",
    "internet": "in tơ nét",
    "Bluetooth": "blu tút",
    "iPhone": "ai phôn",
    "Android": "an đrôi",
    "App Store": "áp sto",
    "Google Play": "gu gồ plây",
    "CH Play": "xê hát plây",
    # Security, defence, disasters
    "CA": "công an",
    "CAND": "công an nhân dân",
    "CSGT": "cảnh sát giao thông",
    "CSKV": "cảnh sát khu vực",
    "PCCC": "phòng cháy chữa cháy",
    "CNCH": "cứu nạn cứu hộ",
    "PCCC&CNCH": "phòng cháy chữa cháy và cứu nạn cứu hộ",
    "BCHQS": "ban chỉ huy quân sự",
    "BCH Quân sự": "ban chỉ huy quân sự",
    "NVQS": "nghĩa vụ quân sự",
    "DQTV": "dân quân tự vệ",
    "QĐND": "quân đội nhân dân",
    "LLVT": "lực lượng vũ trang",
    "PCTT": "phòng chống thiên tai",
    "TKCN": "tìm kiếm cứu nạn",
    "PCTT&TKCN": "phòng chống thiên tai và tìm kiếm cứu nạn",
    "ATNĐ": "áp thấp nhiệt đới",
    "KTTV": "khí tượng thủy văn",
    # Economy and tax
    "HTX": "hợp tác xã",
    "DN": "doanh nghiệp",
    "DNNVV": "doanh nghiệp nhỏ và vừa",
    "KCN": "khu công nghiệp",
    "CCN": "cụm công nghiệp",
    "SXKD": "sản xuất kinh doanh",
    "GTGT": "giá trị gia tăng",
    "TNDN": "thu nhập doanh nghiệp",
    "TNCN": "thu nhập cá nhân",
    "NSNN": "ngân sách nhà nước",
    "KBNN": "kho bạc nhà nước",
    "NHCSXH": "ngân hàng chính sách xã hội",
    "QTDND": "quỹ tín dụng nhân dân",
    "XKLĐ": "xuất khẩu lao động",
    "VNĐ": "đồng",
    "VND": "đồng",
    "USD": "đô la mỹ",
    # Education
    "THCS": "trung học cơ sở",
    "THPT": "trung học phổ thông",
    "ĐH": "đại học",
    "CĐ": "cao đẳng",
    "GDTX": "giáo dục thường xuyên",
    "GDNN": "giáo dục nghề nghiệp",
    # Misc
    "v.v...": "vân vân",
    "v.v.": "vân vân",
    "v.v": "vân vân",
    **_WEEKDAYS,
}

# Issuer codes that only mean this inside a document symbol ("NĐ-CP", "QĐ-BTC"):
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

_LETTER_NAMES = {
    "a": "a", "ă": "á", "â": "ớ", "b": "bê", "c": "xê", "d": "dê", "đ": "đê",
    "e": "e", "ê": "ê", "f": "ép", "g": "gờ", "h": "hát", "i": "i", "j": "giây",
    "k": "ca", "l": "lờ", "m": "mờ", "n": "nờ", "o": "o", "ô": "ô", "ơ": "ơ",
    "p": "pê", "q": "quy", "r": "rờ", "s": "ét", "t": "tê", "u": "u", "ư": "ư",
    "v": "vê", "w": "vê kép", "x": "ích", "y": "i", "z": "dét",
}  # fmt: skip

_UNITS = {
    "%": "phần trăm",
    "‰": "phần nghìn",
    "km/h": "ki lô mét một giờ",
    "km/giờ": "ki lô mét một giờ",
    "m/s": "mét một giây",
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
    "cm": "xen ti mét",
    "mm": "mi li mét",
    "km": "ki lô mét",
    "m": "mét",
    "ha": "héc ta",
    "kg": "ki lô gam",
    "mg": "mi li gam",
    "g": "gam",
    "ml": "mi li lít",
    "l": "lít",
    "kWh": "ki lô oát giờ",
    "kW": "ki lô oát",
    "MW": "mê ga oát",
    "kV": "ki lô vôn",
    "W": "oát",
    "V": "vôn",
    "đ": "đồng",
    "Đ": "đồng",
    "đồng": "đồng",
    "VNĐ": "đồng",
    "VND": "đồng",
    "vnđ": "đồng",
    "vnd": "đồng",
    "USD": "đô la mỹ",
    "usd": "đô la mỹ",
}
# Units reached after "/" ("đ/kg", "người/tháng") besides _UNITS.
_PER_UNITS = {**_UNITS, "h": "giờ", "s": "giây"}

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

# ---------------------------------------------------------------------------
# Placeholders: every reading produced by a rule is parked in a per-line store and
# replaced by one private-use character, so later rules cannot rewrite it and
# context checks still see the original words around it.
# ---------------------------------------------------------------------------

_PH_BASE = 0xF0000
_PH_LIMIT = 0x10FFFD - _PH_BASE
_PH = "[\U000f0000-\U0010fffd]"
_PH_RE = re.compile(_PH)

_NUM_KIND = "n"
_WORD_KIND = "w"


class _Line:
    __slots__ = ("store",)

    def __init__(self) -> None:
        self.store: list[tuple[str, str]] = []

    def protect(self, reading: str, kind: str = _NUM_KIND) -> str:
        if len(self.store) >= _PH_LIMIT:
            return " " + reading + " "
        self.store.append((reading, kind))
        return chr(_PH_BASE + len(self.store) - 1)

    def reading(self, ph: str) -> str:
        return self.store[ord(ph) - _PH_BASE][0]

    def kind(self, ph: str) -> str:
        return self.store[ord(ph) - _PH_BASE][1]

    def expand(self, text: str) -> str:
        return _PH_RE.sub(lambda m: " " + self.reading(m.group()) + " ", text)


# ---------------------------------------------------------------------------
# Small readers
# ---------------------------------------------------------------------------

_TONES = dict.fromkeys(map(ord, "\u0300\u0301\u0303\u0309\u0323"))
_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
    r"[aăâeêioôơuưy]{1,3}(?:ch|ng|nh|[cmnpt])?"
)


def _strip_tones(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).translate(_TONES))


def _is_syllable(word: str) -> bool:
    return _SYLLABLE.fullmatch(_strip_tones(word.lower())) is not None


def _spell(word: str) -> str:
    names = [_LETTER_NAMES.get(_strip_tones(c.lower()), "") for c in word]
    return " ".join(n for n in names if n)


def _is_digits(text: str) -> bool:
    # str.isdigit() is also true for "²" and other non-ASCII digits that int() rejects.
    return text.isascii() and text.isdigit()


def _int_words(digits: str) -> str:
    """Integer token: zero-padded short numbers drop the zero ("05" -> "năm")."""
    if len(digits) > 15 or (len(digits) > 2 and digits[0] == "0"):
        return digits_to_words(digits)
    return number_to_words(int(digits))


_THOUSANDS_DOT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+")
_THOUSANDS_COMMA = re.compile(r"[0-9]{1,3}(?:,[0-9]{3}){2,}")
_LAST_SEPARATOR = re.compile(r"([0-9.,]+?)([.,])([0-9]+)")
_SEPARATORS = re.compile(r"([.,])")


def _number_words(tok: str, dot: str = "chấm") -> str:
    """Read a digit token with Vietnamese separators (dot = thousands, comma = decimal).

    ``dot`` is the word for a decimal dot: "chấm" by default ("4.0"), "phẩy" when a
    unit or scale word follows ("4.5 tỷ"), where the dot is a mistyped comma.
    """
    if tok.isdigit():
        return _int_words(tok)
    int_part, sep, frac = tok, "", ""
    m = _LAST_SEPARATOR.fullmatch(tok)
    if _THOUSANDS_DOT.fullmatch(tok) or _THOUSANDS_COMMA.fullmatch(tok):
        return _int_words(tok.replace(".", "").replace(",", ""))
    if m and (_THOUSANDS_DOT.fullmatch(m.group(1)) and m.group(2) == ","):
        int_part, sep, frac = m.group(1).replace(".", ""), ",", m.group(3)
    elif m and (_THOUSANDS_COMMA.fullmatch(m.group(1)) and m.group(2) == "."):
        int_part, sep, frac = m.group(1).replace(",", ""), ".", m.group(3)
    elif m and m.group(1).isdigit():
        int_part, sep, frac = m.group(1), m.group(2), m.group(3)
        if sep == "," and frac == "000":
            return _int_words(int_part + frac)
    else:
        # Version-like "1.2.3": read each piece.
        parts = _SEPARATORS.split(tok)
        return " ".join(
            ("chấm" if p == "." else "phẩy") if p in ".," else _int_words(p) for p in parts if p
        )
    word = "phẩy" if sep == "," else dot
    return f"{_int_words(int_part)} {word} {fraction_digits_to_words(frac)}"


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


_WORD_RE = re.compile(r"[^\W\d_]+")


_PREV_WORD = re.compile(r"([^\W\d_]+)[\s,(:]*$")


def _prev_word(text: str, pos: int) -> str:
    """The word right before ``pos`` (only spaces, commas, "(" or ":" between); lower case.

    A number or a reading in between means there is no adjacent word: "13/8-15/8"
    must not see "ngày" before the second date.
    """
    m = _PREV_WORD.search(text, max(0, pos - 40), pos)
    return m.group(1).lower() if m else ""


def _prev_words(text: str, pos: int, n: int) -> str:
    words = _WORD_RE.findall(text[max(0, pos - 60) : pos])
    return " ".join(words[-n:]).lower()


def _next_word(text: str, pos: int) -> str:
    m = _WORD_RE.search(text, pos, pos + 40)
    if not m or text[pos : m.start()].strip(" "):
        return ""
    return m.group().lower()


# ---------------------------------------------------------------------------
# Dictionary matcher (built-in abbreviations and staff lexicon)
# ---------------------------------------------------------------------------


class _Dict:
    __slots__ = ("regex", "exact", "folded")

    def __init__(self, entries: Mapping[str, str]) -> None:
        self.exact: dict[str, str] = {}
        self.folded: dict[str, str] = {}
        alts = []
        first_exact: set[str] = set()
        first_folded: set[str] = set()
        for raw_key, raw_value in entries.items():
            # Whitespace is collapsed like the text it is matched against.
            key = " ".join(unicodedata.normalize("NFC", str(raw_key)).split())
            value = " ".join(unicodedata.normalize("NFC", str(raw_value)).split())
            if not key:
                continue
            escaped = re.escape(key)
            if any(c.islower() for c in key):
                self.folded[key.lower()] = value
                alts.append((len(key), key, f"(?i:{escaped})"))
                first_folded.add(key[0])
            else:
                self.exact[key] = value
                alts.append((len(key), key, escaped))
                first_exact.add(key[0])
        alts.sort(key=lambda a: (-a[0], a[1]))
        if not alts:
            self.regex = re.compile(r"(?!x)x")
            return
        pattern = "|".join(a[2] for a in alts)
        # The first-character lookahead lets the engine skip most positions before it
        # tries hundreds of alternatives; it makes a large lexicon ~4x cheaper.
        starts = []
        if first_exact:
            starts.append("[" + "".join(sorted(map(re.escape, first_exact))) + "]")
        if first_folded:
            starts.append("(?i:[" + "".join(sorted(map(re.escape, first_folded))) + "])")
        self.regex = re.compile(rf"(?<![^\W_])(?={'|'.join(starts)})(?:{pattern})(?![^\W_])")

    def lookup(self, text: str) -> str | None:
        if text in self.exact:
            return self.exact[text]
        return self.folded.get(text.lower())

    def apply(self, text: str, line: _Line) -> str:
        def repl(m: re.Match[str]) -> str:
            key = m.group()
            value = self.lookup(key)
            if value is None:
                return key
            kind = _NUM_KIND if key in _WEEKDAYS else _WORD_KIND
            return line.protect(value, kind)

        return self.regex.sub(repl, text)


_ABBR = _Dict(ABBREVIATIONS)
_ABBR_FOLDED = {k.lower(): v for k, v in ABBREVIATIONS.items() if k.isalnum()}


@lru_cache(maxsize=64)
def _compile_lexicon(items: tuple[tuple[str, str], ...]) -> _Dict:
    return _Dict(dict(items))


# ---------------------------------------------------------------------------
# Rules. Each returns the line with readings replaced by placeholders.
# ---------------------------------------------------------------------------

_Rule = Callable[[str, _Line, "_Dict | None"], str]

# --- cleanup of the raw line -------------------------------------------------
_DROP_CHARS = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff\ue000-\uf8ff\U000f0000-\U0010ffff\ud800-\udfff]"
)
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"})
_SPACES = re.compile(r"\s+")
_BULLET = re.compile(r"^(?:[•●○▪■◦►*]+\s*|[-+]+\s+|-(?=[^\W\d_]))")


_UNICODE_DIGIT = re.compile(r"(?![0-9])\d")


def _ascii_digit(m: re.Match[str]) -> str:
    return str(unicodedata.decimal(m.group()))


def _clean(line: str) -> str:
    line = _DROP_CHARS.sub("", line)
    if not line.isascii():
        line = _UNICODE_DIGIT.sub(_ascii_digit, line)
    line = line.translate(_DASHES).replace("…", "...").replace("º", "°").replace("˚", "°")
    line = _SPACES.sub(" ", line).strip()
    return _BULLET.sub("", line)


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


def _read_label(label: str, lex: _Dict | None) -> str:
    if lex is not None:
        hit = lex.lookup(label)
        if hit is not None:
            return hit
    low = label.lower()
    if low in _URL_WORDS:
        return _URL_WORDS[low]
    if low in _ABBR_FOLDED:
        return _ABBR_FOLDED[low]
    out = []
    for piece in _LABEL_PIECE.findall(low):
        if piece == "-":
            out.append("gạch ngang")
        elif _is_digits(piece):
            out.append(number_to_words(int(piece)) if len(piece) <= 2 else digits_to_words(piece))
        elif not _is_syllable(piece) and (len(piece) <= 3 or not _VOWELS.search(piece)):
            out.append(_spell(piece))
        else:
            out.append(piece)
    return " ".join(out)


def _read_path(path: str, lex: _Dict | None) -> str:
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


def _rule_urls(text: str, line: _Line, lex: _Dict | None) -> str:
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
            return line.protect(f"{local_words} a còng {domain_words}", _WORD_KIND) + tail
        host = m.group("host1") or m.group("host2") or ""
        host = _WWW.sub("", host)
        reading = " chấm ".join(_read_label(p, lex) for p in host.split(".") if p)
        path_start = m.start("path") - m.start() if m.group("path") else None
        if path_start is not None and path_start < len(whole):
            path_words = _read_path(whole[path_start:], lex)
            if path_words:
                reading += " gạch chéo " + path_words
        return line.protect(reading, _WORD_KIND) + tail

    if not _URL_HINT.search(text):
        return text
    return _EMAIL_URL.sub(repl, text)


# --- lexicon -----------------------------------------------------------------
def _rule_lexicon(text: str, line: _Line, lex: _Dict | None) -> str:
    return lex.apply(text, line) if lex is not None else text


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


def _has_phone_context(text: str, pos: int, line: _Line) -> bool:
    before = line.expand(text[max(0, pos - 60) : pos]).lower()
    return _PHONE_CONTEXT.search(before) is not None


def _rule_phones(text: str, line: _Line, lex: _Dict | None) -> str:
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
        return line.protect(reading, _WORD_KIND) + m.group("rest")[used:]

    def hotline(m: re.Match[str]) -> str:
        if not m.group("sep") and (
            _next_word(m.string, m.end()) not in _SERVICE_NEXT
            or not _has_phone_context(m.string, m.start(), line)
        ):
            return m.group()
        rest = _HOTLINE_SEP.split(m.group("rest"))
        return line.protect(_phone_groups([m.group("head"), *rest]), _WORD_KIND)

    def service(m: re.Match[str]) -> str:
        num = m.group("num")
        if num in _EMERGENCY:
            before = line.expand(m.string[max(0, m.start() - 80) : m.start()]).lower()
            if not _EMERGENCY_CONTEXT.search(before):
                return m.group()
        # "gọi 1022" but not "gọi điện cho 150 hộ": a service number is not followed
        # by the noun it would count.
        elif _next_word(m.string, m.end()) not in _SERVICE_NEXT or not _has_phone_context(
            m.string, m.start(), line
        ):
            return m.group()
        return line.protect(digits_to_words(num), _WORD_KIND)

    text = _PHONE.sub(mobile, text)
    text = _HOTLINE.sub(hotline, text)
    if not _PHONE_HINT.search(line.expand(text) if line.store else text):
        return text
    return _SERVICE.sub(service, text)


# --- document symbols ----------------------------------------------------------
_CODE = rf"(?:[A-ZĐƯ][A-Za-zĐđƯư0-9]*(?:&[A-ZĐ][A-Za-zĐđ]*)*|{_PH})"
_DOC = re.compile(
    rf"(?<![\w/.,])(?P<num>[0-9]+[a-z]?)(?:/(?P<year>[0-9]{{4}}))?/(?P<code>{_CODE}(?:[-/]{_CODE})*)"
    r"(?![\w])"
)


_CODE_RUN = re.compile(r"[0-9]+|[^\W\d_&]+|&")
_CODE_SEP = re.compile(r"([-/])")


def _read_code_part(part: str, line: _Line) -> str:
    if _PH_RE.fullmatch(part):
        return line.reading(part)
    if part in _DOC_TYPES:
        return _spell(part)
    if part in _DOC_ISSUERS:
        return _DOC_ISSUERS[part]
    if part in ABBREVIATIONS:
        return ABBREVIATIONS[part]
    out = []
    for run in _CODE_RUN.findall(part):
        if run == "&":
            out.append("và")
        elif _is_digits(run):
            out.append(_int_words(run))
        elif run in _DOC_ISSUERS:
            out.append(_DOC_ISSUERS[run])
        elif run in ABBREVIATIONS:
            out.append(ABBREVIATIONS[run])
        else:
            out.append(_spell(run))
    return " ".join(out)


def _rule_doc_symbols(text: str, line: _Line, lex: _Dict | None) -> str:
    def repl(m: re.Match[str]) -> str:
        num = m.group("num")
        digits = num.rstrip("abcdefghijklmnopqrstuvwxyz")
        words = [_int_words(digits.lstrip("0") or "0")]
        if num != digits:
            words.append(_spell(num[len(digits) :]))
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
        return line.protect(" ".join(words), _WORD_KIND)

    return _DOC.sub(repl, text)


# --- abbreviations -------------------------------------------------------------
def _rule_abbreviations(text: str, line: _Line, lex: _Dict | None) -> str:
    return _ABBR.apply(text, line)


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


def _rule_times(text: str, line: _Line, lex: _Dict | None) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group("m2b") and _prev_word(m.string, m.start()) in _RATIO_WORDS:
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
    "chiếm khoảng gần hơn trên dưới còn đạt bằng tăng giảm mất được thành".split()
)
_FRACTION_AFTER = frozenset(
    "số dân diện tổng lượng các những trong của phần quãng thời khối ngân sản giá lực "
    "kế chỉ nhiệm công dự vốn quỹ".split()
)
_ADDRESS_BEFORE = frozenset("số ngõ ngách hẻm kiệt nhà".split())
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


def _rule_dates(text: str, line: _Line, lex: _Dict | None) -> str:
    def repl(m: re.Match[str]) -> str:
        s = m.string
        prev = _prev_word(s, m.start())
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
        nxt = _next_word(s, m.end())
        if prev in _ADDRESS_BEFORE:
            kind = "over"
        elif is_date and prev in _DATE_CONTEXT:
            kind = "date"
        elif prev in _FRACTION_BEFORE or (0 < a < b and nxt in _FRACTION_AFTER):
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

    return _DATE_RE.sub(repl, text) if _DATE_HINT.search(text) else text


_DAY_WORD = re.compile(
    r"(?i:\b(?P<w>ngày|mùng|mồng))\s+(?P<d>0?[1-9]|[12][0-9]|3[01])"
    # "ngày 5 tháng 6", "ngày 5 hàng tháng", "ngày 7 và 8/7", "ngày 5 đến ngày 7/9"
    r"(?=\s+(?i:tháng|hàng tháng|hằng tháng)\b"
    rf"|\s*(?:,|-|và|hoặc|đến)\s*(?:ngày\s+)?(?:[0-9]{{1,2}}\s+tháng\b|{_PH}))"
)
_MONTH_WORD = re.compile(r"(?i:\b(?P<w>tháng))\s+(?P<m>0?[1-9]|1[0-2])(?![\w]|[.,/][0-9])")


def _rule_date_words(text: str, line: _Line, lex: _Dict | None) -> str:
    text = _DAY_WORD.sub(
        lambda m: (
            f"{m.group('w')} " + line.protect(_day_words(int(m.group("d")), m.group("w").lower()))
        ),
        text,
    )
    return _MONTH_WORD.sub(
        lambda m: f"{m.group('w')} " + line.protect(month_to_words(int(m.group("m")))), text
    )


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


def _rule_roman(text: str, line: _Line, lex: _Dict | None) -> str:
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
            reading = _spell(m.group("l"))
        return line.protect(reading, _WORD_KIND) + ", "

    text = _HEADING.sub(heading, text)
    return _ROMAN_RE.sub(repl, text) if _ROMAN_HINT.search(text) else text


# --- ordinals after "thứ" ------------------------------------------------------------
_ORD_ITEM = r"[0-9]{1,3}(?![\w]|[.,/:][0-9])"
_THU_RE = re.compile(
    rf"(?i:\b(?P<w>thứ))\s+(?P<n>{_ORD_ITEM})"
    rf"(?P<more>(?:\s*(?:,|-|và|đến|hoặc)\s*[2-8](?![\w]|[.,/:][0-9]))*)"
)
_THU_SPLIT = re.compile(r"\s*(,|-|và|đến|hoặc)\s*([0-9]+)")


def _rule_ordinals(text: str, line: _Line, lex: _Dict | None) -> str:
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


# --- numbers with units, money, percent --------------------------------------------
_NUMTOK = r"[0-9]+(?:[.,][0-9]+)*"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=lambda u: (-len(u), u)))
_PER_ALT = "|".join(re.escape(u) for u in sorted(_PER_UNITS, key=lambda u: (-len(u), u)))
_SCALE = r"nghìn|ngàn|triệu|tỷ|tỉ"
_UNIT_RE = re.compile(
    rf"(?<![\w.,])(?P<neg>-)?(?P<num>{_NUMTOK})(?:\s?(?P<scale>{_SCALE})(?![\w]))?"
    rf"\s?(?P<unit>{_UNIT_ALT})(?P<per>(?:/(?:{_PER_ALT}|[^\W\d_]+)(?![\w]))*)(?![\w])"
)
_PER_ITEM = re.compile(rf"/({_PER_ALT}|[^\W\d_]+)(?![\w])")
_DOLLAR = re.compile(rf"(?<![\w.,])(?:US)?\$\s?(?P<num>{_NUMTOK})(?:\s?(?P<scale>{_SCALE})\b)?")
_NEG_TEMP = re.compile(rf"(?<![\w.,)-])-(?P<num>{_NUMTOK})(?=\s?độ\b)")


def _per_words(per: str) -> str:
    words = []
    for unit in _PER_ITEM.findall(per):
        words += ["một", _PER_UNITS.get(unit, unit)]
    return " ".join(words)


def _rule_units(text: str, line: _Line, lex: _Dict | None) -> str:
    def repl(m: re.Match[str]) -> str:
        unit = m.group("unit")
        words = [_number_words(m.group("num"), "phẩy")]
        lead = ""
        if m.group("neg"):
            if unit.startswith(("°", "oC")):
                words.insert(0, "âm")
            else:
                lead = "-"
        if m.group("scale"):
            words.append(m.group("scale"))
        words.append(_UNITS[unit])
        if m.group("per"):
            words.append(_per_words(m.group("per")))
        return lead + line.protect(" ".join(words))

    if "-" in text:
        text = _NEG_TEMP.sub(lambda m: line.protect("âm " + _number_words(m.group("num"))), text)
    if "$" in text:
        text = _DOLLAR.sub(
            lambda m: line.protect(
                " ".join(
                    filter(None, [_number_words(m.group("num")), m.group("scale"), "đô la mỹ"])
                )
            ),
            text,
        )
    return _UNIT_RE.sub(repl, text)


# --- plain numbers, letter+digit codes ------------------------------------------------
_NUMBER_RE = re.compile(rf"(?<![\w.,])(?P<num>{_NUMTOK})(?![\w])")
_ALNUM_RE = re.compile(r"(?<![\w.,])(?=[^\W_]*[0-9])(?=[^\W_]*[^\W\d_])[^\W_]+(?![\w])")
_ALNUM_RUN = re.compile(r"[0-9]+|[^\W\d_]+")


_SCALE_WORDS = frozenset(_SCALE.split("|"))


def _rule_numbers(text: str, line: _Line, lex: _Dict | None) -> str:
    def repl(m: re.Match[str]) -> str:
        dot = "phẩy" if _next_word(m.string, m.end()) in _SCALE_WORDS else "chấm"
        return line.protect(_number_words(m.group("num"), dot))

    return _NUMBER_RE.sub(repl, text)


def _read_letters(run: str) -> str:
    if run in _CODE_PREFIXES:
        return _CODE_PREFIXES[run]
    if run in ABBREVIATIONS:
        return ABBREVIATIONS[run]
    low = run.lower()
    if low in _ABBR_FOLDED:
        return _ABBR_FOLDED[low]
    if run.isupper() or len(run) <= 2:
        return _spell(run)
    return low


def _rule_alnum(text: str, line: _Line, lex: _Dict | None) -> str:
    def repl(m: re.Match[str]) -> str:
        tok = m.group()
        if tok in _UNITS:
            return line.protect(_UNITS[tok], _WORD_KIND)
        words = []
        for run in _ALNUM_RUN.findall(tok):
            if _is_digits(run):
                words.append(_int_words(run) if len(run) <= 4 else digits_to_words(run))
            else:
                words.append(_read_letters(run))
        reading = " ".join(words)
        # "đường ĐT741": the text already says "đường", so do not read it twice.
        prev = _prev_word(m.string, m.start())
        if prev and reading.startswith(prev + " "):
            reading = reading[len(prev) + 1 :]
        return line.protect(reading, _WORD_KIND)

    return _ALNUM_RE.sub(repl, text)


# --- joins between readings ---------------------------------------------------------
_RANGE_JOIN = re.compile(rf"({_PH})\s*-\s*(?=(?:(?i:thứ)\s+)?({_PH}))")
_OVER_JOIN = re.compile(rf"({_PH})[/:](?=({_PH}))")

_PER_HEAD = "đồng|tấn|tạ|yến|lít|người|lượt|con|chiếc|liều|mũi|suất|hộ|ca|lần"
_PER_TAIL = (
    "ngày|tháng|năm|tuần|giờ|quý|vụ|người|hộ|khẩu|lượt|con|sào|lần|suất|ha|kg|m2|m²|m3|m³|km"
)
_PER_WORD = re.compile(
    rf"(?i:\b(?:(?P<head>{_PER_HEAD})/(?P<unit>{_PER_ALT}|[^\W\d_]+)"
    rf"|(?P<head2>[^\W\d_]+)/(?P<tail>{_PER_TAIL})))(?![\w])"
)


def _rule_joins(text: str, line: _Line, lex: _Dict | None) -> str:
    def range_join(m: re.Match[str]) -> str:
        a, b = m.group(1), m.group(2)
        if line.kind(a) == _NUM_KIND and line.kind(b) == _NUM_KIND:
            if _prev_words(m.string, m.start(), 2) in ("tỷ số", "tỉ số"):
                return f"{a} "
            return f"{a} đến "
        return m.group()

    def over_join(m: re.Match[str]) -> str:
        a, b = m.group(1), m.group(2)
        if line.kind(a) == _NUM_KIND and line.kind(b) == _NUM_KIND:
            return f"{a} trên "
        return m.group()

    text = _RANGE_JOIN.sub(range_join, text)
    return _OVER_JOIN.sub(over_join, text)


def _rule_per(text: str, line: _Line, lex: _Dict | None) -> str:
    """ "đồng/tháng", "con/m2", "lít nước/ngày" -> "... một ..." (per)."""

    def per(m: re.Match[str]) -> str:
        head = m.group("head") or m.group("head2")
        unit = m.group("unit") or m.group("tail")
        reading = _PER_UNITS.get(unit) or _PER_UNITS.get(unit.lower()) or unit
        return f"{head} " + line.protect("một " + reading, _WORD_KIND)

    return _PER_WORD.sub(per, text) if "/" in text else text


# --- digits no rule claimed ("abc,5", "1.2.3.4/5") ------------------------------------
_DIGITS_RE = re.compile(r"[0-9]+")


def _rule_leftover_digits(text: str, line: _Line, lex: _Dict | None) -> str:
    return _DIGITS_RE.sub(lambda m: line.protect(_int_words(m.group())), text)


# --- leftover words: spell codes, lower-case words ------------------------------------
_VOWELS = re.compile("[aăâeêioôơuưy]")
_UPPER = "".join(c for c in map(chr, [*range(0x41, 0x250), *range(0x1E00, 0x1F00)]) if c.isupper())
# Only the words _rule_words may change: all-caps tokens and short consonant-only
# lower-case tokens; matching every word would cost a Python call per word.
_CODE_WORD_RE = re.compile(rf"(?<![^\W_])(?:[{_UPPER}]+|[bcdđfghjklmnpqrstvwxz]{{1,4}})(?![^\W_])")


def _rule_words(text: str, line: _Line, lex: _Dict | None) -> str:
    def repl(m: re.Match[str]) -> str:
        tok = m.group()
        if tok.isupper():
            return tok if _is_syllable(tok) else line.protect(_spell(tok), _WORD_KIND)
        if tok.islower() and len(tok) <= 4 and not _VOWELS.search(_strip_tones(tok)):
            if tok in _UNITS:
                return line.protect(_UNITS[tok], _WORD_KIND)
            return line.protect(_spell(tok), _WORD_KIND)
        return tok

    return _CODE_WORD_RE.sub(repl, text)


# --- symbols and punctuation ---------------------------------------------------------
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
    "°": " độ ",
    "×": " nhân ",
    "²": " bình phương ",
    "³": " lập phương ",
}
_SYMBOL_RE = re.compile("[" + "".join(map(re.escape, _SYMBOLS)) + "]")
_SPACED_DASH = re.compile(r"(?:^|\s)-+(?:\s|$)")
_WORD_SLASH = re.compile(rf"(?<=[^\W\d_]|{_PH})\s*/\s*(?=[^\W\d_]|{_PH})")
_BRACKETS = re.compile(r"[()\[\]{}]")
_JUNK = re.compile(rf"[^\w\s,.;:!?{_PH[1:-1]}]|_")
_ELLIPSIS = re.compile(r"\.{2,}")


def _rule_symbols(text: str, line: _Line, lex: _Dict | None) -> str:
    # The membership tests skip whole regex scans on the common sentence.
    text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group()], text)
    if "-" in text:
        text = _SPACED_DASH.sub(", ", text)
    if "/" in text:
        text = _WORD_SLASH.sub(", ", text)
    text = _BRACKETS.sub(", ", text)
    if ".." in text:
        text = _ELLIPSIS.sub(".", text)
    return _JUNK.sub(" ", text)


_RULES: tuple[_Rule, ...] = (
    _rule_urls,
    _rule_lexicon,
    _rule_phones,
    _rule_doc_symbols,
    _rule_abbreviations,
    _rule_times,
    _rule_dates,
    _rule_date_words,
    _rule_roman,
    _rule_ordinals,
    _rule_units,
    _rule_numbers,
    _rule_per,
    _rule_alnum,
    _rule_joins,
    _rule_leftover_digits,
    _rule_words,
    _rule_symbols,
)

# A line without digits skips every rule that only reads numbers.
_HAS_DIGIT = re.compile("[0-9]")
_DIGIT_RULES = {
    _rule_phones,
    _rule_doc_symbols,
    _rule_times,
    _rule_dates,
    _rule_date_words,
    _rule_ordinals,
    _rule_units,
    _rule_numbers,
    _rule_alnum,
    _rule_leftover_digits,
}
_RULES_NO_DIGIT = tuple(r for r in _RULES if r not in _DIGIT_RULES)

# --- final tidy-up -------------------------------------------------------------------
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
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _PUNCT_RUN.sub(_merge_punct, text)
    text = _PUNCT_NO_SPACE.sub(r"\1 ", text)
    text = text.lstrip(" ,;:").rstrip(" ,;")
    if text[:1] in (".", "!", "?"):
        text = text[1:].lstrip()
    return text.lower()


def _normalize_line(raw: str, lex: _Dict | None) -> str:
    text = _clean(raw)
    if not text:
        return ""
    line = _Line()
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
            lex = _compile_lexicon(tuple(lexicon.items()))
        except TypeError:
            lex = _compile_lexicon(tuple((str(k), str(v)) for k, v in lexicon.items()))
    return "\n".join(_normalize_line(raw, lex) for raw in text.split("\n"))

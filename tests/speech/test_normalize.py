"""The Vietnamese text normalizer: golden announcements, readings from the issue, lexicon
behaviour and properties (never raises, keeps lines, reads formatted numbers as digits)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from broadcaster.speech.normalize import ABBREVIATIONS, normalize, number_to_words

GOLDEN = Path(__file__).with_name("golden_normalize.tsv")
PROPERTY = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _golden() -> list[tuple[int, str, str]]:
    cases = []
    for number, raw in enumerate(GOLDEN.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        text, expected = raw.split("\t")
        cases.append((number, text, expected))
    return cases


GOLDEN_CASES = _golden()


def test_golden_table_is_large_and_unique() -> None:
    inputs = [text for _, text, _ in GOLDEN_CASES]
    assert len(inputs) >= 200
    assert len(set(inputs)) == len(inputs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(text, expected) for _, text, expected in GOLDEN_CASES],
    ids=[f"line{number}" for number, _, _ in GOLDEN_CASES],
)
def test_golden(text: str, expected: str) -> None:
    assert normalize(text) == expected


# Readings named in the issue, one assertion each, so a failure names the rule.
ISSUE_READINGS = [
    ("183.620", "một trăm tám mươi ba nghìn sáu trăm hai mươi"),
    ("1.128.620", "một triệu một trăm hai mươi tám nghìn sáu trăm hai mươi"),
    ("16,27", "mười sáu phẩy hai mươi bảy"),
    ("16,27%", "mười sáu phẩy hai mươi bảy phần trăm"),
    ("0,05", "không phẩy không năm"),
    ("3,14159", "ba phẩy một bốn một năm chín"),
    ("50.000đ", "năm mươi nghìn đồng"),
    ("50.000 VNĐ", "năm mươi nghìn đồng"),
    ("2 triệu đồng", "hai triệu đồng"),
    ("1,5 tỷ", "một phẩy năm tỷ"),
    ("ngày 13/8/2020", "ngày mười ba tháng tám năm hai nghìn không trăm hai mươi"),
    ("13/8/2020", "ngày mười ba tháng tám năm hai nghìn không trăm hai mươi"),
    ("13-8-2020", "ngày mười ba tháng tám năm hai nghìn không trăm hai mươi"),
    ("tháng 8/2020", "tháng tám năm hai nghìn không trăm hai mươi"),
    ("tháng 4", "tháng tư"),
    ("ngày 5/6", "ngày mồng năm tháng sáu"),
    ("mùng 5/6", "mùng năm tháng sáu"),
    ("17h", "mười bảy giờ"),
    ("17h30", "mười bảy giờ ba mươi phút"),
    ("17:30", "mười bảy giờ ba mươi phút"),
    ("0h", "không giờ"),
    ("6h30-7h30", "sáu giờ ba mươi phút đến bảy giờ ba mươi phút"),
    ("14-21 ngày", "mười bốn đến hai mươi mốt ngày"),
    ("thứ 1", "thứ nhất"),
    ("thứ 4", "thứ tư"),
    ("thứ 2", "thứ hai"),
    ("xếp thứ 12", "xếp thứ mười hai"),
    ("T2", "thứ hai"),
    ("Thứ 2", "thứ hai"),
    ("CN", "chủ nhật"),
    ("Quý III/2021", "quý ba năm hai nghìn không trăm hai mươi mốt"),
    ("thế kỷ XXI", "thế kỷ hai mươi mốt"),
    ("Đại hội XIII", "đại hội mười ba"),
    ("khóa XIV", "khóa mười bốn"),
    ("1/2 dân số", "một phần hai dân số"),
    ("3/4 số hộ", "ba phần bốn số hộ"),
    ("ngày 3/4", "ngày mồng ba tháng tư"),
    ("0234.3822.123", "không hai ba bốn, ba tám hai hai, một hai ba"),
    ("gọi 1900 9095", "gọi một chín không không, chín không chín năm"),
    ("gọi 113", "gọi một một ba"),
    ("gọi 115", "gọi một một năm"),
    ("đường dây nóng 0914 123 456", "đường dây nóng không chín một bốn, một hai ba, bốn năm sáu"),
    (
        "https://www.bluezone.gov.vn/tai-lieu",
        "blu dôn chấm gov chấm vê nờ gạch chéo tai lieu",
    ),
    ("a@b.vn", "a a còng bê chấm vê nờ"),
    ("5 km", "năm ki lô mét"),
    ("5 m2", "năm mét vuông"),
    ("5 m²", "năm mét vuông"),
    ("5 ha", "năm héc ta"),
    ("5 kg", "năm ki lô gam"),
    ("35°C", "ba mươi lăm độ xê"),
    ("50.000 đ/kg", "năm mươi nghìn đồng một ki lô gam"),
    ("60 km/h", "sáu mươi ki lô mét trên giờ"),
    ("Covid-19", "cô vít mười chín"),
    ("5K", "năm ca"),
    ("nCoV", "en cô vi"),
    (
        "số 7414/UBND-CT",
        "số bảy nghìn bốn trăm mười bốn trên ủy ban nhân dân gạch ngang xê tê",
    ),
    ("số 215/KH-UBND", "số hai trăm mười lăm trên ca hát gạch ngang ủy ban nhân dân"),
    ("Sở TT&TT", "sở thông tin và truyền thông"),
    ("KT-XH", "kinh tế xã hội"),
    ("VH-TT", "văn hóa thông tin"),
]


@pytest.mark.parametrize(("text", "expected"), ISSUE_READINGS, ids=[t for t, _ in ISSUE_READINGS])
def test_issue_readings(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "key",
    [
        "UBND",
        "HĐND",
        "MTTQ",
        "BCĐ",
        "CCVC",
        "CBCCVC",
        "CBCC",
        "TTHC",
        "THCS",
        "THPT",
        "BHYT",
        "BHXH",
        "TNCS",
        "HTX",
        "TP",
        "TX",
        "TT",
        "UBMTTQ",
        "CSGT",
        "PCCC",
        "ATTP",
        "KT-XH",
        "VH-TT",
        "TT&TT",
    ],
)
def test_issue_abbreviations_are_built_in(key: str) -> None:
    assert key in ABBREVIATIONS


def test_every_abbreviation_reads_as_its_entry() -> None:
    for key, reading in ABBREVIATIONS.items():
        assert normalize(key) == reading, key
        assert reading == reading.lower() and not any(c.isdigit() for c in reading), key


def test_no_doubled_ngay_and_mong_kept() -> None:
    assert normalize("Ngày 13/8") == "ngày mười ba tháng tám"
    assert normalize("ngày mùng 2/9") == "ngày mùng hai tháng chín"
    assert normalize("Sáng 13/8") == "sáng ngày mười ba tháng tám"
    assert "ngày ngày" not in normalize("từ ngày 13/8 đến ngày 15/8/2021")


def test_all_caps_vietnamese_is_lowered_but_codes_are_spelled() -> None:
    assert normalize("THÔNG BÁO KHẨN") == "thông báo khẩn"
    assert normalize("VTV") == "vê tê vê"
    assert normalize("Vitamin C") == "vitamin xê"


# --- lexicon --------------------------------------------------------------------------------


def test_lexicon_overrides_built_in_and_is_case_insensitive_for_words() -> None:
    lexicon = {"Bluezone": "Blu dôn", "UBND": "u bê en đê"}
    assert normalize("Cài BLUEZONE và bluezone", lexicon=lexicon) == "cài blu dôn và blu dôn"
    assert normalize("UBND xã", lexicon=lexicon) == "u bê en đê xã"


def test_lexicon_all_caps_keys_are_case_sensitive() -> None:
    lexicon = {"CA": "cê a"}
    assert normalize("CA xã và ca mắc", lexicon=lexicon) == "cê a xã và ca mắc"


def test_lexicon_whole_words_longest_first() -> None:
    lexicon = {"Phú": "phu", "Phú Mậu": "phú mậu quê tôi"}
    assert normalize("xã Phú Mậu", lexicon=lexicon) == "xã phú mậu quê tôi"
    assert normalize("Phúc", lexicon=lexicon) == "phúc"


def test_lexicon_is_applied_before_rules() -> None:
    # Its reading is final: the rules do not rewrite it, and it reaches into symbols and URLs.
    assert normalize("Đọc 5K", lexicon={"5K": "năm chữ ca"}) == "đọc năm chữ ca"
    assert (
        normalize("số 12/KH-UBND", lexicon={"KH": "kế hoạch"})
        == "số mười hai trên kế hoạch gạch ngang ủy ban nhân dân"
    )
    assert normalize("www.bluezone.gov.vn", lexicon={"bluezone": "blu giôn"}) == (
        "blu giôn chấm gov chấm vê nờ"
    )


def test_lexicon_is_not_mutated_and_empty_keys_are_ignored() -> None:
    lexicon = {"": "x", "  ": "y", "Zalo": "da lô"}
    before = dict(lexicon)
    assert normalize("Zalo", lexicon=lexicon) == "da lô"
    assert lexicon == before


# --- lines, unicode, determinism -------------------------------------------------------------


def test_lines_are_kept_one_for_one() -> None:
    text = "Kính thưa bà con.\n\nNgày 13/8/2020, UBND xã thông báo:\n- Tiêm lúc 7h30.\n"
    out = normalize(text)
    assert out.split("\n") == [
        "kính thưa bà con.",
        "",
        "ngày mười ba tháng tám năm hai nghìn không trăm hai mươi, ủy ban nhân dân xã thông báo:",
        "tiêm lúc bảy giờ ba mươi phút.",
        "",
    ]


def test_other_line_breaks_become_spaces() -> None:
    assert normalize("một\r\nhai\u2028ba\x0bbốn") == "một\nhai ba bốn"


def test_nfc_first() -> None:
    composed = "Ủy ban nhân dân xã Phú Mậu, ngày 05/6/2021"
    decomposed = unicodedata.normalize("NFD", composed)
    assert normalize(decomposed) == normalize(composed)
    assert normalize(decomposed) == unicodedata.normalize("NFC", normalize(decomposed))


def test_whitespace_collapsed_and_punctuation_tidied() -> None:
    assert normalize("  Xin   chào ,  bà con  !  ") == "xin chào, bà con!"
    assert normalize("(Ảnh: minh họa)") == "ảnh: minh họa"


def test_number_to_words_is_re_exported() -> None:
    assert number_to_words(1005) == "một nghìn không trăm linh năm"


# --- properties ---------------------------------------------------------------------------------

LINE_BREAKS = {"\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"}


@given(st.text(max_size=200))
@example("ngày 31/2/2021 lúc 25h61, 1.2.3.4/5, 0,000 đ, -7°C, +84 0 Ⅻ ½ ²³ ٣٤٥")
@example("\U000f0000\ue000\u200b UBND\U000f0001 ngày")
@PROPERTY
def test_any_text_never_raises_and_keeps_lines(text: str) -> None:
    out = normalize(text)
    assert out.count("\n") == text.count("\n")
    assert not (set(out) & (LINE_BREAKS - {"\n"}))
    assert not any(c in "0123456789" for c in out)
    assert normalize(text) == out


ANNOUNCEMENT_ALPHABET = st.sampled_from(
    list("0123456789 ./-,:%hđ") + ["ngày ", "tháng ", "thứ ", "số ", "gọi ", "quý ", "Quý ",
    "UBND", "Covid-19", "https://", "www.", ".vn", "/KH-", "đồng", "km/h", "0914 ", "1900 ",
    "IV", "XIII", "T2", "\n", "ha", "°C", "m2", "@", "(", ")", "&", "F0", "QĐ", "tỷ"]
)  # fmt: skip


@given(st.lists(ANNOUNCEMENT_ALPHABET, max_size=40).map("".join))
@PROPERTY
def test_announcement_like_text_never_raises(text: str) -> None:
    out = normalize(text)
    assert out.count("\n") == text.count("\n")
    assert not any(c in "0123456789" for c in out)


@given(
    st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=5),
    st.text(max_size=60),
)
@PROPERTY
def test_any_lexicon_never_raises(lexicon: dict[str, str], text: str) -> None:
    out = normalize(text, lexicon=lexicon)
    assert out.count("\n") == text.count("\n")


def _dotted(n: int) -> str:
    return f"{n:,}".replace(",", ".")


@given(st.integers(min_value=0, max_value=10**12))
@example(1005)
@example(183_620)
@example(1_128_620)
@example(19_001_234)
@PROPERTY
def test_dot_separated_numbers_read_like_plain_digits(n: int) -> None:
    for template in ("Tổng cộng có {} người tham gia.", "Kinh phí là {} đồng.", "Đạt {}%."):
        plain = normalize(template.format(n))
        assert normalize(template.format(_dotted(n))) == plain
        assert number_to_words(n) in plain


# --- issue 14: readers ----------------------------------------------------------------
ISSUE_14_READINGS = [
    ("-25", "âm hai mươi lăm"),
    ("nhiệt độ -2°C", "nhiệt độ âm hai độ xê"),
    ("-0,007", "âm không phẩy không không bảy"),
    ("-12,5", "âm mười hai phẩy năm"),
    ("10$", "mười đô la mỹ"),
    ("10€", "mười ơ rô"),
    ("10£", "mười bảng anh"),
    ("10$-20$", "mười đến hai mươi đô la mỹ"),
    ("100₫/kg", "một trăm đồng một ki lô gam"),
    ("0,5$", "năm mươi xu"),
    ("100k", "một trăm nghìn"),
    ("1tr", "một triệu"),
    ("2tr5", "hai triệu năm trăm nghìn"),
    ("1t", "một tỷ"),
    ("2t3", "hai tỷ ba trăm triệu"),
    ("1k-5k", "một nghìn đến năm nghìn"),
    ("thế kỉ xix", "thế kỉ mười chín"),
    ("mục XCIX", "mục chín mươi chín"),
    ("năm MCMXCIX", "năm một nghìn chín trăm chín mươi chín"),
    ("chương cccxlv", "chương ba trăm bốn mươi lăm"),
    ("220V", "hai trăm hai mươi vôn"),
    ("5mV", "năm mi li vôn"),
    ("50Hz", "năm mươi héc"),
    ("10kHz", "mười ki lô héc"),
    ("100MHz", "một trăm mê ga héc"),
    ("16GB", "mười sáu gi ga bai"),
    ("2TB", "hai tê ra bai"),
    ("512KB", "năm trăm mười hai ki lô bai"),
    ("150hp", "một trăm năm mươi mã lực"),
    ("5cm³", "năm xen ti mét khối"),
    ("3m³", "ba mét khối"),
    ("60km/h", "sáu mươi ki lô mét trên giờ"),
    ("5m/min", "năm mét trên phút"),
    ("1000000000000000", "một triệu tỷ"),
    ("1000000000000000000", "một tỷ tỷ"),
    ("1/2 kg", "một phần hai ki lô gam"),
    ("3/4 số hộ", "ba phần bốn số hộ"),
    ("5 1/2", "năm và một phần hai"),
    ("23 1/5", "hai mươi ba và một phần năm"),
]


@pytest.mark.parametrize(
    ("text", "expected"), ISSUE_14_READINGS, ids=[t for t, _ in ISSUE_14_READINGS]
)
def test_issue_14_readings(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "1/2": a date after "ngày", a fraction before a measure or a noun of quantity.
        ("ngày 1/2", "ngày mồng một tháng hai"),
        ("1/2 số hộ", "một phần hai số hộ"),
        ("1/2 lít", "một phần hai lít"),
        # "5K": the health message, upper case or after the words that introduce it.
        ("thực hiện 5K", "thực hiện năm ca"),
        ("thông điệp 5k", "thông điệp năm ca"),
        ("giá 5k", "giá năm nghìn"),
        ("giá 5K/kg", "giá năm nghìn một ki lô gam"),
        ("phí 5K", "phí năm nghìn"),
        ("giải chạy 5K", "giải chạy năm ki lô mét"),
        ("vé 50k", "vé năm mươi nghìn"),
        # A dash between two numbers is a range, before a lone number a minus.
        ("từ 5-10", "từ năm đến mười"),
        ("từ 5 -10 độ", "từ năm đến mười độ"),
        ("từ -5 đến -2°C", "từ âm năm đến âm hai độ xê"),
        ("Covid-19", "cô vít mười chín"),
        # Roman numerals only where the word before numbers a part; letters stay letters.
        ("phần C", "phần xê"),
        ("khoản d", "khoản dê"),
        ("năm mm", "năm mi li mét"),
        ("chương trình", "chương trình"),
        ("phần di sản", "phần di sản"),
        ("mục vi phạm", "mục vi phạm"),
        ("PHẦN DI SẢN", "phần di sản"),
        ("chương vi,", "chương sáu"),
        ("Phần VI của luật", "phần sáu của luật"),
        # "t" after a vehicle is tonnes; 16+ digits after an account word are digits.
        ("xe tải 5t", "xe tải năm tấn"),
        ("xe 2t5", "xe hai phẩy năm tấn"),
        (
            "số tài khoản 1903567890123456",
            "số tài khoản "
            + " ".join(
                "một chín không ba năm sáu bảy tám chín không một hai ba bốn năm sáu".split()
            ),
        ),
        # A range of money says the currency once, whatever the sign.
        ("60.000đ-65.000đ", "sáu mươi nghìn đến sáu mươi lăm nghìn đồng"),
        ("2 triệu đồng - 3 triệu đồng", "hai triệu đến ba triệu đồng"),
        # A currency sign without an amount is still said.
        ("bằng €", "bằng ơ rô"),
        # Money for a rate of time stays "một"; a measured rate is "trên".
        ("20k/tháng", "hai mươi nghìn một tháng"),
        ("500 m³/s", "năm trăm mét khối trên giây"),
    ],
)
def test_issue_14_context_decides(text: str, expected: str) -> None:
    assert normalize(text) == expected

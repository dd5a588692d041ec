"""Properties of the issue 14 readers: negatives, decimals, money, long numbers, Roman
numerals. Each reading is parsed back through ``words_to_number`` or checked structurally,
so no digit can be lost on the way."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcaster.speech.normalize import ABBREVIATIONS, normalize
from broadcaster.speech.numbers import number_to_words, words_to_number

PROPERTY = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
AMOUNTS = st.integers(min_value=1, max_value=10**12)
TWO_DECIMALS = st.integers(min_value=1, max_value=99).map(str).filter(lambda d: d[0] != "0")


@PROPERTY
@given(AMOUNTS)
def test_it_reads_a_minus_as_am(n: int) -> None:
    reading = normalize(f"-{n}")
    assert reading == "âm " + number_to_words(n)
    assert words_to_number(reading) == -n


@PROPERTY
@given(st.integers(min_value=1, max_value=60))
def test_it_reads_negative_temperatures(n: int) -> None:
    assert normalize(f"nhiệt độ -{n}°C") == f"nhiệt độ âm {number_to_words(n)} độ xê"


@PROPERTY
@given(st.integers(min_value=0, max_value=10**6), TWO_DECIMALS)
def test_it_reads_negative_decimals_with_both_parts(whole: int, frac: str) -> None:
    reading = normalize(f"-{whole},{frac}")
    assert reading.startswith("âm ")
    left, right = reading.removeprefix("âm ").split(" phẩy ")
    assert words_to_number(left) == whole
    assert words_to_number(right) == int(frac)


@PROPERTY
@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_a_range_between_two_numbers_is_never_a_minus(a: int, b: int) -> None:
    for text in (f"{a}-{b}", f"{a} - {b}", f"{a} -{b}"):
        assert normalize(text) == f"{number_to_words(a)} đến {number_to_words(b)}"


@PROPERTY
@given(AMOUNTS, st.sampled_from([("$", "đô la mỹ"), ("€", "ơ rô"), ("£", "bảng anh")]))
def test_it_reads_currency_symbols_before_or_after(n: int, currency: tuple[str, str]) -> None:
    sign, word = currency
    expected = f"{number_to_words(n)} {word}"
    assert normalize(f"{n}{sign}") == expected
    assert normalize(f"{sign}{n}") == expected
    assert words_to_number(normalize(f"{n}{sign}").removesuffix(" " + word)) == n


@PROPERTY
@given(st.integers(min_value=1, max_value=99))
def test_it_reads_amounts_below_one_dollar_as_cents(cents: int) -> None:
    assert normalize(f"0,{cents:02d}$") == f"{number_to_words(cents)} xu"
    if cents % 10 == 0:
        assert normalize(f"0,{cents // 10}$") == f"{number_to_words(cents)} xu"


@PROPERTY
@given(AMOUNTS, AMOUNTS)
def test_a_money_range_says_the_currency_once(a: int, b: int) -> None:
    reading = normalize(f"{a}$-{b}$")
    assert reading == f"{number_to_words(a)} đến {number_to_words(b)} đô la mỹ"


@PROPERTY
@given(st.integers(min_value=1, max_value=999).filter(lambda n: n != 5))
def test_colloquial_k_tr_t_are_scales(n: int) -> None:
    assert words_to_number(normalize(f"{n}k")) == n * 1_000
    assert words_to_number(normalize(f"{n}tr")) == n * 1_000_000
    assert words_to_number(normalize(f"{n}t")) == n * 1_000_000_000


@PROPERTY
@given(st.integers(min_value=1, max_value=999), st.integers(min_value=1, max_value=9))
def test_a_digit_after_the_scale_is_its_tenth(n: int, tail: int) -> None:
    assert words_to_number(normalize(f"{n}tr{tail}")) == n * 1_000_000 + tail * 100_000
    assert words_to_number(normalize(f"{n}t{tail}")) == n * 1_000_000_000 + tail * 100_000_000


@PROPERTY
@given(st.integers(min_value=10**15, max_value=10**27 - 1))
def test_long_numbers_are_read_as_numbers(n: int) -> None:
    assert words_to_number(normalize(str(n))) == n


def _roman(n: int) -> str:
    out = ""
    for value, letters in (
        (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
    ):  # fmt: skip
        while n >= value:
            out, n = out + letters, n - value
    return out


_NOT_NUMERALS = frozenset("mm cm dm ml dl cl mi li MC MV CD DC CC CM MD XL".split())


@PROPERTY
@given(
    st.integers(min_value=1, max_value=3999).filter(lambda n: n not in (50, 100, 500, 1000)),
    st.sampled_from(["chương", "mục", "phần", "đoạn", "khoản", "thế kỷ", "năm"]),
    st.booleans(),
)
def test_roman_numerals_after_a_context_word(n: int, word: str, lower: bool) -> None:
    numeral = _roman(n).lower() if lower else _roman(n)
    if numeral in _NOT_NUMERALS or numeral in ABBREVIATIONS:
        return  # units, syllables, capitals and the dictionary's "CV" stay as written
    assert normalize(f"{word} {numeral}") == f"{word} {number_to_words(n)}"


@PROPERTY
@given(st.integers(min_value=1, max_value=99), st.integers(min_value=2, max_value=12))
def test_mixed_numbers_read_va(whole: int, denominator: int) -> None:
    numerator = 1
    reading = normalize(f"{whole} {numerator}/{denominator}")
    assert reading == (f"{number_to_words(whole)} và một phần {number_to_words(denominator)}")

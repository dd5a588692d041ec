"""Vietnamese number words: fixed readings and a round trip through our own parser."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcaster.speech.numbers import (
    digits_to_words,
    fraction_digits_to_words,
    int_words,
    month_to_words,
    number_to_words,
    ordinal_to_words,
    words_to_number,
)

PROPERTY = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

CARDINALS = [
    (0, "không"),
    (1, "một"),
    (4, "bốn"),
    (5, "năm"),
    (10, "mười"),
    (11, "mười một"),
    (14, "mười bốn"),
    (15, "mười lăm"),
    (20, "hai mươi"),
    (21, "hai mươi mốt"),
    (24, "hai mươi bốn"),
    (25, "hai mươi lăm"),
    (31, "ba mươi mốt"),
    # vn-numberwords 0.2.0 reads these as "... mươi năm".
    (65, "sáu mươi lăm"),
    (75, "bảy mươi lăm"),
    (95, "chín mươi lăm"),
    (100, "một trăm"),
    (101, "một trăm linh một"),
    (104, "một trăm linh bốn"),
    (105, "một trăm linh năm"),
    (110, "một trăm mười"),
    (115, "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt"),
    (1000, "một nghìn"),
    (1005, "một nghìn không trăm linh năm"),
    (1015, "một nghìn không trăm mười lăm"),
    (1050, "một nghìn không trăm năm mươi"),
    (1100, "một nghìn một trăm"),
    (2020, "hai nghìn không trăm hai mươi"),
    (2021, "hai nghìn không trăm hai mươi mốt"),
    (1975, "một nghìn chín trăm bảy mươi lăm"),
    (10_015, "mười nghìn không trăm mười lăm"),
    (183_620, "một trăm tám mươi ba nghìn sáu trăm hai mươi"),
    (1_000_000, "một triệu"),
    (1_000_005, "một triệu không trăm linh năm"),
    (1_001_000, "một triệu không trăm linh một nghìn"),
    (2_000_100, "hai triệu một trăm"),
    (1_128_620, "một triệu một trăm hai mươi tám nghìn sáu trăm hai mươi"),
    (1_490_000, "một triệu bốn trăm chín mươi nghìn"),
    (1_000_000_000, "một tỷ"),
    (1_000_000_005, "một tỷ không trăm linh năm"),
    (1_005_000_000, "một tỷ không trăm linh năm triệu"),
    (12_500_000_000, "mười hai tỷ năm trăm triệu"),
    (10**12, "một nghìn tỷ"),
    (26_000 * 10**9, "hai mươi sáu nghìn tỷ"),
    (10**15, "một triệu tỷ"),
    (10**18, "một tỷ tỷ"),
    (-5, "âm năm"),
    (-1005, "âm một nghìn không trăm linh năm"),
]


@pytest.mark.parametrize(("n", "words"), CARDINALS, ids=[str(n) for n, _ in CARDINALS])
def test_cardinal(n: int, words: str) -> None:
    assert number_to_words(n) == words


@pytest.mark.parametrize(("n", "words"), CARDINALS, ids=[str(n) for n, _ in CARDINALS])
def test_parser_reads_the_table(n: int, words: str) -> None:
    assert words_to_number(words) == n


@given(st.integers(min_value=0, max_value=10**12))
@PROPERTY
def test_round_trip_up_to_a_trillion(n: int) -> None:
    words = number_to_words(n)
    assert words_to_number(words) == n
    assert words == words.strip() and "  " not in words


@given(st.integers(min_value=-(10**21), max_value=10**21))
@PROPERTY
def test_round_trip_large_and_negative(n: int) -> None:
    assert words_to_number(number_to_words(n)) == n


@given(st.integers(min_value=0, max_value=10**12))
@PROPERTY
def test_readings_use_the_northern_forms(n: int) -> None:
    words = f" {number_to_words(n)} "
    for wrong in (" ngàn ", " lẻ ", " mươi một ", " mươi năm ", " mười năm ", " linh mười "):
        assert wrong not in words, (n, words)


def test_small_numbers_exhaustively_round_trip() -> None:
    for n in range(0, 20_001):
        assert words_to_number(number_to_words(n)) == n


@pytest.mark.parametrize(
    "text", ["", "mười mốt", "hai mươi", "linh năm", "một trăm linh", "hai ba", "nghìn"]
)
def test_parser_rejects_what_we_never_write(text: str) -> None:
    if text == "hai mươi":
        assert words_to_number(text) == 20
        return
    with pytest.raises(ValueError):
        words_to_number(text)


def test_helpers() -> None:
    assert digits_to_words("0914") == "không chín một bốn"
    assert ordinal_to_words(1) == "nhất"
    assert ordinal_to_words(4) == "tư"
    assert ordinal_to_words(2) == "hai"
    assert ordinal_to_words(12) == "mười hai"
    assert month_to_words(4) == "tư"
    assert month_to_words(12) == "mười hai"
    assert fraction_digits_to_words("27") == "hai mươi bảy"
    assert fraction_digits_to_words("5") == "năm"
    assert fraction_digits_to_words("05") == "không năm"
    assert fraction_digits_to_words("125") == "một hai năm"


def test_large_ints_stay_exact() -> None:
    n = 123_456_789_012_345_678_901
    assert words_to_number(number_to_words(n)) == n


def test_it_reads_sixteen_digits_and_more_as_a_number() -> None:
    assert int_words("1" + "0" * 15) == "một triệu tỷ"
    assert int_words("1" + "0" * 18) == "một tỷ tỷ"
    assert int_words("25" + "0" * 15) == "hai mươi lăm triệu tỷ"
    assert int_words("1234567890123456") == (
        "một triệu hai trăm ba mươi bốn nghìn năm trăm sáu mươi bảy tỷ "
        "tám trăm chín mươi triệu một trăm hai mươi ba nghìn bốn trăm năm mươi sáu"
    )
    assert words_to_number(int_words("9" * 27)) == 10**27 - 1


def test_identifiers_stay_digit_by_digit() -> None:
    assert int_words("1" * 28) == " ".join(["một"] * 28)
    assert int_words("0123456789012345") == digits_to_words("0123456789012345")

"""Nothing is dropped silently (issue 14): every character is read, a pause, or reported."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.speech.loanwords import FrozenLexicon
from broadcaster.speech.normalize import Unreadable, normalize, normalize_report
from tests.speech.test_normalize import GOLDEN_CASES

# What may reach the loudspeaker: Latin letters (Vietnamese ones included), spaces, pauses.
SPEAKABLE = re.compile(r"[^\W\d_\u0250-\u1dff\u1f00-\U0010ffff]|[ ,.;:!?\n]")


def unreadable(text):
    return [(u.token, u.start, u.end) for u in normalize_report(text).unreadable]


def test_it_reports_what_it_leaves_out_with_its_place():
    text = "Bà con 😀 gọi Привет 你好\x07 ngay ✈"
    report = normalize_report(text)
    assert report.spoken == "bà con gọi ngay"
    assert unreadable(text) == [
        ("😀", 7, 8),
        ("Привет", 13, 19),
        ("你好", 20, 22),
        ("\x07", 22, 23),
        ("✈", 29, 30),
    ]
    assert [u.label for u in report.unreadable][-2:] == ["U+0007", "✈"]


def test_positions_count_across_lines():
    text = "Dòng một\nDòng hai ☂ ở đây"
    assert unreadable(text) == [("☂", 18, 19)]
    assert text[18] == "☂"


def test_the_marked_form_puts_each_token_where_it_stood():
    report = normalize_report("Mưa to ⚠ đề phòng lũ\nTrời nắng")
    assert report.marked == (
        ("mưa to ", False),
        ("⚠", True),
        (" đề phòng lũ", False),
        ("\n", False),
        ("trời nắng", False),
    )


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Hạng mục #3", "hạng mục số ba"),
        ("Hồ sơ số #12", "hồ sơ số mười hai"),
        ("Theo § 2 quy chế", "theo mục hai quy chế"),
        ("Tăng 10^2 lần", "tăng mười mũ hai lần"),
        ("Dao động ±2 độ", "dao động cộng trừ hai độ"),
        ("Tỷ lệ 5‰", "tỷ lệ năm phần nghìn"),
        ("Chợ → trường", "chợ đến trường"),
        ("400 µg axit folic", "bốn trăm mi crô gam axit folic"),
        ("Tia α, tia β, tia γ", "tia an pha, tia bê ta, tia gam ma"),
        ("Bà con “không được” vào", "bà con không được vào"),
        ("Lưu ý*: mang căn cước", "lưu ý: mang căn cước"),
        ("Sáng thứ hai | chiều thứ tư", "sáng thứ hai, chiều thứ tư"),
        ("Câu hỏi？Trả lời。", "câu hỏi? trả lời."),
        ("thôn\u00adĐông\u200b có điện", "thônđông có điện"),
    ],
)
def test_signs_are_named_or_kept_as_pauses_not_reported(text, spoken):
    report = normalize_report(text)
    assert report.spoken == spoken
    assert report.unreadable == ()


def test_no_golden_sentence_loses_anything_but_the_emoji_rows():
    lost = {text: unreadable(text) for _, text, _ in GOLDEN_CASES if unreadable(text)}
    assert all(
        all(not token.isalnum() and len(token) == 1 for token, _, _ in found)
        for found in lost.values()
    )
    assert len(lost) == 4


def test_report_and_normalize_agree_on_the_golden_table():
    for _, text, expected in GOLDEN_CASES:
        assert normalize_report(text).spoken == expected


def test_a_frozen_lexicon_turns_the_shipped_loanwords_off():
    assert normalize("Mã QR") == "mã kiu a"
    assert normalize("Mã QR", lexicon=FrozenLexicon()) == "mã quy rờ"
    assert normalize("Mã QR", lexicon=FrozenLexicon({"QR": "kiu a"})) == "mã kiu a"


TRICKY = st.sampled_from(
    list("#§^~*_|/\\-–—“”\"'()[]{}<>=+&%‰°±÷×$€£¥₫→•…,.;:!?")
    + ["😀", "☎", "你好", "Привет", "α", "µg", "\x00", "\x07", "\x1b", "\ufeff", "\u200b"]
)
WORDS = st.sampled_from(["bà con", "UBND", "QR", "app", "12", "3,5", "13/8", "17h30", "F0", " "])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(TRICKY, WORDS), max_size=12))
def test_every_character_is_read_or_reported(pieces):
    text = "".join(pieces)
    report = normalize_report(text)
    assert report.spoken == normalize(text)
    assert SPEAKABLE.sub("", report.spoken) == ""
    for u in report.unreadable:
        assert isinstance(u, Unreadable) and text[u.start : u.end] == u.token
    marked_out = "".join(piece for piece, bad in report.marked if bad)
    assert all(u.token in marked_out or not u.token.isprintable() for u in report.unreadable)


@pytest.mark.parametrize(
    ("text", "token", "start"),
    [
        ("😀\u200b😀", "😀\u200b😀", 0),  # a zero-width space between two unreadable signs
        ("a😀\ufeff😀", "😀\ufeff😀", 1),
        ("\u200b\u200b😀😀", "😀😀", 2),
    ],
)
def test_an_unreadable_token_is_placed_where_it_was_typed_around_invisible_characters(
    text, token, start
):
    (found,) = normalize_report(text).unreadable
    assert (found.token, found.start, found.end) == (token, start, start + len(token))
    assert text[found.start : found.end] == found.token

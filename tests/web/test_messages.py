"""Core refusals reach the web page by their code, never by their English wording."""

import pytest

from broadcaster.newsroom.workflow import WorkflowError
from broadcaster.onair.recurrence import parse_times
from broadcaster.onair.schedules import ScheduleError
from broadcaster.speech.lexicon import LexiconError
from web.messages import message_for


def test_it_maps_by_code_so_rewording_the_cli_message_changes_nothing(app):
    with app.test_request_context():
        reworded = WorkflowError("v3 isn't the newest one any more", code="not_latest", version=3)
        assert message_for(reworded) == "Chỉ thao tác được trên phiên bản mới nhất."


def test_it_fills_the_sentence_from_the_error_details(app):
    with app.test_request_context():
        with pytest.raises(ValueError) as caught:
            parse_times("06:00, 25:00")
        assert message_for(caught.value) == (
            "Giờ không hợp lệ: “25:00”. Hãy viết theo dạng 06:00, 17:00."
        )
        duplicate = LexiconError("'UBND' is already in the lexicon", code="duplicate_term")
        assert "“UBND” đã có trong từ điển" in message_for(duplicate, term="UBND")


def test_an_unknown_code_gets_a_vietnamese_sentence_and_no_english(app):
    with app.test_request_context():
        text = message_for(ScheduleError("the moon is in the wrong phase", code="moon"))
        assert "moon" not in text and "phase" not in text
        assert text == "Không thực hiện được thao tác này. Vui lòng kiểm tra lại và thử lại."


def test_a_missing_detail_still_gives_a_sentence_not_a_crash(app):
    with app.test_request_context():
        text = message_for(WorkflowError("unknown variable {x}", code="unknown_variable"))
        assert text.startswith("Không thực hiện được")


def test_a_short_password_is_refused_with_the_length_it_needs(app):
    from broadcaster.newsroom.users import MIN_PASSWORD_LENGTH, validate_password

    with app.test_request_context():
        with pytest.raises(ValueError) as caught:
            validate_password("ngắn")
        assert message_for(caught.value) == f"Mật khẩu cần ít nhất {MIN_PASSWORD_LENGTH} ký tự."


def test_every_code_the_core_raises_has_a_vietnamese_sentence():
    # A new refusal without its sentence would reach a form as the generic one.
    import re

    from broadcaster.core.config import PROJECT_ROOT
    from web.messages import BUILDERS, MESSAGES

    raised = set()
    for path in (PROJECT_ROOT / "broadcaster").rglob("*.py"):
        raised |= set(re.findall(r'\bcode\s*=\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))
    raised.discard("invalid")  # BroadcasterError's own default: the generic sentence
    assert sorted(raised - set(MESSAGES) - set(BUILDERS)) == []

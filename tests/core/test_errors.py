"""Refusals carry a stable code and their details; bugs are not refusals."""

from broadcaster.core.errors import BroadcasterError
from broadcaster.newsroom.workflow import WorkflowError
from broadcaster.onair.recurrence import TimeOfDayError, parse_times


def test_it_keeps_message_code_and_details():
    error = BroadcasterError("version 3 is not a draft", code="not_draft", version=3)
    assert str(error) == "version 3 is not a draft"
    assert error.code == "not_draft"
    assert error.details == {"version": 3}


def test_domain_errors_are_refusals_and_still_value_errors():
    assert issubclass(WorkflowError, BroadcasterError)
    assert issubclass(WorkflowError, ValueError)
    assert not isinstance(ValueError("a bug"), BroadcasterError)


def test_a_bad_time_of_day_names_the_token():
    try:
        parse_times("06:00, 25:00")
    except TimeOfDayError as error:
        assert error.code == "bad_time"
        assert error.details == {"time": "25:00"}
    else:
        raise AssertionError("25:00 was accepted")


def test_times_are_read_in_every_way_staff_write_them():
    assert [t.isoformat("minutes") for t in parse_times("17.00; 6h 6h30,06:00")] == [
        "06:00",
        "06:30",
        "17:00",
    ]

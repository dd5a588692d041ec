"""Schedules read times of day with the one reader, wherever they come from."""

import pytest
import yaml
from sqlmodel import select

from broadcaster.core.models import Schedule
from broadcaster.onair.schedulefiles import export_yaml, import_yaml
from broadcaster.onair.schedules import ScheduleError, recurrence_of
from tests.onair.test_occurrences import approved_script, weekly

FILE = """
schedules:
  - name: Nhắc nhở buổi chiều
    script: bluezone-nhac-nho-hang-ngay
    days: [mon, wed]
    times: "17.00, 6h30"
    targets: {stations: [HUE-THUAN-AN]}
"""


def test_it_reads_a_yaml_file_s_times_as_the_form_does(session):
    approved_script(session)
    (schedule,) = import_yaml(session, FILE)
    assert schedule.times == "06:30,17:00"
    assert [f"{t:%H:%M}" for t in recurrence_of(schedule).times] == ["06:30", "17:00"]
    (item,) = [
        i for i in yaml.safe_load(export_yaml(session))["schedules"] if i["name"] == schedule.name
    ]
    assert item["days"] == ["mon", "wed"] and item["times"] == ["06:30", "17:00"]


def test_it_refuses_an_unreadable_time_with_its_code(session):
    script = approved_script(session)
    with pytest.raises(ScheduleError, match="25:00") as refused:
        weekly(session, script, ["HUE-THUAN-AN"], [0], ["06:00", "25:00"])
    assert refused.value.code == "bad_time" and refused.value.details == {"time": "25:00"}
    assert session.exec(select(Schedule).where(Schedule.times.contains("25"))).first() is None

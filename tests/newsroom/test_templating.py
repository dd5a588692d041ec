from datetime import date

import pytest
from sqlmodel import select

from broadcaster.core.models import Script, Station
from broadcaster.newsroom.templating import TemplateError, check_template, context_for, expand
from broadcaster.newsroom.workflow import WorkflowError, add_version


def test_variables_are_filled_from_the_station_and_the_day(session):
    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    text = expand(
        "Bà con {ten_xa}, {ten_tinh} chú ý: hôm nay {thu}, ngày {ngay}.",
        context_for(session, station, date(2020, 8, 13)),
    )
    assert text == ("Bà con Phường Thuận An, Thành phố Huế chú ý: hôm nay thứ năm, ngày 13/8/2020.")


def test_a_station_variable_without_a_station_is_an_error_not_a_blank(session):
    with pytest.raises(TemplateError, match="needs a station"):
        expand("Bà con {ten_xa}", context_for(session, None, date(2020, 8, 13)))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Bà con {ten_ap} chú ý", "unknown variable {ten_ap}"),
        ("Giá {100} đồng", "not a variable name"),
        ("Thiếu ngoặc {ten_xa", "no partner"),
    ],
)
def test_bad_templates_are_refused_when_a_version_is_saved(session, body, message):
    with pytest.raises(TemplateError, match=message):
        check_template(body)
    script = session.exec(select(Script)).first()
    with pytest.raises(WorkflowError, match=message):
        add_version(session=session, script=script, body=body, voice="central")

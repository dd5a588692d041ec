import io
import re

from sqlmodel import select

from broadcaster.core.areas import get_area
from broadcaster.core.config import PROJECT_ROOT
from broadcaster.core.models import AdoptionFigure, Schedule, ScheduleTarget
from tests.helpers import csrf
from tests.onair.test_occurrences import approved_script

DEMO_CSV = PROJECT_ROOT / "scripts/bluezone/so-lieu-minh-hoa-2020-08-13.csv"


def upload(client, province_id, content: bytes, name="so-lieu.csv"):
    token = csrf(client, "/adoption")
    return client.post(
        "/adoption/import",
        data={
            "csrf_token": token,
            "province": str(province_id),
            "file": (io.BytesIO(content), name),
        },
        content_type="multipart/form-data",
    )


def test_the_demo_figures_rank_communes_and_highlight_the_low_ones(client, auth, session):
    hue = get_area(session, "Huế")
    auth.login("editor")
    upload(client, hue.id, DEMO_CSV.read_bytes())
    page = client.get(f"/adoption?province={hue.id}").get_data(as_text=True)
    assert "183.620 / 1.128.620" in page and "16.27%" in page
    table = page.split('id="adoption"', 1)[1]
    assert table.count('<tr class="laggard">') >= 5
    assert "Xã A Lưới 1" in table and "1/40" in table


def test_a_file_with_bad_rows_saves_nothing_and_says_which_rows(client, auth, session):
    hue = get_area(session, "Huế")
    auth.login("editor")
    bad = "ma_xa,ngay,so_cai_dat,dan_so\nPhường Thuận An,13/8/2020,5,10\nXã Ma,13/8/2020,1,2\n"
    page = client.get(upload(client, hue.id, bad.encode()).location).get_data(as_text=True)
    assert "1 dòng lỗi" in page and "Dòng 3: unknown commune" in page
    assert session.exec(select(AdoptionFigure)).all() == []


def test_boosting_low_communes_creates_one_schedule_for_them(client, auth, session, app):
    hue = get_area(session, "Huế")
    script = approved_script(session)
    session.commit()
    auth.login("approver")
    upload(client, hue.id, DEMO_CSV.read_bytes())
    page = client.get(f"/adoption?province={hue.id}").get_data(as_text=True)
    low = re.findall(r'name="commune" value="(\d+)" checked', page)
    token = csrf(client, "/adoption")
    response = client.post(
        "/adoption/boost",
        data={
            "csrf_token": token,
            "province": str(hue.id),
            "commune": low,
            "script": str(script.id),
            "times": "11:00",
            "days": "14",
        },
    )
    assert response.status_code == 302
    from web.db import get_session

    with app.app_context():
        db = get_session()
        schedule = db.exec(select(Schedule).where(Schedule.name.like("Tăng cường%"))).one()
        targets = db.exec(select(ScheduleTarget).where(ScheduleTarget.schedule_id == schedule.id))
        assert sorted(str(t.area_id) for t in targets) == sorted(low)
        assert schedule.priority == 1 and schedule.times == "11:00"


def test_an_excel_workbook_imports_like_a_csv(client, auth, session):
    from datetime import datetime

    from openpyxl import Workbook

    hue = get_area(session, "Huế")
    book = Workbook()
    sheet = book.active
    sheet.append(["Xã", "Ngày", "Số cài đặt", "Dân số"])
    sheet.append(["Phường Thuận An", datetime(2020, 8, 13), 5831, 27246])
    buffer = io.BytesIO()
    book.save(buffer)
    auth.login("editor")
    response = upload(client, hue.id, buffer.getvalue(), name="so-lieu.xlsx")
    assert "Đã nhập 1 số liệu mới" in client.get(response.location).get_data(as_text=True)
    session.rollback()  # a fresh snapshot: the import was written by the request
    figure = session.exec(select(AdoptionFigure)).one()
    assert (figure.installs, figure.population, figure.on.isoformat()) == (
        5831,
        27246,
        "2020-08-13",
    )


def test_one_communes_figures_can_be_typed_in_and_are_checked(client, auth, session):
    hue = get_area(session, "Huế")
    commune = session.exec(select(AdoptionFigure.area_id).limit(0)).first()  # none yet
    assert commune is None
    from broadcaster.core.areas import communes_of

    first = communes_of(session, hue)[0]
    auth.login("editor")
    token = csrf(client, "/adoption")
    bad = client.post(
        "/adoption/figure",
        data={
            "csrf_token": token,
            "commune": first.id,
            "on": "2026-11-29",
            "installs": "50",
            "population": "10",
        },
    )
    assert "at most population" in client.get(bad.location).get_data(as_text=True)
    client.post(
        "/adoption/figure",
        data={
            "csrf_token": token,
            "commune": first.id,
            "on": "2026-11-29",
            "installs": "5",
            "population": "10",
        },
    )
    session.rollback()  # a fresh snapshot: the figure was written by the request
    assert session.exec(select(AdoptionFigure)).one().installs == 5


def test_a_boost_with_a_bad_time_says_which_time_in_vietnamese(client, auth, session):
    hue = get_area(session, "Huế")
    script = approved_script(session)
    session.commit()
    auth.login("approver")
    upload(client, hue.id, DEMO_CSV.read_bytes())
    page = client.get(f"/adoption?province={hue.id}").get_data(as_text=True)
    low = re.findall(r'name="commune" value="(\d+)" checked', page)
    response = client.post(
        "/adoption/boost",
        data={
            "csrf_token": csrf(client, "/adoption"),
            "province": str(hue.id),
            "commune": low,
            "script": str(script.id),
            "times": "11:00, 25:00",
            "days": "14",
        },
        follow_redirects=True,
    )
    assert "Giờ không hợp lệ: “25:00”" in response.get_data(as_text=True)
    assert session.exec(select(Schedule).where(Schedule.name.like("Tăng cường%"))).first() is None

"""Schedules through the web: the form, the week calendar, conflicts, misses, "Phát ngay"."""

import re
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from broadcaster.core.config import PROJECT_ROOT
from broadcaster.core.models import (
    AuditEntry,
    Occurrence,
    OccurrenceStatus,
    Schedule,
    ScheduleTarget,
    Script,
    ScriptVersion,
    Station,
    User,
    VersionStatus,
)
from broadcaster.core.priority import Priority
from broadcaster.newsroom.workflow import approve, create_script, latest_approved, submit
from broadcaster.onair.schedulefiles import import_yaml
from tests.helpers import csrf

BLUEZONE = "Bluezone - nhắc cài đặt hằng ngày"
REMINDER = "Lời nhắc hằng ngày về cài đặt Bluezone"
WEEK = "2026-11-30"  # a Monday
WEEK_DAYS = [
    "2026-11-30",
    "2026-12-01",
    "2026-12-02",
    "2026-12-03",
    "2026-12-04",
    "2026-12-05",
    "2026-12-06",
]


@pytest.fixture(autouse=True)
def campaign_on_air(app):
    """The demo as `broadcaster init` leaves it: the Bluezone versions approved and
    schedules/bluezone.yaml imported. Does nothing where the fixtures already did it."""
    with db(app) as session:
        editor, approver = persona(session, "editor"), persona(session, "approver")
        for version in session.exec(
            select(ScriptVersion).where(ScriptVersion.status == VersionStatus.DRAFT)
        ).all():
            submit(session=session, version=version, actor=editor)
            approve(session=session, version=version, actor=approver)
        if not session.exec(select(Schedule).where(Schedule.name == BLUEZONE)).first():
            import_yaml(session, (PROJECT_ROOT / "schedules/bluezone.yaml").read_text("utf-8"))
        session.commit()


@contextmanager
def db(app):
    """A database session as a request of the app has it."""
    from web.db import get_session

    with app.test_request_context(method="POST"):
        yield get_session()


def persona(session, username):
    return session.exec(select(User).where(User.username == username)).one()


def lookup(app, model, **where):
    with db(app) as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.exec(query).first()


def ids(app, codes):
    return [str(lookup(app, Station, code=code).id) for code in codes]


def script_id(app, slug):
    return str(lookup(app, Script, slug=slug).id)


def post_schedule(client, app, path="/schedules/new", **fields):
    data = {
        "csrf_token": csrf(client, "/schedules/new"),
        "name": "Nhắc cài Bluezone giờ hành chính",
        "script": script_id(app, "bluezone-vi-sao-cai-dat"),
        "version": "",
        "kind": "weekly",
        "weekdays": ["0", "1", "2", "3", "4"],
        "times": "06:00, 17:00",
        "every_days": "2",
        "valid_from": "2026-11-30",
        "valid_until": "",
        "priority": "0",
        "repeat": "1",
        "stations": ids(app, ["HUE-PHU-XUAN", "HUE-THUAN-AN"]),
        **fields,
    }
    return client.post(path, data=data)


def calendar(client, **args):
    response = client.get("/schedules/calendar", query_string={"week": WEEK, **args})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def day(page, iso):
    """The HTML of one day's section of the calendar."""
    start = page.index(f'id="day-{iso}"')
    return page[start : page.index("</section>", start)]


def play_rows(section):
    return re.findall(r'<tr class="slot[^"]*" data-schedule="(\d+)">(.*?)</tr>', section, re.S)


def test_an_editor_creates_a_weekly_schedule_for_two_stations(client, auth, app):
    auth.login("editor")
    form = client.get("/schedules/new").get_data(as_text=True)
    assert "Vì sao mỗi người dân nên cài đặt Bluezone" in form and "Thứ 2" in form
    response = post_schedule(client, app)
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Thứ 2 đến Thứ 6, 06:00 và 17:00" in page
    assert "Đã lưu lịch phát" in page and "2 đài" in page
    assert page.count("<li>", page.index('id="next-plays"')) >= 5  # the next five plays
    schedule = lookup(app, Schedule, name="Nhắc cài Bluezone giờ hành chính")
    assert (schedule.kind, schedule.weekdays, schedule.times) == (
        "weekly",
        "0,1,2,3,4",
        "06:00,17:00",
    )
    assert schedule.created_by_id == lookup(app, User, username="editor").id
    with db(app) as session:
        targets = session.exec(
            select(ScheduleTarget).where(ScheduleTarget.schedule_id == schedule.id)
        ).all()
    assert sorted(str(t.station_id) for t in targets) == sorted(
        ids(app, ["HUE-PHU-XUAN", "HUE-THUAN-AN"])
    )

    listing = client.get("/schedules").get_data(as_text=True)
    assert "Nhắc cài Bluezone giờ hành chính" in listing and BLUEZONE in listing
    assert "Thành phố Huế (40 đài)" in listing  # the demo schedule targets the province
    assert "Thứ 2 đến Chủ nhật, 06:00 và 17:00" in listing and "Thường" in listing
    assert "Phát ngay" not in listing  # editors do not get the button


def test_editing_keeps_the_area_targets_and_changes_the_summary(client, auth, app):
    auth.login("editor")
    schedule = lookup(app, Schedule, name=BLUEZONE)
    form = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    assert 'value="06:00, 17:00"' in form
    area = re.search(r'<option selected value="(\d+)">Thành phố Huế \(40 đài\)', form)
    assert area, "the province target is preselected"
    response = post_schedule(
        client,
        app,
        path=f"/schedules/{schedule.id}",
        name=BLUEZONE,
        script=str(schedule.script_id),
        weekdays=[str(d) for d in range(7)],
        times="07:00",
        valid_from="2020-08-19",
        stations=[],
        areas=[area.group(1)],
    )
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Thứ 2 đến Chủ nhật, 07:00" in page and "Thành phố Huế (40 đài)" in page


def test_an_unapproved_script_is_not_offered_and_a_forged_post_is_refused(client, auth, app):
    with db(app) as session:
        draft, _version = create_script(
            session=session,
            title="Thông báo chưa duyệt",
            body="Bà con chú ý.",
            actor=persona(session, "editor"),
        )
        session.commit()
        draft_id = draft.id
    auth.login("editor")
    assert "Thông báo chưa duyệt" not in client.get("/schedules/new").get_data(as_text=True)
    response = post_schedule(client, app, name="Lịch giả mạo", script=str(draft_id))
    assert response.status_code == 400
    assert "Chỉ lên lịch được kịch bản đã được duyệt" in response.get_data(as_text=True)
    assert lookup(app, Schedule, name="Lịch giả mạo") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"times": "06:00, 25:00"}, "Giờ không hợp lệ: “25:00”"),
        ({"times": "sáng sớm"}, "Giờ không hợp lệ: “sáng sớm”"),
        ({"times": ""}, "Hãy nhập ít nhất một giờ phát."),
        ({"weekdays": []}, "Hãy chọn ít nhất một ngày trong tuần."),
        ({"stations": []}, "Hãy chọn ít nhất một đài, xã/phường, cụm xã hoặc tỉnh."),
        ({"valid_until": "2026-11-01"}, "Ngày kết thúc phải sau ngày bắt đầu."),
        ({"valid_from": "30/11/2026"}, "Hiệu lực từ ngày: Ngày không hợp lệ."),
        ({"name": ""}, "Vui lòng đặt tên cho lịch phát"),
        (
            {"kind": "once", "once_date": "2026-12-01", "once_time": ""},
            "Hãy chọn ngày và giờ phát.",
        ),
    ],
)
def test_bad_input_is_refused_in_vietnamese_and_nothing_is_saved(
    client, auth, app, fields, message
):
    auth.login("editor")
    fields.setdefault("name", "Lịch lỗi")
    response = post_schedule(client, app, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert lookup(app, Schedule, name="Lịch lỗi") is None


def test_a_version_of_another_script_cannot_be_pinned(client, auth, app):
    auth.login("editor")
    other = lookup(app, Script, slug="bluezone-cach-cai-dat")
    version = lookup(app, ScriptVersion, script_id=other.id)
    response = post_schedule(client, app, name="Lịch ghim sai", version=str(version.id))
    assert response.status_code == 400
    assert "Phiên bản đã chọn thuộc một kịch bản khác." in response.get_data(as_text=True)
    assert lookup(app, Schedule, name="Lịch ghim sai") is None


def test_a_once_schedule_pinned_to_a_version(client, auth, app):
    auth.login("editor")
    script = lookup(app, Script, slug="bluezone-ho-tro-cai-dat")
    version = lookup(app, ScriptVersion, script_id=script.id)
    response = post_schedule(
        client,
        app,
        name="Hỗ trợ cài đặt tại nhà văn hóa",
        script=str(script.id),
        version=str(version.id),
        kind="once",
        once_date="2026-12-02",
        once_time="19:30",
        valid_from="",
        priority="1",
        repeat="2",
    )
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Một lần lúc 19:30 ngày 02/12/2026" in page
    schedule = lookup(app, Schedule, name="Hỗ trợ cài đặt tại nhà văn hóa")
    assert (schedule.once_at, schedule.pinned_version_id, schedule.priority, schedule.repeat) == (
        "2026-12-02T19:30",
        version.id,
        Priority.PRIORITY,
        2,
    )
    wednesday = day(calendar(client, station="HUE-PHU-XUAN"), "2026-12-02")
    assert "19:30" in wednesday and "Ưu tiên" in wednesday


def test_the_week_calendar_of_a_station_lists_the_demo_plays(client, auth, app):
    auth.login("editor")
    page = calendar(client, station="HUE-PHU-XUAN")
    assert "Tuần từ 30/11/2026 đến 06/12/2026" in page and "Asia/Ho_Chi_Minh" in page
    for iso in WEEK_DAYS:
        rows = play_rows(day(page, iso))
        assert [re.search(r"\d\d:\d\d", html).group(0) for _, html in rows] == ["06:00", "17:00"]
        assert all(REMINDER in html for _, html in rows)
    assert "Thứ 2, 30/11/2026" in page and "Chủ nhật, 06/12/2026" in page
    assert "week=2026-11-23" in page and "week=2026-12-07" in page  # previous and next week
    # any day of the week shows the same Monday-to-Sunday calendar
    assert "Tuần từ 30/11/2026" in calendar(client, station="HUE-PHU-XUAN", week="2026-12-03")
    assert client.get("/schedules/calendar?station=NOWHERE").status_code == 404


def test_the_area_calendar_counts_stations(client, auth, app):
    auth.login("approver")
    listing = client.get("/schedules/new").get_data(as_text=True)
    area_id = re.search(r'<option value="(\d+)">Thành phố Huế \(40 đài\)', listing).group(1)
    monday = day(calendar(client, area=area_id), WEEK)
    rows = play_rows(monday)
    assert len(rows) == 2 and all("40 đài" in html and REMINDER in html for _, html in rows)
    everything = day(calendar(client), WEEK)
    assert "40 đài" in everything


def test_a_second_schedule_at_the_same_minute_is_a_conflict_with_the_emergency_first(
    client, auth, app
):
    auth.login("approver")  # only approvers and admins set emergency priority
    response = post_schedule(
        client,
        app,
        name="Cảnh báo bão số 13",
        script=script_id(app, "bluezone-ho-tro-cai-dat"),
        weekdays=["0"],
        times="06:00",
        stations=ids(app, ["HUE-PHU-XUAN"]),
        priority="2",
    )
    assert response.status_code == 302
    storm = lookup(app, Schedule, name="Cảnh báo bão số 13")
    bluezone = lookup(app, Schedule, name=BLUEZONE)
    page = calendar(client, station="HUE-PHU-XUAN")
    assert "Có 1 lượt trùng giờ trong tuần" in page
    rows = play_rows(day(page, WEEK))
    assert [int(schedule_id) for schedule_id, _ in rows] == [storm.id, bluezone.id, bluezone.id]
    assert "Trùng giờ · phát thứ 1/2" in rows[0][1] and "Khẩn cấp" in rows[0][1]
    assert "Trùng giờ · phát thứ 2/2" in rows[1][1]
    assert "Trùng giờ" not in rows[2][1]  # 17:00 plays alone
    assert "Trùng giờ" not in day(page, "2026-12-01")
    area = day(calendar(client), WEEK)
    assert "Trùng giờ ở 1 đài · phát thứ 1" in area and "Trùng giờ ở 1 đài · phát thứ 2" in area


def test_what_did_play_shows_with_its_status_and_reason(client, auth, app):
    bluezone = lookup(app, Schedule, name=BLUEZONE)
    station = lookup(app, Station, code="HUE-PHU-XUAN")
    with db(app) as session:
        version = latest_approved(session, session.get(Script, bluezone.script_id))
        monday_0600 = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
        monday_1700 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
        session.add(
            Occurrence(
                schedule_id=bluezone.id,
                station_id=station.id,
                at=monday_0600,
                version_id=version.id,
                status=OccurrenceStatus.MISSED,
                reason="no operator confirmed playing it within the grace window",
            )
        )
        session.add(
            Occurrence(
                schedule_id=bluezone.id,
                station_id=station.id,
                at=monday_1700,
                version_id=version.id,
                status=OccurrenceStatus.PLAYED,
                late=True,
                started_at=datetime(2026, 11, 30, 10, 3, tzinfo=UTC),
            )
        )
        session.add(
            Occurrence(
                schedule_id=bluezone.id,
                station_id=station.id,
                at=datetime(2026, 11, 30, 23, 0, tzinfo=UTC),
                version_id=version.id,
                status=OccurrenceStatus.FAILED,
                reason="amplifier did not answer",
            )
        )
        session.commit()
    auth.login("editor")
    page = calendar(client, station="HUE-PHU-XUAN")
    morning, evening = play_rows(day(page, WEEK))
    assert 'data-status="missed"' in morning[1] and "Bị lỡ" in morning[1]
    assert "Không có người vận hành xác nhận đã phát trong thời gian cho phép" in morning[1]
    assert "Đã phát" in evening[1] and "Phát trễ · 17:03" in evening[1]
    tuesday = play_rows(day(page, "2026-12-01"))[0][1]
    assert "Phát lỗi" in tuesday and "amplifier did not answer" in tuesday
    area = day(calendar(client), WEEK)
    assert "Bị lỡ · 1" in area
    assert "Sẽ phát · 39" in area or "Không có ghi nhận · 39" in area


def test_only_approvers_and_admins_broadcast_now(client, auth, app):
    auth.login("editor")
    assert client.get("/schedules/now").status_code == 403
    token = csrf(client, "/schedules/new")
    assert client.post("/schedules/now", data={"csrf_token": token}).status_code == 403
    auth.logout()

    auth.login("approver")
    assert "Phát ngay" in client.get("/schedules").get_data(as_text=True)
    form = client.get("/schedules/now").get_data(as_text=True)
    assert "data-confirm=" in form
    script = lookup(app, Script, slug="bluezone-ho-tro-cai-dat")
    response = client.post(
        "/schedules/now",
        data={
            "csrf_token": csrf(client, "/schedules/now"),
            "script": str(script.id),
            "stations": ids(app, ["HUE-PHU-XUAN"]),
        },
    )
    assert response.status_code == 302
    assert response.location.endswith("/schedules/calendar?station=HUE-PHU-XUAN")
    page = client.get(response.location).get_data(as_text=True)
    assert f"Đã phát ngay “{script.title}” đến 1 đài, mức khẩn cấp." in page
    schedule = lookup(app, Schedule, name=f"Phát ngay: {script.title}")
    assert (schedule.kind, schedule.priority) == ("once", Priority.EMERGENCY)
    assert schedule.created_by_id == lookup(app, User, username="approver").id
    assert f'data-schedule="{schedule.id}"' in page  # on this week's calendar

    refused = client.post(
        "/schedules/now",
        data={
            "csrf_token": csrf(client, "/schedules/now"),
            "script": str(script.id),
        },
    )
    assert refused.status_code == 400
    assert "Hãy chọn ít nhất một đài" in refused.get_data(as_text=True)


def test_editors_cannot_set_emergency_priority_only_approvers_and_admins_can(client, auth, app):
    auth.login("editor")
    form = client.get("/schedules/new").get_data(as_text=True)
    assert ">Ưu tiên</option>" in form and "Khẩn cấp" not in form  # not offered
    forged = post_schedule(client, app, name="Khẩn cấp giả", priority="2")
    assert forged.status_code == 400
    page = forged.get_data(as_text=True)
    assert "Chỉ lãnh đạo duyệt hoặc quản trị viên mới được tạo, sửa hoặc bật lại" in page
    assert lookup(app, Schedule, name="Khẩn cấp giả") is None
    assert post_schedule(client, app, name="Ưu tiên thật", priority="1").status_code == 302

    auth.logout()
    auth.login("approver")
    assert "Khẩn cấp" in client.get("/schedules/new").get_data(as_text=True)
    assert post_schedule(client, app, name="Cảnh báo bão", priority="2").status_code == 302
    storm = lookup(app, Schedule, name="Cảnh báo bão")
    token = csrf(client, f"/schedules/{storm.id}")
    client.post(f"/schedules/{storm.id}/active", data={"csrf_token": token, "active": "0"})

    auth.logout()
    auth.login("editor")
    # An editor may not repoint an approver's emergency, nor switch it back on.
    edited = post_schedule(
        client, app, path=f"/schedules/{storm.id}", name="Cảnh báo bão", priority="2", times="07:00"
    )
    assert edited.status_code == 400 and "Chỉ lãnh đạo duyệt" in edited.get_data(as_text=True)
    token = csrf(client, f"/schedules/{storm.id}")
    response = client.post(
        f"/schedules/{storm.id}/active", data={"csrf_token": token, "active": "1"}
    )
    assert "Chỉ lãnh đạo duyệt" in client.get(response.location).get_data(as_text=True)
    storm = lookup(app, Schedule, name="Cảnh báo bão")
    assert storm.is_active is False and storm.times == "06:00,17:00"


def test_deactivating_removes_the_plays_from_the_calendar(client, auth, app):
    auth.login("editor")
    bluezone = lookup(app, Schedule, name=BLUEZONE)
    token = csrf(client, f"/schedules/{bluezone.id}")
    response = client.post(
        f"/schedules/{bluezone.id}/active", data={"csrf_token": token, "active": "0"}
    )
    assert response.status_code == 302
    assert "Đã tạm dừng lịch phát" in client.get(response.location).get_data(as_text=True)
    assert lookup(app, Schedule, name=BLUEZONE).is_active is False
    page = calendar(client, station="HUE-PHU-XUAN")
    assert REMINDER not in page and page.count("Không có lượt phát nào.") == 7
    audit = lookup(app, AuditEntry, entity_type="schedule", action="deactivate")
    assert audit is not None and audit.entity_id == str(bluezone.id)

    client.post(f"/schedules/{bluezone.id}/active", data={"csrf_token": token, "active": "1"})
    assert len(play_rows(day(calendar(client, station="HUE-PHU-XUAN"), WEEK))) == 2
    # without a CSRF token nothing changes
    assert client.post(f"/schedules/{bluezone.id}/active", data={"active": "0"}).status_code == 400
    assert lookup(app, Schedule, name=BLUEZONE).is_active is True


@pytest.mark.parametrize(
    "path",
    ["/schedules", "/schedules/new", "/schedules/calendar", "/schedules/now", "/schedules/1"],
)
def test_operators_do_not_see_schedules(client, auth, path):
    auth.login("operator")
    assert client.get(path).status_code == 403


def test_the_summary_follows_the_chosen_language(client, auth, app):
    auth.login("editor")
    client.post("/lang/en", data={"csrf_token": csrf(client, "/schedules"), "next": "/"})
    listing = client.get("/schedules").get_data(as_text=True)
    assert "Monday to Sunday, 06:00 and 17:00, from 19/08/2020" in listing


@pytest.mark.parametrize(
    "query", ["week=30/11/2026", "week=9999-12-31", "area=abc", "area=999999", "area=" + "9" * 30]
)
def test_a_bad_calendar_address_is_refused(client, auth, query):
    auth.login("editor")
    assert client.get(f"/schedules/calendar?{query}").status_code in (400, 404)


def test_forged_target_and_version_ids_are_refused(client, auth, app):
    auth.login("editor")
    for fields in ({"stations": ["9" * 30]}, {"areas": ["999999"]}, {"version": "9" * 30}):
        response = post_schedule(client, app, name="Lịch giả mạo", **fields)
        assert response.status_code == 400
    assert lookup(app, Schedule, name="Lịch giả mạo") is None


def test_a_paused_schedule_says_so_and_offers_to_resume(client, auth, app):
    auth.login("editor")
    response = post_schedule(client, app)
    schedule = lookup(app, Schedule, name="Nhắc cài Bluezone giờ hành chính")
    page = client.get(response.location).get_data(as_text=True)
    assert "Đang bật" in page and ">Tạm dừng</button>" in page
    paused = client.post(
        f"/schedules/{schedule.id}/active",
        data={"csrf_token": csrf(client, f"/schedules/{schedule.id}"), "active": "0"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Đang tạm dừng" in paused and ">Bật lại</button>" in paused
    assert ">Tạm dừng</button>" not in paused

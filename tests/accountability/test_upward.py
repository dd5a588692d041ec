"""The report upward, counted from plays made and settled through the real on-air code."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft202012Validator
from openpyxl import load_workbook
from sqlmodel import select

from broadcaster.accountability import upward_export
from broadcaster.accountability.upward import UpwardError, find_area, upward_report
from broadcaster.core.models import Area, Occurrence, OccurrenceStatus, Station
from broadcaster.core.priority import Priority
from broadcaster.onair.occurrences import Outcome, apply_outcome, materialize, sweep
from broadcaster.onair.schedules import ScheduleInput, save_schedule
from tests.helpers import run_cli
from tests.onair.test_occurrences import approved_script, user, weekly

HUE = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 30)
MIDNIGHT = datetime(2026, 11, 30, tzinfo=HUE)  # 17:00 UTC on the 29th


def local(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return MIDNIGHT + timedelta(days=day_offset, hours=hour, minutes=minute)


def occurrences_of(session, code: str) -> list[Occurrence]:
    station = session.exec(select(Station).where(Station.code == code)).one()
    query = select(Occurrence).where(Occurrence.station_id == station.id)
    return list(session.exec(query.order_by(Occurrence.at)))


def play(session, occurrence: Occurrence, *, after: timedelta = timedelta(seconds=4)) -> None:
    start = occurrence.at + after
    apply_outcome(session, occurrence, Outcome("started"), at=start, actor="agent")
    apply_outcome(
        session, occurrence, Outcome("finished"), at=start + timedelta(minutes=2), actor="agent"
    )


@pytest.fixture
def aired(session):
    """Days 29/11 to 1/12 of a daily 06:00 bulletin at THUAN-AN and PHU-XUAN (two back-to-back
    plays each slot), with a 00:30 and 23:30 bulletin at AN-CUU and one emergency at THUAN-AN.
    THUAN-AN plays every slot; PHU-XUAN plays none of its own (the sweep logs them missed);
    AN-CUU plays all of its slots; the emergency plays."""
    daily = approved_script(session)
    weekly(session, daily, ["HUE-THUAN-AN", "HUE-PHU-XUAN"], list(range(7)), ["06:00"], repeat=2)
    edges = approved_script(session, "bluezone-cach-cai-dat")
    weekly(session, edges, ["HUE-AN-CUU"], list(range(7)), ["00:30", "23:30"])
    urgent = approved_script(session, "bluezone-doi-tuong-bat-buoc")
    save_schedule(
        session=session,
        data=ScheduleInput(
            name="Khẩn: đối tượng bắt buộc",
            script=urgent,
            kind="once",
            once_at=datetime(2026, 11, 30, 9, 0),
            priority=Priority.EMERGENCY,
            station_ids=[occurrences_station(session, "HUE-THUAN-AN")],
        ),
        actor=user(session, "approver"),
    )
    materialize(session, now=local(-1, 0), hours=72)
    for code in ("HUE-THUAN-AN", "HUE-AN-CUU"):
        for occurrence in occurrences_of(session, code):
            play(session, occurrence)
    sweep(session, now=local(2, 0))
    session.commit()


def occurrences_station(session, code: str) -> int:
    return session.exec(select(Station.id).where(Station.code == code)).one()


def report_for(session, area="Huế", first=DAY, last=DAY, **extra):
    return upward_report(
        session,
        area=find_area(session, area),
        first=first,
        last=last,
        timezone="Asia/Ho_Chi_Minh",
        **extra,
    )


def test_it_lists_every_commune_and_a_silent_one_with_zeros(session, aired):
    report = report_for(session)
    communes = {c.name: c for c in report.communes}
    hue = session.exec(select(Area).where(Area.code == report.area.code)).one()
    assert hue.name == "Thành phố Huế" and len(report.communes) == 40
    thuan_an = {line.bulletin.slug: line for line in communes["Phường Thuận An"].lines}
    daily = thuan_an["bluezone-nhac-nho-hang-ngay"]
    assert (daily.planned, daily.aired, daily.plays, daily.not_aired) == (1, 1, 2, 0)
    phu_xuan = communes["Phường Phú Xuân"].lines[0]
    assert (phu_xuan.planned, phu_xuan.aired, phu_xuan.plays, phu_xuan.not_aired) == (1, 0, 0, 1)
    [(status, reason)] = phu_xuan.reasons
    assert status == OccurrenceStatus.MISSED and "grace window" in reason
    # Phú Xuân is played by the server itself: its rendered audio counts as received only
    # once rendered, and nothing was rendered here.
    assert phu_xuan.received == 0
    silent = communes["Phường Hương Trà"]
    assert silent.lines == [] and silent.total.planned == 0 and silent.stations
    rows = upward_export.commune_rows(report)
    silent_row = next(r for r in rows if r[1] == "Phường Hương Trà")
    assert silent_row[7:11] == [0, 0, 0, 0] and silent_row[-1] == "Không có bản tin nào trong kỳ"


def test_per_bulletin_it_counts_communes_sent_received_aired_and_when(session, aired):
    report = report_for(session, first=DAY, last=DAY + timedelta(days=1))
    row = next(b for b in report.bulletins if b.bulletin.slug == "bluezone-nhac-nho-hang-ngay")
    assert (row.communes_sent, row.communes_received, row.communes_aired) == (2, 1, 1)
    assert (row.planned, row.aired, row.plays, row.not_aired) == (4, 2, 4, 2)
    assert row.versions == {1}
    assert row.first_aired == local(0, 6, 0) + timedelta(seconds=4)
    assert row.last_aired == local(1, 6, 0) + timedelta(seconds=4)
    assert row.first_aired.utcoffset() == timedelta(hours=7)


def test_a_station_that_downloaded_a_play_it_then_missed_received_it(session, aired):
    from broadcaster.onair.occurrences import record_event

    [missed] = [
        o for o in occurrences_of(session, "HUE-PHU-XUAN") if o.at.astimezone(HUE).date() == DAY
    ]
    record_event(
        session,
        occurrence=missed,
        station_id=missed.station_id,
        kind="downloaded",
        at=missed.at - timedelta(hours=3),
        actor="agent",
    )
    session.commit()
    row = next(
        b for b in report_for(session).bulletins if b.bulletin.slug == "bluezone-nhac-nho-hang-ngay"
    )
    assert (row.communes_sent, row.communes_received, row.communes_aired) == (2, 2, 1)


def test_an_emergency_bulletin_is_counted_under_khan_cap(session, aired):
    report = report_for(session)
    [emergency] = [b for b in report.bulletins if b.bulletin.type == Priority.EMERGENCY]
    assert emergency.bulletin.slug == "bluezone-doi-tuong-bat-buoc"
    assert (emergency.communes_aired, emergency.aired) == (1, 1)
    totals = report.by_type()
    assert totals[Priority.EMERGENCY].aired == 1 and totals[Priority.PRIORITY].planned == 0
    assert totals[Priority.NORMAL].aired == 3  # Thuận An 06:00, An Cựu 00:30 and 23:30
    assert upward_export.bulletin_rows(report)[-1][0] == "Khẩn cấp"


def test_days_are_local_and_plays_outside_the_range_are_left_out(session, aired):
    # An Cựu aired at 23:30 on the 29th and 00:30 on the 30th: the same UTC day (the
    # 29th), different local days. Only the 30th's two plays belong to the 30th.
    line = report_for(session, area="Phường An Cựu").communes[0].lines[0]
    assert (line.planned, line.aired) == (2, 2)
    assert line.first_aired == local(0, 0, 30) + timedelta(seconds=4)
    assert line.last_aired == local(0, 23, 30) + timedelta(seconds=4)
    three_days = report_for(session, area="an cuu", first=DAY - timedelta(days=1), last=DAY)
    assert three_days.communes[0].lines[0].aired == 4


def test_a_campaign_restricts_to_its_scripts(session, aired):
    from broadcaster.accountability.upward import find_campaign
    from broadcaster.core.models import Campaign, Script

    other = Campaign(slug="khac", name="Chiến dịch khác")
    session.add(other)
    session.flush()
    script = session.exec(select(Script).where(Script.slug == "bluezone-cach-cai-dat")).one()
    script.campaign_id = other.id
    session.add(script)
    session.flush()
    report = report_for(session, campaign=find_campaign(session, "khac"))
    assert [b.bulletin.slug for b in report.bulletins] == ["bluezone-cach-cai-dat"]
    assert len(report.communes) == 40


def test_areas_are_found_without_accents_and_ambiguous_names_are_refused(session):
    assert find_area(session, "thanh pho hue").name == "Thành phố Huế"
    assert find_area(session, "Thừa Thiên Huế").name == "Thành phố Huế"  # its name until 2025
    assert find_area(session, "PHUONG AN CUU").name == "Phường An Cựu"
    assert find_area(session, "An Cựu").name == "Phường An Cựu"
    # The former district, its namesake commune and one in Cần Thơ: refused, all listed.
    with pytest.raises(UpwardError, match="G-P46-phu-loc.*X20107.*X31756"):
        find_area(session, "Phú Lộc")
    assert find_area(session, "x20107").name == "Xã Phú Lộc"  # by code, any case
    with pytest.raises(UpwardError) as caught:
        find_area(session, "Bình Minh")
    assert caught.value.code == "ambiguous_area"
    # Each candidate with its code and province, so the person can choose.
    assert caught.value.details["candidates"].count("(X") >= 2
    with pytest.raises(UpwardError, match="no area named"):
        find_area(session, "Atlantis")


def schema_validator() -> Draft202012Validator:
    return Draft202012Validator(
        upward_export.schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def test_the_cli_writes_xlsx_csv_and_json_a_province_can_read(settings, session, aired, tmp_path):
    common = ["report", "upward", "--from", "30/11/2026", "--to", "2026-11-30", "--area", "hue"]
    xlsx = tmp_path / "bao-cao.xlsx"
    done = run_cli(settings, *common, "--format", "xlsx", "-o", str(xlsx))
    assert done.returncode == 0, done.stderr
    assert "Thành phố Huế (P46)" in done.stdout and "40 communes" in done.stdout
    workbook = load_workbook(xlsx)
    assert workbook.sheetnames == ["Theo bản tin", "Theo xã"]
    by_commune = workbook["Theo xã"]
    assert "Thành phố Huế" in by_commune["A2"].value and "30/11/2026" in by_commune["A2"].value
    assert by_commune.freeze_panes == "A5"
    assert [c.value for c in by_commune[4]][:3] == ["Mã xã", "Xã, phường", "Đài"]
    names = {row[1] for row in by_commune.iter_rows(min_row=5, values_only=True)}
    assert len(names) == 40
    first_aired = workbook["Theo bản tin"]["N5"]
    assert isinstance(first_aired.value, datetime) and first_aired.number_format.startswith("dd/mm")
    assert by_commune.column_dimensions["B"].width > 15

    as_csv = run_cli(settings, *common, "--format", "csv", "--table", "communes")
    assert as_csv.returncode == 0, as_csv.stderr
    assert as_csv.stdout.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout.removeprefix("\ufeff"))))
    phu_xuan = next(r for r in rows if r["Xã, phường"] == "Phường Phú Xuân")
    assert phu_xuan["Lượt đã phát"] == "0" and "Bỏ lỡ" in phu_xuan["Lý do không phát"]
    thuan_an = [r for r in rows if r["Xã, phường"] == "Phường Thuận An"]
    assert {r["Loại tin (TT39)"] for r in thuan_an} == {"Thông thường", "Khẩn cấp"}

    as_json = run_cli(settings, *common, "--format", "json", "--campaign", "bluezone")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    schema_validator().validate(document)
    assert [t["type"] for t in document["types"]] == ["normal", "priority", "emergency"]
    assert document["period"] == {
        "from": "2026-11-30",
        "to": "2026-11-30",
        "timezone": "Asia/Ho_Chi_Minh",
    }


def test_the_cli_refuses_bad_requests_clearly_and_leaves_the_old_file(settings, session, tmp_path):
    target = tmp_path / "report.json"
    target.write_text("previous report")

    def refused(*args):
        result = run_cli(settings, "report", "upward", *args, "-o", str(target))
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert target.read_text() == "previous report"
        return result.stderr

    period = ["--from", "2026-11-30", "--to", "2026-11-30"]
    assert "not a date" in refused(
        "--from", "hôm qua", "--to", "2026-11-30", "--area", "Huế", "--format", "json"
    )
    assert "before it begins" in refused(
        "--from", "2026-12-01", "--to", "2026-11-30", "--area", "Huế", "--format", "json"
    )
    assert "no area named 'Atlantis'" in refused(*period, "--area", "Atlantis", "--format", "json")
    stderr = refused(*period, "--area", "Bình Minh", "--format", "json")
    assert "names several areas" in stderr and "(X" in stderr
    assert "--table" in refused(*period, "--area", "Huế", "--format", "csv")
    assert "no campaign" in refused(*period, "--area", "Huế", "--format", "json", "--campaign", "x")


def test_the_bluezone_report_on_the_demo_lists_every_hue_commune_with_what_it_aired(
    settings, session, tmp_path
):
    """The issue's check: the demo's campaign approved and scheduled as `broadcaster init`
    does, a day of it played, missed or confirmed through the real code, then the report."""
    from broadcaster.ops.demo import (
        approve_demo_campaign,
        create_demo_users,
        import_demo_schedules,
    )

    create_demo_users(session)
    assert approve_demo_campaign(session) > 0
    assert import_demo_schedules(session) == 1
    materialize(session, now=local(0, 0), hours=24)
    stations = {s.id: s for s in session.exec(select(Station))}
    day = list(session.exec(select(Occurrence).order_by(Occurrence.at, Occurrence.station_id)))
    assert len(day) == 80  # 40 stations, 06:00 and 17:00
    for index, occurrence in enumerate(day):
        mode = stations[occurrence.station_id].mode
        if mode == "manual":
            apply_outcome(
                session, occurrence, Outcome("confirmed"), at=occurrence.at, actor="vanhanh"
            )
        elif index % 3:
            play(session, occurrence)
    sweep(session, now=local(1, 0))
    session.commit()
    out = tmp_path / "bluezone.json"
    done = run_cli(
        settings,
        "report",
        "upward",
        "--from",
        "2026-11-30",
        "--to",
        "2026-11-30",
        "--area",
        "Thành phố Huế",
        "--campaign",
        "bluezone",
        "--format",
        "json",
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    schema_validator().validate(document)
    hue = session.exec(select(Area).where(Area.name == "Thành phố Huế")).one()
    communes = session.exec(
        select(Area.code).where(Area.parent_id == hue.id, Area.kind == "commune")
    ).all()
    assert sorted(c["code"] for c in document["communes"]) == sorted(communes)
    for commune in document["communes"]:
        [line] = commune["bulletins"]
        assert line["script"]["slug"] == "bluezone-nhac-nho-hang-ngay" and line["planned"] == 2
        assert line["aired"] + line["not_aired"] == 2
    [bulletin] = document["bulletins"]
    played = sum(1 for o in day if session.get(Occurrence, o.id).status == OccurrenceStatus.PLAYED)
    assert bulletin["aired"] == played and 0 < played < 80
    assert bulletin["communes"]["sent"] == 40
    assert bulletin["communes"]["aired"] == sum(
        1 for c in document["communes"] if c["bulletins"][0]["aired"]
    )


def test_the_report_is_one_query_for_the_plays_whatever_the_number_of_communes(
    engine, session, aired
):
    from sqlalchemy import event

    statements: list[str] = []
    hue = find_area(session, "Huế")

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        report = upward_report(
            session,
            area=hue,
            first=DAY - timedelta(days=1),
            last=DAY + timedelta(days=1),
            timezone="Asia/Ho_Chi_Minh",
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(report.communes) == 40
    # the communes, their stations, the grouped plays: no statement per commune
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3

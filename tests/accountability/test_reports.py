"""Reports counted from a known set of occurrences and events."""

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from broadcaster.accountability.reports import compliance, totals, trend
from broadcaster.core.models import Occurrence, OccurrenceStatus, Station
from broadcaster.onair.occurrences import Outcome, apply_outcome, record_event
from broadcaster.onair.schedules import version_for
from tests.helpers import run_cli
from tests.onair.test_occurrences import approved_script, weekly

DAY = date(2026, 11, 30)  # a Monday
SLOT = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)  # 06:00 in Huế on DAY


@pytest.fixture
def history(session):
    """Four stations, two days, one 06:00 slot a day:
    THUAN-AN played both days (one late); PHU-XUAN missed day 1; A-LUOI-1 (manual) was
    confirmed by hand on day 1 and is still pending on day 2; a Bangkok station plays at
    06:00 its time, which is also 23:00 UTC the day before."""
    script = approved_script(session)
    codes = ["HUE-THUAN-AN", "HUE-PHU-XUAN", "HUE-A-LUOI-1", "HUE-AN-CUU"]
    bangkok = session.exec(select(Station).where(Station.code == "HUE-AN-CUU")).one()
    bangkok.timezone = "Asia/Bangkok"
    session.add(bangkok)
    schedule = weekly(session, script, codes, list(range(7)), ["06:00"])
    version_id = version_for(session, schedule).id
    stations = {s.code: s for s in session.exec(select(Station).where(Station.code.in_(codes)))}

    def occurrence(code, day_index, status=OccurrenceStatus.PLANNED):
        o = Occurrence(
            schedule_id=schedule.id,
            station_id=stations[code].id,
            at=SLOT + timedelta(days=day_index),
            version_id=version_id,
            status=status,
        )
        session.add(o)
        session.flush()
        return o

    for day_index in (0, 1):
        o = occurrence("HUE-THUAN-AN", day_index)
        start = o.at + (timedelta(minutes=3) if day_index == 1 else timedelta(seconds=5))
        apply_outcome(session, o, Outcome("started"), at=start, actor="agent")
        apply_outcome(
            session, o, Outcome("finished"), at=start + timedelta(minutes=1), actor="agent"
        )
    missed = occurrence("HUE-PHU-XUAN", 0, OccurrenceStatus.MISSED)
    missed.reason = "not started within the grace window (was the scheduler running?)"
    record_event(
        session,
        occurrence=missed,
        station_id=missed.station_id,
        kind="missed",
        at=missed.at + timedelta(minutes=11),
        detail=missed.reason,
    )
    occurrence("HUE-PHU-XUAN", 1, OccurrenceStatus.PLAYED)
    manual = occurrence("HUE-A-LUOI-1", 0)
    apply_outcome(
        session, manual, Outcome("confirmed"), at=manual.at + timedelta(minutes=2), actor="vanhanh"
    )
    occurrence("HUE-A-LUOI-1", 1)  # not yet due or not yet reported: pending
    occurrence("HUE-AN-CUU", 0, OccurrenceStatus.PLAYED)
    session.commit()
    return schedule


def test_it_counts_planned_played_late_missed_per_station_and_day(session, history):
    days = compliance(session, first=DAY, last=DAY + timedelta(days=1))
    table = {(d.station.code, d.day): d for d in days}
    first = table[("HUE-THUAN-AN", DAY)]
    assert (first.planned, first.played, first.late) == (1, 1, 0)
    second = table[("HUE-THUAN-AN", DAY + timedelta(days=1))]
    assert (second.played, second.late) == (1, 1)
    missed = table[("HUE-PHU-XUAN", DAY)]
    assert missed.missed == 1 and "thời gian cho phép" in missed.misses[0][2]
    manual = table[("HUE-A-LUOI-1", DAY)]
    assert manual.played == 1 and manual.late == 1  # confirmed 2 minutes after the slot
    assert table[("HUE-A-LUOI-1", DAY + timedelta(days=1))].pending == 1
    # 23:00 UTC is 06:00 the next day in Bangkok too: it belongs to DAY in local time
    assert table[("HUE-AN-CUU", DAY)].played == 1


def test_the_ranking_puts_the_laggard_last(session, history):
    ranked = totals(compliance(session, first=DAY, last=DAY + timedelta(days=1)))
    assert ranked[-1].station.code == "HUE-PHU-XUAN" and ranked[-1].rate == 0.5
    assert [t.rank for t in ranked] == [1, 2, 3, 4]
    assert trend(compliance(session, first=DAY, last=DAY))[0] == (DAY, 3, 4)


def test_the_cli_exports_compliance_as_xlsx_and_json(settings, session, history, tmp_path):
    out = tmp_path / "bao-cao.xlsx"
    result = run_cli(
        settings,
        "report",
        "compliance",
        "--from",
        "30/11/2026",
        "--to",
        "2026-12-01",
        "--area",
        "Thành phố Huế",
        "--format",
        "xlsx",
        "-o",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    sheet = load_workbook(out).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Hạng", "Mã đài", "Xã, phường", "Kế hoạch")
    assert rows[-1][1] == "HUE-PHU-XUAN" and "thời gian cho phép" in rows[-1][9]
    as_json = run_cli(
        settings,
        "report",
        "compliance",
        "--from",
        "2026-11-30",
        "--to",
        "2026-12-01",
        "--format",
        "json",
    )
    assert '"station": "HUE-THUAN-AN"' in as_json.stdout
    bad = run_cli(settings, "report", "compliance", "--from", "hôm qua", "--to", "2026-12-01")
    assert bad.returncode == 1 and "not a date" in bad.stderr


def test_the_web_report_and_log_export(client, auth, session, history):
    auth.login("approver")
    page = client.get("/reports/compliance?from=2026-11-30&to=2026-12-01").get_data(as_text=True)
    assert "Xếp hạng các xã, phường" in page and "thời gian cho phép" in page
    xlsx = client.get("/reports/compliance?from=2026-11-30&to=2026-12-01&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.max_row == 5
    log = client.get("/logs?from=2026-11-30&to=2026-12-01&format=csv")
    text = log.get_data(as_text=True)
    assert text.startswith("\ufeffThời gian,Mã đài")
    assert "Xác nhận đã phát" in text and "vanhanh" in text
    # local time of the station, not UTC
    assert "30/11/2026 06:02:00" in text
    page = client.get("/logs?from=2026-11-30&to=2026-12-01&kind=missed").get_data(as_text=True)
    table = page.split('id="log"', 1)[1].split("</table>", 1)[0]
    assert "Bỏ lỡ" in table and "Phát xong" not in table


def test_operators_and_editors_cannot_read_reports(client, auth):
    auth.login("editor")
    assert client.get("/reports/compliance").status_code == 403
    assert client.get("/logs").status_code == 403


def test_purging_inside_the_retention_period_is_refused_and_outside_it_is_audited(
    settings, session, history
):
    from broadcaster.core.models import AuditEntry, PlayEvent

    refused = run_cli(settings, "logs", "purge", "--before", "2026-12-31", "--yes")
    assert refused.returncode == 1 and "kept 730 days" in refused.stderr
    unconfirmed = run_cli(settings, "logs", "purge", "--before", "2020-01-01")
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr
    done = run_cli(settings, "logs", "purge", "--before", "2020-01-01", "--yes")
    assert done.returncode == 0 and "deleted 0 events" in done.stdout
    session.expire_all()
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity_type == "logs")).one()
    assert entry.action == "purge" and entry.actor_label.startswith("cli:")
    assert len(session.exec(select(PlayEvent)).all()) > 0

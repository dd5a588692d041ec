"""The operator portal: playlist, downloads, ZIP with M3U, confirming plays by hand."""

import io
import re
import zipfile
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import (
    Occurrence,
    OccurrenceStatus,
    OperatorStation,
    PlayEvent,
    Script,
    ScriptVersion,
    Station,
    User,
)
from broadcaster.newsroom.workflow import approve, submit
from broadcaster.onair.schedules import ScheduleInput, save_schedule
from tests.helpers import csrf

HUE = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def manual_station(app):
    """The operator looks after HUE-A-LUOI-1 (manual), which has two plays today."""
    from web.db import get_session

    with app.app_context():
        session = get_session()
        users = {u.username: u for u in session.exec(select(User))}
        station = session.exec(select(Station).where(Station.code == "HUE-A-LUOI-1")).one()
        session.add(OperatorStation(user_id=users["operator"].id, station_id=station.id))
        script = session.exec(
            select(Script).where(Script.slug == "bluezone-nhac-nho-hang-ngay")
        ).one()
        version = session.exec(
            select(ScriptVersion).where(ScriptVersion.script_id == script.id)
        ).one()
        submit(session=session, version=version, actor=users["editor"])
        approve(session=session, version=version, actor=users["approver"])
        now = utcnow().astimezone(HUE)
        # A slot just past (within the grace window, so it is still open to confirm).
        early = (now - timedelta(minutes=5)).strftime("%H:%M")
        if now.hour == 0 and now.minute < 5:
            early = "00:00"
        save_schedule(
            session=session,
            actor=None,
            data=ScheduleInput(
                name="Hai lượt",
                script=script,
                kind="weekly",
                weekdays=list(range(7)),
                times=[early, "23:59"],
                station_ids=[station.id],
            ),
        )
        session.commit()
        return station.code


def test_the_operator_sees_todays_playlist_with_audio(client, auth, manual_station):
    auth.login("operator")
    response = client.get("/portal")
    assert response.status_code == 302 and response.location.endswith(f"/portal/{manual_station}")
    page = client.get(response.location).get_data(as_text=True)
    assert "Lời nhắc hằng ngày về cài đặt Bluezone" in page
    assert page.count('<article class="card play') == 2
    assert "23:59" in page


def test_one_mp3_downloads_with_a_vietnamese_name(client, auth, manual_station, app):
    auth.login("operator")
    page = client.get(f"/portal/{manual_station}").get_data(as_text=True)
    link = re.search(r'href="(/portal/[^"]+\.mp3\?download=1)"', page).group(1)
    response = client.get(link)
    data = response.data
    response.close()
    assert response.status_code == 200 and data[:3] == b"ID3"
    disposition = response.headers["Content-Disposition"]
    assert "L%E1%BB%9Di%20nh%E1%BA%AFc" in disposition and "h" in disposition


def test_the_whole_day_downloads_as_a_zip_with_an_m3u_in_play_order(client, auth, manual_station):
    auth.login("operator")
    day = utcnow().astimezone(HUE).date().isoformat()
    response = client.get(f"/portal/{manual_station}/day/{day}.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert names[-1] == "danh-sach-phat.m3u"
    mp3s = [n for n in names if n.endswith(".mp3")]
    assert len(mp3s) == 2 and mp3s[0].startswith("01 - ") and "23h59" in mp3s[1]
    playlist = archive.read("danh-sach-phat.m3u").decode()
    assert playlist.startswith("#EXTM3U") and playlist.index(mp3s[0]) < playlist.index(mp3s[1])


def test_confirming_a_play_by_hand_lands_in_the_log(client, auth, manual_station, app):
    from web.db import get_session

    auth.login("operator")
    path = f"/portal/{manual_station}"
    page = client.get(path).get_data(as_text=True)
    action = re.search(r'action="(/portal/[^"]+/confirm)"', page).group(1)
    token = csrf(client, path)
    bad = client.post(action, data={"csrf_token": token, "played_at": "25:99"})
    assert "Vui lòng nhập giờ đã phát" in client.get(bad.location).get_data(as_text=True)
    played_at = (utcnow().astimezone(HUE) - timedelta(minutes=1)).strftime("%H:%M")
    client.post(action, data={"csrf_token": token, "played_at": played_at})
    with app.app_context():
        session = get_session()
        occurrence_id = int(action.split("/")[-2])
        occurrence = session.get(Occurrence, occurrence_id)
        events = session.exec(
            select(PlayEvent).where(PlayEvent.occurrence_id == occurrence_id)
        ).all()
    assert occurrence.status == OccurrenceStatus.PLAYED
    assert [(e.kind, e.actor) for e in events] == [("confirmed", "operator")]
    again = client.get(path).get_data(as_text=True)
    assert again.count('action="' + action) == 0  # nothing left to confirm for that play


def test_an_operator_cannot_see_another_communes_station(client, auth, manual_station):
    auth.login("operator")
    assert client.get("/portal/HUE-THUAN-AN").status_code == 404


def test_editors_have_no_portal(client, auth):
    auth.login("editor")
    assert client.get("/portal").status_code == 403


def _hold_the_write_lock(database_url: str, seconds: float):
    """Another process writing: it holds SQLite's write lock, then commits a change."""
    import sqlite3
    import threading

    from sqlalchemy.engine import make_url

    held, done = threading.Event(), threading.Event()

    def write() -> None:
        connection = sqlite3.connect(make_url(database_url).database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE station SET name = name || ''")
        held.set()
        done.wait(seconds)
        connection.execute("COMMIT")
        connection.close()

    thread = threading.Thread(target=write)
    thread.start()
    held.wait(5)
    return thread


@pytest.mark.parametrize("page", ["audio", "next_week"])
def test_portal_downloads_wait_for_a_concurrent_writer_instead_of_failing(
    client, auth, manual_station, settings, page
):
    # The portal plans and renders on GET so that every link works; those GETs must wait
    # for the scheduler's write, not fail with "database is locked" (a 500 for the operator).
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    auth.login("operator")
    listing = client.get(f"/portal/{manual_station}").get_data(as_text=True)
    if page == "audio":
        url = re.search(r'href="(/portal/[^"]+\.mp3)', listing).group(1)
    else:
        url = f"/portal/{manual_station}?day={(utcnow() + timedelta(days=7)).date()}"
    writer = _hold_the_write_lock(settings.database_url, seconds=1.0)
    response = client.get(url)
    response.close()
    writer.join()
    assert response.status_code == 200

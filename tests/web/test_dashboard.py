import re


def commune_rows(page: str) -> list[str]:
    table = page.split('id="communes"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr>\s*<td>([^<]+)</td>", table)


def test_the_dashboard_lists_the_40_hue_communes_with_stations(client, auth):
    auth.login("operator")
    page = client.get("/").get_data(as_text=True)
    rows = commune_rows(page)
    assert len(rows) == 40
    assert "Phường Thuận An" in rows and "Xã Chân Mây – Lăng Cô" in rows
    assert "HUE-THUAN-AN" in page
    assert "40 xã, phường · 40 đài truyền thanh" in page


def test_the_dashboard_shows_the_former_district_groups(client, auth):
    auth.login("admin")
    page = client.get("/").get_data(as_text=True)
    for name in ("Quảng Điền", "Phong Điền", "Nam Đông", "A Lưới", "Phú Lộc"):
        assert name in page


def test_another_province_can_be_chosen(client, auth):
    auth.login("admin")
    page = client.get("/?province=P01").get_data(as_text=True)
    assert "Thành phố Hà Nội" in page
    assert "Phường Hoàn Kiếm" in commune_rows(page)


def test_it_says_when_the_scheduler_has_never_run(client, auth):
    auth.login("admin")
    assert "Bộ lập lịch chưa chạy" in client.get("/").get_data(as_text=True)


def test_english_is_available(client, auth):
    auth.login("admin")
    token = auth.csrf_token("/")
    client.post("/lang/en", data={"csrf_token": token, "next": "/"})
    page = client.get("/").get_data(as_text=True)
    assert "Dashboard" in page and "Communes, wards and stations" in page
    assert '<html lang="en">' in page


def test_pages_send_security_headers(client):
    headers = client.get("/login").headers
    assert headers["X-Frame-Options"] == "DENY"
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'self' only
    assert "default-src 'self'" in headers["Content-Security-Policy"]


def test_the_dashboard_names_stations_that_missed_a_play_today(client, auth, session):
    from datetime import timedelta

    from sqlmodel import select

    from broadcaster.core.dbtypes import utcnow
    from broadcaster.core.models import Occurrence, OccurrenceStatus, Station
    from tests.onair.test_occurrences import approved_script, weekly

    script = approved_script(session)
    schedule = weekly(session, script, ["HUE-A-LUOI-2"], list(range(7)), ["06:00"])
    station = session.exec(select(Station).where(Station.code == "HUE-A-LUOI-2")).one()
    session.add(
        Occurrence(
            schedule_id=schedule.id,
            station_id=station.id,
            at=utcnow() - timedelta(minutes=1),
            status=OccurrenceStatus.MISSED,
        )
    )
    session.commit()
    auth.login("admin")
    page = client.get("/").get_data(as_text=True)
    assert "Đài bỏ lỡ lượt phát hôm nay:" in page and "Xã A Lưới 2" in page


def test_the_dashboard_names_stations_that_went_offline(client, auth, session):
    from datetime import timedelta

    from sqlmodel import select

    from broadcaster.core.dbtypes import utcnow
    from broadcaster.core.models import Station, StationBeat

    station = session.exec(select(Station).where(Station.code == "HUE-KIM-LONG")).one()
    session.add(StationBeat(station_id=station.id, seen_at=utcnow() - timedelta(hours=1)))
    fresh = session.exec(select(Station).where(Station.code == "HUE-AN-CUU")).one()
    session.add(StationBeat(station_id=fresh.id, seen_at=utcnow() - timedelta(seconds=90)))
    session.commit()
    auth.login("admin")
    page = client.get("/").get_data(as_text=True)
    assert "Đài mất kết nối:" in page and "HUE-KIM-LONG</a>" in page
    assert "HUE-AN-CUU</a>" not in page  # one late heartbeat is no alarm

import re
from datetime import timedelta

from sqlmodel import select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import AuditEntry, Station, StationBeat
from broadcaster.stations.api import hash_token
from broadcaster.stations.monitoring import health_of
from tests.helpers import csrf


def test_one_missed_heartbeat_is_no_alarm_but_silence_is(session):
    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    now = utcnow()

    def state(silent):
        beat = StationBeat(station_id=station.id, seen_at=now - silent)
        return health_of(station, beat, now=now).state

    assert state(timedelta(seconds=50)) == "online"
    assert state(timedelta(seconds=130)) == "online"  # one lost heartbeat: still fine
    assert state(timedelta(minutes=5)) == "late"
    assert state(timedelta(minutes=20)) == "offline"
    assert health_of(station, None, now=now).state == "never"


def test_the_station_list_puts_offline_stations_first(client, auth, session):
    station = session.exec(select(Station).where(Station.code == "HUE-KIM-LONG")).one()
    session.add(StationBeat(station_id=station.id, seen_at=utcnow() - timedelta(hours=2)))
    session.commit()
    auth.login("editor")
    page = client.get("/stations").get_data(as_text=True)
    table = page.split('id="stations"', 1)[1]
    assert table.index("HUE-KIM-LONG") < table.index("HUE-THUAN-AN")
    assert 'data-state="offline"' in table


def test_an_admin_issues_a_token_shown_once_and_can_revoke_it(client, auth, app):
    from web.db import get_session

    auth.login("admin")
    path = "/stations/HUE-THUAN-AN"
    page = client.post(f"{path}/token", data={"csrf_token": csrf(client, path)}).get_data(
        as_text=True
    )
    token = re.search(r'<code id="new-token">([^<]+)</code>', page).group(1)
    assert token not in client.get(path).get_data(as_text=True)
    with app.app_context():
        station = get_session().exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
        assert station.token_hash == hash_token(token)
    client.post(f"{path}/revoke", data={"csrf_token": csrf(client, path)})
    with app.app_context():
        db = get_session()
        station = db.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
        assert station.token_hash == ""
        actions = [
            e.action for e in db.exec(select(AuditEntry).where(AuditEntry.entity_type == "station"))
        ]
        assert "rotate_token" in actions and "revoke_token" in actions


def test_only_admins_manage_tokens(client, auth):
    auth.login("editor")
    assert client.get("/stations/HUE-THUAN-AN").status_code == 200
    token = csrf(client, "/stations/HUE-THUAN-AN")
    assert (
        client.post("/stations/HUE-THUAN-AN/token", data={"csrf_token": token}).status_code == 403
    )

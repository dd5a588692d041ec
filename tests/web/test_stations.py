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


# --- station control (issue 15) ------------------------------------------------------------


def test_the_page_shows_the_amplifier_mixer_and_temperature_in_vietnamese(client, auth, session):
    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    session.add(
        StationBeat(
            station_id=station.id,
            seen_at=utcnow(),
            amplifier="on",
            amplifier_error="'gpioset gpiochip0 17=0' exited 1",
            mixer="Master",
            volume_percent=80,
            temperature_c=51.5,
        )
    )
    session.commit()
    auth.login("editor")
    page = client.get("/stations/HUE-THUAN-AN").get_data(as_text=True)
    hardware = page.split('id="hardware"', 1)[1].split("</ul>", 1)[0]
    assert "Bộ khuếch đại (loa): đang bật" in hardware
    assert "Lỗi điều khiển bộ khuếch đại" in hardware and "gpioset" in hardware
    assert "Âm lượng: 80% (điều khiển Master)" in hardware
    assert "51.5 °C" in hardware
    assert 'id="commands"' not in page  # the remote control is the admin's


def test_a_machine_without_a_mixer_says_so(client, auth, session):
    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    session.add(StationBeat(station_id=station.id, seen_at=utcnow(), mixer="none"))
    session.commit()
    auth.login("admin")
    page = client.get("/stations/HUE-THUAN-AN").get_data(as_text=True)
    assert "Máy không có bộ trộn âm (mixer)" in page
    assert "Nhiệt độ máy: máy không báo" in page


def test_a_station_without_an_agent_refuses_commands_in_vietnamese(client, auth, session):
    manual = session.exec(select(Station).where(Station.mode == "manual")).first()
    auth.login("admin")
    path = f"/stations/{manual.code}"
    page = client.post(
        f"{path}/commands",
        data={"csrf_token": csrf(client, path), "kind": "sync"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"Đài {manual.code} không dùng máy phát tự động" in page
    assert 'data-command-id="' not in page


def test_an_operator_sets_the_order_of_their_own_station_only(client, auth, session):
    from broadcaster.core.models import OperatorStation, StationOrder, User

    operator = session.exec(select(User).where(User.username == "operator")).one()
    own, other = session.exec(select(Station).order_by(Station.code).limit(2)).all()
    session.add(OperatorStation(user_id=operator.id, station_id=own.id))
    session.commit()
    auth.login("operator")
    assert client.get(f"/stations/{other.code}").status_code == 403
    path = f"/stations/{own.code}"
    token = csrf(client, path)
    refused = client.post(
        f"/stations/{other.code}/order", data={"csrf_token": token, "order": "2,0,1"}
    )
    assert refused.status_code == 403
    page = client.post(
        f"{path}/order", data={"csrf_token": token, "order": "2,0,1"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Đã lưu thứ tự" in page and "xã → tỉnh → huyện." in page
    session.expire_all()
    rows = session.exec(select(StationOrder).where(StationOrder.station_id == own.id)).all()
    assert sorted((r.position, r.level) for r in rows) == [(0, 2), (1, 0), (2, 1)]
    bad = client.post(
        f"{path}/order", data={"csrf_token": token, "order": "2,2,1"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Thứ tự phải gồm đủ ba cấp" in bad
    audit = session.exec(select(AuditEntry).where(AuditEntry.action == "set_collision_order")).all()
    assert len(audit) == 1 and audit[0].actor_label == "operator"


def test_the_page_names_a_relays_events_and_details_in_vietnamese(client, auth, session):
    from broadcaster.core.models import PlayEvent

    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    now = utcnow()
    session.add(PlayEvent(station_id=station.id, kind="relay_dropped", at=now, actor="agent"))
    session.add(
        PlayEvent(
            station_id=station.id,
            kind="finished",
            at=now + timedelta(seconds=1),
            actor="agent",
            detail="relayed 34 s of 35 s, 1 drop, fallback 6 s",
        )
    )
    session.commit()
    auth.login("editor")
    page = client.get("/stations/HUE-THUAN-AN").get_data(as_text=True)
    assert "Tiếp sóng: mất sóng" in page and "relay_dropped" not in page
    assert "Đã tiếp sóng 34 giây trong 35 giây, mất sóng 1 lần" in page
    assert "phát bản tin dự phòng 6 giây" in page


def command_results(page: str) -> list[str]:
    """The command log's result column, newest first, as the page shows it."""
    rows = re.findall(r"<tr data-command-id[^>]*>(.*?)</tr>", page)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row)[3] for row in rows]


def test_the_command_log_reads_what_the_agent_reported_in_vietnamese(client, auth, session):
    from broadcaster.core.models import StationCommand

    auth.login("admin")
    path = "/stations/HUE-THUAN-AN"
    page = client.post(f"{path}/token", data={"csrf_token": csrf(client, path)})
    token = re.search(r'<code id="new-token">([^<]+)</code>', page.get_data(as_text=True))[1]
    agent = {"Authorization": f"Bearer {token}"}
    for kind, fields in (
        ("set_volume", {"percent": "60"}),
        ("amplifier_on", {}),
        ("sync", {}),
        ("test_tone", {}),
    ):
        data = {"csrf_token": csrf(client, path), "kind": kind, **fields}
        assert client.post(f"{path}/commands", data=data).status_code == 302
    # What the agent (stations.agent.commands and its amplifier) reports for each.
    reports = [
        ("done", "volume 60% from the next normal item"),
        ("failed", "'gpioset gpiochip0 17=1' exited 1: gpioset: line busy"),
        ("done", "manifest synced: 12 plays"),
        ("failed", "test tone failed: ffplay: no sound card"),
    ]
    delivered = client.get("/api/v1/commands", headers=agent).get_json()["commands"]
    assert len(delivered) == len(reports)
    for command, (state, result) in zip(delivered, reports, strict=True):
        answer = client.post(
            f"/api/v1/commands/{command['id']}/result",
            json={"state": state, "result": result},
            headers=agent,
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
    # One nobody picked up, and one of a kind (and a result) this page does not know.
    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    session.add(
        StationCommand(station_id=station.id, kind="sync", created_at=utcnow() - timedelta(hours=1))
    )
    session.add(
        StationCommand(
            station_id=station.id,
            kind="reboot_pc",
            state="failed",
            result="reboot: permission denied",
            created_at=utcnow(),
        )
    )
    session.commit()

    page = client.get(path).get_data(as_text=True)
    log = page.split('id="command-log"', 1)[1].split("</table>", 1)[0]
    assert command_results(log) == [
        "Chi tiết kỹ thuật: reboot: permission denied",
        "Máy phát không nhận lệnh trong thời gian cho phép",
        "Không phát được âm thử (lỗi kỹ thuật: ffplay: no sound card)",
        "Đã đồng bộ lịch phát: 12 lượt phát",
        "Lệnh điều khiển loa &#39;gpioset gpiochip0 17=1&#39; báo lỗi 1"
        " (lỗi kỹ thuật: gpioset: line busy)",
        "Đã đặt âm lượng 60%, áp dụng từ bản tin thường kế tiếp",
    ]
    assert "volume 60%" not in log and "not picked up" not in log


def test_a_command_of_a_kind_the_page_does_not_know_is_still_named_in_vietnamese(
    client, auth, session
):
    from broadcaster.core.models import StationCommand

    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    session.add(StationCommand(station_id=station.id, kind="reboot_pc", state="done"))
    session.commit()
    auth.login("admin")
    page = client.get("/stations/HUE-THUAN-AN").get_data(as_text=True)
    log = page.split('id="command-log"', 1)[1].split("</table>", 1)[0]
    assert "<td>Lệnh reboot_pc</td>" in log


def test_the_listen_again_page_a_station_links_to_names_its_podcast_feed_in_vietnamese(
    client, auth
):
    from urllib.parse import urlsplit

    auth.login("editor")
    page = client.get("/stations/HUE-THUAN-AN").get_data(as_text=True)
    public = re.search(r'<a href="([^"]+)" id="public-page">', page)[1]
    auth.logout()
    listen_again = client.get(urlsplit(public).path).get_data(as_text=True)
    feed = re.search(r'<link rel="alternate" type="application/rss\+xml"[^>]*>', listen_again)[0]
    assert 'title="Podcast nghe lại bản tin – ' in feed and "Thuận An" in feed


def test_a_refused_volume_is_shown_again_as_typed_beside_why_and_nothing_is_sent(
    client, auth, session
):
    from broadcaster.core.models import StationCommand

    auth.login("admin")
    path = "/stations/HUE-THUAN-AN"
    for typed in ("150", "12.5", "-3"):
        data = {"csrf_token": csrf(client, path), "kind": "set_volume", "percent": typed}
        refused = client.post(f"{path}/commands", data=data)
        assert refused.status_code == 422
        page = refused.get_data(as_text=True)
        box = re.search(r'<input type="number" name="percent"[^>]*>', page)[0]
        assert f'value="{typed}"' in box and 'aria-invalid="true"' in box
        alert = re.search(r'<p class="flash flash-error" role="alert"[^>]*>([^<]*)</p>', page)
        assert alert and alert[1] == "Âm lượng phải là số nguyên từ 0 đến 100."
    assert session.exec(select(StationCommand)).all() == []
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "send_command")).all() == []
    data = {"csrf_token": csrf(client, path), "kind": "set_volume", "percent": "60"}
    assert client.post(f"{path}/commands", data=data).status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "Đặt âm lượng 60%" in page and 'value="60"' not in page

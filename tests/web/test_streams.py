"""Stream sources through the web: register (checked against a real icecast2), review, retire."""

from __future__ import annotations

import re

from sqlmodel import select

from broadcaster.core.models import AuditEntry, StreamSource
from tests.helpers import csrf


def stream_named(app, name):
    from web.db import get_session

    with app.test_request_context():
        return get_session().exec(select(StreamSource).where(StreamSource.name == name)).first()


def register(client, name, url):
    token = csrf(client, "/streams/new")
    return client.post("/streams/new", data={"name": name, "url": url, "csrf_token": token})


def test_an_admin_registers_a_live_stream_and_another_person_approves_it(
    app, client, auth, icecast
):
    feed = icecast.feed("/vov1.mp3")
    auth.login("admin")
    response = register(client, "VOV1", feed.url)
    assert response.status_code == 302
    stream = stream_named(app, "VOV1")
    assert (stream.status, stream.kind, stream.check_ok) == ("draft", "mp3", True)
    page = client.get(f"/streams/{stream.id}").get_data(as_text=True)
    assert "Chờ duyệt" in page and 'id="approve"' not in page  # the registrant may not approve
    token = csrf(client, f"/streams/{stream.id}")
    refused = client.post(f"/streams/{stream.id}/approve", data={"csrf_token": token})
    assert "cần một người khác duyệt" in client.get(refused.location).get_data(as_text=True)
    assert stream_named(app, "VOV1").status == "draft"
    auth.logout()

    auth.login("approver")
    token = csrf(client, f"/streams/{stream.id}")
    client.post(f"/streams/{stream.id}/approve", data={"csrf_token": token})
    assert stream_named(app, "VOV1").status == "approved"
    listing = client.get("/streams").get_data(as_text=True)
    assert "VOV1" in listing and "Đã duyệt" in listing
    with app.test_request_context():
        from web.db import get_session

        actions = (
            get_session()
            .exec(select(AuditEntry.action).where(AuditEntry.entity_type == "stream"))
            .all()
        )
    assert actions == ["create", "approve"]


def test_a_stream_nobody_hears_is_refused_in_vietnamese_and_nothing_is_saved(
    app, client, auth, icecast
):
    auth.login("admin")
    response = register(client, "Đài tỉnh", f"{icecast.url}/nobody.mp3")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Không kết nối được tới luồng" in page and "cannot connect" not in page
    assert stream_named(app, "Đài tỉnh") is None
    response = register(client, "Đài tỉnh", "file:///etc/passwd")
    assert "http:// hoặc https://" in response.get_data(as_text=True)


def test_editors_and_operators_do_not_reach_the_streams(client, auth):
    for persona in ("editor", "operator"):
        auth.login(persona)
        assert client.get("/streams").status_code == 403
        assert client.get("/streams/new").status_code == 403
        auth.logout()
    auth.login("approver")
    assert client.get("/streams").status_code == 200
    assert client.get("/streams/new").status_code == 403  # registering is an admin's job


def approved_stream(app, name="VOV1"):
    from broadcaster.core.models import User
    from web.db import get_session

    with app.test_request_context(method="POST"):
        session = get_session()
        approver = session.exec(select(User).where(User.username == "approver")).one()
        stream = StreamSource(
            name=name, url="http://127.0.0.1:9/vov1.mp3", check_ok=True, kind="mp3"
        )
        session.add(stream)
        session.flush()
        from broadcaster.onair.streams import approve_stream

        approve_stream(session=session, stream=stream, actor=approver)
        session.commit()
        return stream.id


def relay_form(client, app, **fields):
    from broadcaster.core.models import Station
    from web.db import get_session

    with app.test_request_context():
        station_id = (
            get_session().exec(select(Station.id).where(Station.code == "HUE-THUAN-AN")).one()
        )
    return {
        "csrf_token": csrf(client, "/schedules/new"),
        "name": "Tiếp sóng VOV1 buổi sáng",
        "source": "relay",
        "script": "",
        "version": "",
        "stream": "",
        "duration_min": "45",
        "fallback": "",
        "kind": "weekly",
        "weekdays": [str(d) for d in range(7)],
        "times": "05:30",
        "every_days": "2",
        "valid_from": "2026-11-30",
        "valid_until": "",
        "priority": "0",
        "repeat": "1",
        "stations": [str(station_id)],
        **fields,
    }


def test_an_editor_schedules_a_daily_relay_of_an_approved_stream(app, client, auth):
    from broadcaster.core.models import Schedule

    stream_id = approved_stream(app)
    auth.login("editor")
    page = client.get("/schedules/new").get_data(as_text=True)
    assert "Tiếp sóng" in page and "VOV1" in page
    response = client.post("/schedules/new", data=relay_form(client, app, stream=str(stream_id)))
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.test_request_context():
        from web.db import get_session

        schedule = (
            get_session()
            .exec(select(Schedule).where(Schedule.name == "Tiếp sóng VOV1 buổi sáng"))
            .one()
        )
    assert (schedule.stream_id, schedule.script_id, schedule.duration_min) == (stream_id, None, 45)
    listing = client.get("/schedules").get_data(as_text=True)
    assert "VOV1 · 45 phút" in listing
    edit = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    relay_choice = re.search(r'<input[^>]*value="relay"[^>]*>', edit)
    assert relay_choice and "checked" in relay_choice.group(0), relay_choice


def test_a_relay_without_a_stream_or_of_an_unknown_one_is_refused_in_vietnamese(app, client, auth):
    approved_stream(app)
    auth.login("editor")
    for stream, message in (
        ("", "Vui lòng chọn luồng tiếp sóng."),
        ("999", "Chỉ tiếp sóng được luồng đã được duyệt."),
    ):
        response = client.post("/schedules/new", data=relay_form(client, app, stream=stream))
        assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_a_blank_name_or_an_overlong_address_is_named_in_vietnamese_and_kept(app, client, auth):
    auth.login("admin")
    blank = register(client, "   ", "http://127.0.0.1:1/vov1.mp3")
    assert blank.status_code == 422
    page = blank.get_data(as_text=True)
    assert "Vui lòng đặt tên cho luồng phát thanh." in page
    assert 'value="http://127.0.0.1:1/vov1.mp3"' in page  # what was typed is still there
    long_url = register(client, "VOV1", "http://127.0.0.1:1/" + "a" * 1000)
    assert long_url.status_code == 422
    assert "Địa chỉ luồng dài quá 1000 ký tự." in long_url.get_data(as_text=True)
    assert stream_named(app, "VOV1") is None


def test_the_stream_page_says_in_vietnamese_what_the_check_heard_and_why_not(
    app, client, auth, icecast
):
    feed = icecast.feed("/vov1.mp3")
    auth.login("admin")
    register(client, "VOV1", feed.url)
    stream = stream_named(app, "VOV1")
    page = client.get(f"/streams/{stream.id}").get_data(as_text=True)
    assert "decoded" not in page
    check = page.split('id="check-detail">', 1)[1].split("</small>", 1)[0]
    assert re.fullmatch(r"[\d.]+ giây âm thanh mp3, 64 kb/s", check), check
    path = f"/streams/{stream.id}"
    again = client.post(f"{path}/check", data={"csrf_token": csrf(client, path)})
    page = client.get(again.location).get_data(as_text=True)
    assert re.search(r"Nghe được luồng: [\d.]+ giây âm thanh mp3, 64 kb/s\.", page)
    assert "decoded" not in page

    feed.stop()
    again = client.post(f"{path}/check", data={"csrf_token": csrf(client, path)})
    page = client.get(again.location).get_data(as_text=True)
    check = page.split('id="check-detail">', 1)[1].split("</small>", 1)[0]
    assert "không nghe được" in page
    assert check.startswith("Không kết nối được tới luồng (lỗi kỹ thuật: ")
    assert "cannot connect" not in page
    assert "cannot connect" in stream_named(app, "VOV1").check_detail  # the log's language

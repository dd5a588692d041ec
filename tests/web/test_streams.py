"""Stream sources through the web: register (checked against a real icecast2), review, retire."""

from __future__ import annotations

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

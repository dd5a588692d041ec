import re

from sqlmodel import select

from broadcaster.core.models import OperatorStation, Station, User
from tests.conftest import PERSONA_PASSWORD
from tests.helpers import csrf


def db(app):
    from web.db import get_session

    return get_session()


def test_an_admin_creates_an_operator_for_two_stations_and_the_password_is_shown_once(
    client, auth, app
):
    auth.login("admin")
    with app.app_context():
        stations = db(app).exec(select(Station).order_by(Station.code).limit(2)).all()
        ids = [s.id for s in stations]
    response = client.post(
        "/users/new",
        data={
            "csrf_token": csrf(client, "/users/new"),
            "username": "vanhanh.thuanan",
            "full_name": "Trần Văn Hải",
            "role": "operator",
            "stations": ids,
        },
    )
    page = response.get_data(as_text=True)
    password = re.search(r'<code id="new-password">([^<]+)</code>', page).group(1)
    assert "chỉ hiển thị một lần" in page
    with app.app_context():
        user = db(app).exec(select(User).where(User.username == "vanhanh.thuanan")).one()
        links = db(app).exec(select(OperatorStation).where(OperatorStation.user_id == user.id))
        assert sorted(link.station_id for link in links) == sorted(ids)
    auth.logout()
    assert auth.login("vanhanh.thuanan", password).status_code == 302


def test_a_duplicate_username_is_refused_in_vietnamese(client, auth):
    auth.login("admin")
    response = client.post(
        "/users/new",
        data={"csrf_token": csrf(client, "/users/new"), "username": "editor", "role": "editor"},
    )
    assert "Tên đăng nhập này đã có người dùng." in response.get_data(as_text=True)


def test_deactivating_a_user_locks_them_out(client, auth, app):
    auth.login("admin")
    with app.app_context():
        editor = db(app).exec(select(User).where(User.username == "editor")).one()
    client.post(
        f"/users/{editor.id}",
        data={
            "csrf_token": csrf(client, f"/users/{editor.id}"),
            "username": "editor",
            "full_name": "Demo editor",
            "role": "editor",
        },  # is_active unchecked
    )
    auth.logout()
    assert auth.login("editor").status_code == 401


def test_the_last_admin_cannot_demote_themselves(client, auth, app):
    auth.login("admin")
    with app.app_context():
        admin = db(app).exec(select(User).where(User.username == "admin")).one()
    response = client.post(
        f"/users/{admin.id}",
        data={
            "csrf_token": csrf(client, f"/users/{admin.id}"),
            "username": "admin",
            "full_name": "x",
            "role": "editor",
            "is_active": "y",
        },
    )
    assert "quản trị viên cuối cùng" in response.get_data(as_text=True)
    with app.app_context():
        assert db(app).get(User, admin.id).role == "admin"


def test_a_reset_password_replaces_the_old_one(client, auth, app):
    auth.login("admin")
    with app.app_context():
        operator = db(app).exec(select(User).where(User.username == "operator")).one()
    page = client.post(
        f"/users/{operator.id}/reset-password",
        data={"csrf_token": csrf(client, f"/users/{operator.id}")},
    ).get_data(as_text=True)
    password = re.search(r'<code id="new-password">([^<]+)</code>', page).group(1)
    auth.logout()
    assert auth.login("operator").status_code == 401
    assert auth.login("operator", password).status_code == 302


def test_everyone_changes_their_own_password(client, auth):
    auth.login("operator")
    token = csrf(client, "/account/password")
    wrong = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": "nope",
            "new": "mật khẩu mới dài",
            "confirm": "mật khẩu mới dài",
        },
    )
    assert "Mật khẩu hiện tại không đúng." in wrong.get_data(as_text=True)
    ok = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": PERSONA_PASSWORD,
            "new": "mật khẩu mới dài",
            "confirm": "mật khẩu mới dài",
        },
    )
    assert ok.status_code == 302
    auth.logout()
    assert auth.login("operator", "mật khẩu mới dài").status_code == 302


def test_the_audit_page_shows_who_changed_what(client, auth):
    auth.login("admin")
    token = csrf(client, "/lexicon")
    client.post(
        "/lexicon",
        data={"csrf_token": token, "term": "Thuận An", "reading": "Thuận An ơi", "note": ""},
    )
    page = client.get("/audit?entity=lexicon").get_data(as_text=True)
    assert "Thuận An ơi" in page and "admin" in page
    assert (
        client.get("/audit?from=2000-01-01&to=2000-01-02").get_data(as_text=True).count("<tr>") == 2
    )


def test_campaigns_can_be_created_with_dates(client, auth):
    auth.login("editor")
    token = csrf(client, "/campaigns/new")
    bad = client.post(
        "/campaigns/new",
        data={
            "csrf_token": token,
            "name": "Phòng chống bão",
            "starts_on": "2026-12-10",
            "ends_on": "2026-12-01",
        },
    )
    assert "Ngày kết thúc phải sau ngày bắt đầu." in bad.get_data(as_text=True)
    client.post(
        "/campaigns/new",
        data={
            "csrf_token": token,
            "name": "Phòng chống bão",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-31",
        },
    )
    page = client.get("/campaigns").get_data(as_text=True)
    assert "Phòng chống bão" in page and "01/12/2026 – 31/12/2026" in page
    assert "Cài đặt ứng dụng Bluezone" in page

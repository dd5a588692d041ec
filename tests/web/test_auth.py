from tests.conftest import PERSONA_PASSWORD


def test_the_login_page_is_in_vietnamese(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Đăng nhập" in page and "Mật khẩu" in page
    assert '<html lang="vi">' in page


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_a_wrong_password_is_refused_in_vietnamese(auth):
    response = auth.login("admin", "not the password")
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.get_data(as_text=True)


def test_a_persona_logs_in_and_out(client, auth):
    response = auth.login("editor")
    assert response.status_code == 302 and response.location == "/"
    assert "Demo editor" in client.get("/").get_data(as_text=True)
    auth.logout()
    assert client.get("/").status_code == 302


def test_repeated_failures_lock_the_account_for_a_while(auth, app):
    limit = app.config["SETTINGS"].login_max_failures
    for _ in range(limit):
        auth.login("approver", "wrong password")
    response = auth.login("approver", PERSONA_PASSWORD)
    assert response.status_code == 429
    assert "Đăng nhập sai quá nhiều lần" in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == str(app.config["SETTINGS"].login_lockout_minutes * 60)


def test_a_form_without_csrf_token_is_refused_with_a_clear_page(client):
    response = client.post("/login", data={"username": "admin", "password": PERSONA_PASSWORD})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)


def test_logout_needs_post_so_a_link_cannot_log_people_out(client, auth):
    auth.login("admin")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_login_never_redirects_off_site(client, auth):
    token = auth.csrf_token("/login")
    response = client.post(
        "/login?next=https://evil.example/",
        data={"username": "admin", "password": PERSONA_PASSWORD, "csrf_token": token},
    )
    assert response.location == "/"


def test_session_cookie_is_http_only_and_same_site(client, auth):
    response = auth.login("admin")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_deactivated_user_is_logged_out(client, auth, app):
    from sqlmodel import select

    from broadcaster.core.models import User
    from web.db import get_session

    auth.login("operator")
    with app.app_context():
        session = get_session()
        user = session.exec(select(User).where(User.username == "operator")).one()
        user.is_active = False
        session.add(user)
        session.commit()
    assert client.get("/").status_code == 302

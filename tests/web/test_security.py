"""Security headers, trusted proxies, markup the CSP allows, and secrets kept out of logs."""

import dataclasses
import ipaddress
import logging
import re
from html.parser import HTMLParser

import pytest
from sqlmodel import select

from broadcaster.core.config import PROJECT_ROOT
from broadcaster.core.models import LoginAttempt
from tests.web.test_routes import routes

TEMPLATES = PROJECT_ROOT / "web" / "templates"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
# A Jinja call like form.name(onclick="...") or (style="...") writes the attribute itself.
JINJA_ATTRIBUTE = re.compile(r"\b(on[a-z]+|style)\s*=", re.I)


class InlineFinder(HTMLParser):
    """What a CSP without 'unsafe-inline' blocks: inline scripts, handlers, styles."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> (inline event handler)")
            elif name == "style":
                self.problems.append(f"<{tag} style=...> (style attribute)")
            elif value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            self._in_script = True
            if not names.get("src"):
                self.problems.append("<script> without src (inline script)")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline script body: {data.strip()[:40]!r}")


def inline_problems(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.problems


def test_the_finder_catches_what_the_csp_would_block():
    assert inline_problems('<script src="/static/app.js"></script><p class="x">ok</p>') == []
    bad = (
        "<script>alert(1)</script>"
        '<button onclick="go()">x</button><p style="color:red">x</p>'
        '<style>p{}</style><a href="javascript:go()">x</a>'
    )
    assert len(inline_problems(bad)) == 6  # the script counts twice: no src, and a body


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_no_template_has_inline_script_handler_or_style(template):
    source = template.read_text(encoding="utf-8")
    in_jinja = [m.group(0) for m in JINJA.finditer(source) if JINJA_ATTRIBUTE.search(m.group(0))]
    assert in_jinja == []
    # An expression stands for some text (src="{{ url_for(...) }}" is not empty).
    markup = JINJA.sub(lambda m: "x" if m.group(0).startswith("{{") else "", source)
    assert inline_problems(markup) == []


def test_every_page_as_rendered_has_no_inline_script_handler_or_style(app, client, auth):
    """Markup built in Python (WTForms widgets, Markup) counts too."""
    auth.login("admin")
    checked = 0
    for url, methods, _ in routes(app):
        if "GET" not in methods:
            continue
        response = client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            assert inline_problems(response.get_data(as_text=True)) == [], url
            checked += 1
        response.close()
    assert checked >= 15


def test_pages_send_a_strict_csp_and_the_other_headers(client):
    response = client.get("/login")
    headers = response.headers
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'self' rules
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "microphone=()" in headers["Permissions-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers  # plain HTTP: HSTS would be ignored
    assert (
        client.get("/login", base_url="https://localhost")
        .headers["Strict-Transport-Security"]
        .startswith("max-age=")
    )


@pytest.fixture
def behind_proxy(settings):
    from web import create_app

    trusted = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/24"))
    app = create_app(
        {"SETTINGS": dataclasses.replace(settings, trusted_proxies=trusted), "TESTING": True}
    )
    app.config["WTF_CSRF_ENABLED"] = False
    yield app
    app.extensions["engine"].dispose()


def _login_from(app, peer: str, **headers):
    client = app.test_client()
    response = client.post(
        "/login",
        data={"username": "editor", "password": "not the password"},
        headers=headers,
        environ_base={"REMOTE_ADDR": peer},
    )
    from web.db import get_session

    with app.test_request_context():
        attempt = get_session().exec(select(LoginAttempt).order_by(LoginAttempt.id.desc())).first()
    return response, attempt.remote_addr


def test_a_trusted_proxy_gives_the_client_address_and_scheme(behind_proxy):
    forwarded = {"X-Forwarded-For": "198.51.100.20, 10.0.0.5", "X-Forwarded-Proto": "https"}
    response, address = _login_from(behind_proxy, "127.0.0.1", **forwarded)
    assert address == "198.51.100.20"  # past both proxies: the client
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_anyone_else_cannot_claim_an_address_or_https(behind_proxy):
    forwarded = {"X-Forwarded-For": "198.51.100.20", "X-Forwarded-Proto": "https"}
    response, address = _login_from(behind_proxy, "203.0.113.9", **forwarded)
    assert address == "203.0.113.9"
    assert "Strict-Transport-Security" not in response.headers


def test_without_trusted_proxies_forwarded_headers_are_ignored(app):
    app.config["WTF_CSRF_ENABLED"] = False
    forwarded = {"X-Forwarded-For": "198.51.100.20", "X-Forwarded-Proto": "https"}
    response, address = _login_from(app, "127.0.0.1", **forwarded)
    assert address == "127.0.0.1" and "Strict-Transport-Security" not in response.headers


def test_a_new_station_token_page_is_not_kept_by_caches(client, auth):
    auth.login("admin")
    token = auth.csrf_token("/stations/HUE-THUAN-AN")
    response = client.post("/stations/HUE-THUAN-AN/token", data={"csrf_token": token})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_no_password_or_token_reaches_the_logs(app, client, auth, caplog):
    from web.api import bp

    if "api" not in app.blueprints:
        app.register_blueprint(bp)
    password = "Wrong-Pa55word-for-logs"
    token = "NotAToken-but-secret-looking-0123456789abcdef"
    caplog.set_level(logging.DEBUG)
    assert auth.login("editor", password).status_code == 401
    for path in ("/api/v1/manifest", "/api/v1/audio/" + "0" * 64 + ".mp3"):
        assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert (
        client.post(
            "/api/v1/events", json={"events": []}, headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    logged = "\n".join(caplog.messages) + "\n".join(str(r.args) for r in caplog.records)
    assert password not in logged and token not in logged

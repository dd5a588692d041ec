"""Every route, for every persona: the role decorator is the only gate, and it holds."""

import pytest

from broadcaster.core.models import Role

PUBLIC = {"auth.login", "static", "i18n.set_language", "auth.logout"}
SAMPLE_ARGUMENTS = {"key": "0" * 64, "action": "submit", "code": "en"}


def routes(app):
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            # The station API is gated by station tokens, not roles: tests/web/test_api.py;
            # health and metrics by address or token: tests/web/test_health.py.
            if rule.endpoint in PUBLIC or rule.endpoint.startswith(("api.", "health.")):
                continue
            values = {name: SAMPLE_ARGUMENTS.get(name, 1) for name in rule.arguments}
            url = url_for(rule.endpoint, **values)
            methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
            view = app.view_functions[rule.endpoint]
            yield url, methods, getattr(view, "allowed_roles", None)


def test_every_non_public_route_declares_its_roles(app):
    undeclared = [url for url, _, roles in routes(app) if roles is None]
    assert undeclared == []


def test_the_walk_covers_the_newsroom_and_admin_pages(app):
    urls = {url for url, _, _ in routes(app)}
    assert {
        "/scripts",
        "/scripts/1",
        "/scripts/1/versions/1/submit",
        "/users",
        "/audit",
        "/campaigns",
        "/lexicon",
        "/account/password",
        "/schedules",
        "/portal",
        "/reports/compliance",
        "/logs",
        "/adoption",
        "/stations",
        "/streams",
        "/streams/1/approve",
    } <= urls


@pytest.mark.parametrize("persona", [None, *[r.value for r in Role]])
def test_each_persona_reaches_exactly_the_routes_its_role_allows(app, client, auth, persona):
    # CSRF is checked before roles; switch it off so POST routes reach the role gate.
    app.config["WTF_CSRF_ENABLED"] = False
    if persona:
        auth.login(persona)
    for url, methods, allowed in routes(app):
        for method in methods:
            response = client.open(url, method=method)
            response.close()
            if persona is None:
                assert response.status_code in (302, 401), (url, method)
                if response.status_code == 302:
                    assert response.location.startswith("/login")
            elif persona in allowed:
                assert response.status_code not in (401, 403), (persona, url, method)
                assert response.status_code < 500, (persona, url, method)
            else:
                assert response.status_code == 403, (persona, url, method)

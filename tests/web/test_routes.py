"""Every route, for every persona: the role decorator is the only gate, and it holds."""

import pytest

from broadcaster.models import Role

PUBLIC = {"auth.login", "static", "i18n.set_language", "auth.logout"}


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.arguments:
            continue
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        view = app.view_functions[rule.endpoint]
        yield rule.rule, methods, getattr(view, "allowed_roles", None)


def test_every_non_public_route_declares_its_roles(app):
    undeclared = [rule for rule, _, roles in routes(app) if roles is None]
    assert undeclared == []


@pytest.mark.parametrize("persona", [None, *[r.value for r in Role]])
def test_each_persona_reaches_exactly_the_routes_its_role_allows(app, client, auth, persona):
    # CSRF is checked before roles; switch it off so POST routes reach the role gate.
    app.config["WTF_CSRF_ENABLED"] = False
    if persona:
        auth.login(persona)
    for rule, methods, allowed in routes(app):
        for method in methods:
            response = client.open(rule, method=method)
            if persona is None:
                assert response.status_code in (302, 401), (rule, method)
                if response.status_code == 302:
                    assert response.location.startswith("/login")
            elif persona in allowed:
                assert response.status_code not in (401, 403), (persona, rule, method)
            else:
                assert response.status_code == 403, (persona, rule, method)

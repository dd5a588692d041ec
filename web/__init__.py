"""The web UI and, mounted at /api/v1, the station API: one WSGI app built by create_app()."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from broadcaster.core.config import load_settings

csrf = CSRFProtect()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from BROADCASTER_* settings; `test_config` overrides Flask config keys."""
    app = Flask(__name__, instance_relative_config=False)
    settings = (test_config or {}).get("SETTINGS") or load_settings()
    app.config.from_mapping(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
    )
    if test_config:
        app.config.update(test_config)

    from web import (
        adoption,
        api,
        audit,
        auth,
        campaigns,
        dashboard,
        db,
        errors,
        health,
        i18n,
        jingles,
        lexicon,
        portal,
        reports,
        schedules,
        scripts,
        security,
        stations,
        streams,
        users,
    )

    db.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(i18n.bp)
    app.register_blueprint(lexicon.bp)
    app.register_blueprint(scripts.bp)
    app.register_blueprint(campaigns.bp)
    app.register_blueprint(users.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(schedules.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(adoption.bp)
    app.register_blueprint(stations.bp)
    app.register_blueprint(jingles.bp)
    app.register_blueprint(streams.bp)
    app.register_blueprint(health.bp)

    app.after_request(security.page_headers)

    # The station API answers before any of the UI's hooks run (see web/api.py).
    api_app = api.create_api_app(settings, app.extensions["engine"])
    app.extensions["api_app"] = api_app
    app.wsgi_app = api.mounted(api_app, in_front_of=app.wsgi_app)
    if settings.trusted_proxies:
        # Outermost, so that the station API's rate limits see the agent's own address too.
        app.wsgi_app = security.TrustedProxies(app.wsgi_app, settings.trusted_proxies)
    return app

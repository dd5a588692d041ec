"""Languages (Vietnamese by default, English available) and local-time display."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, redirect, request, session, url_for
from flask_babel import Babel, gettext

from broadcaster.onair.reasons import reason_vi

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return current_app.config["SETTINGS"].default_locale


def local_time(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A UTC datetime shown in the deployment's time zone, dd/mm/yyyy and 24 h."""
    if value is None:
        return ""
    zone = ZoneInfo(current_app.config["SETTINGS"].timezone)
    return value.astimezone(zone).strftime(fmt)


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["localtime"] = local_time
    # Stored reasons are English; pages show them in the user's language.
    app.jinja_env.filters["reason"] = lambda reason: reason_vi(reason or "", translate=gettext)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_locale"] = select_locale


@bp.post("/lang/<code>")
def set_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    target = request.form.get("next", "")
    # Only same-site paths, so the switcher cannot become an open redirect.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("dashboard.index")
    return redirect(target)

"""Languages (Vietnamese by default, English available) and local-time display."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, redirect, request, session, url_for
from flask_babel import Babel, gettext

from broadcaster.onair.reasons import command_result_vi, reason_vi, stream_check_vi

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


def _read_stored(reader, text: str | None) -> str:
    return reader(text or "", translate=gettext)


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["localtime"] = local_time
    # Stored reasons, stream checks and command results are English (the log's language);
    # pages show them in the user's language.
    for name, reader in (
        ("reason", reason_vi),
        ("stream_check", stream_check_vi),
        ("command_result", command_result_vi),
    ):
        app.jinja_env.filters[name] = partial(_read_stored, reader)
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

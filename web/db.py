"""One engine per app, one session per request."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, g, has_request_context, request
from sqlmodel import Session

from broadcaster.core.db import make_engine, writer


def init_app(app: Flask) -> None:
    app.extensions["engine"] = make_engine(app.config["SETTINGS"].database_url)
    app.teardown_appcontext(close_session)


def writes_on_get(view: Callable) -> Callable:
    """Mark a GET view that writes, so its session takes the write lock up front too.

    A session that reads and only then writes fails on SQLite with "database is locked"
    if another process wrote in between (its snapshot is stale and cannot be upgraded);
    beginning with the lock makes it wait its turn instead (busy_timeout).
    """
    view.writes_on_get = True  # functools.wraps in outer decorators carries it up
    return view


def _writes(endpoint: str | None) -> bool:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return True
    view = current_app.view_functions.get(endpoint or "")
    return bool(getattr(view, "writes_on_get", False))


def get_session() -> Session:
    if "db_session" not in g:
        engine = current_app.extensions["engine"]
        if has_request_context() and _writes(request.endpoint):
            # A form post reads and then writes: take the write lock up front (SQLite).
            engine = writer(engine)
        g.db_session = Session(engine, expire_on_commit=False)
    return g.db_session


def close_session(exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()

"""One engine per app, one session per request."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlmodel import Session

from broadcaster.core.db import make_engine, writer


def init_app(app: Flask) -> None:
    app.extensions["engine"] = make_engine(app.config["SETTINGS"].database_url)
    app.teardown_appcontext(close_session)


def get_session() -> Session:
    if "db_session" not in g:
        engine = current_app.extensions["engine"]
        if has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS"):
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

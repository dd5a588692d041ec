"""Read-only station API queries run fast: Core statements compiled once for SQLite.

Owns the hot path's database reads (token lookup, manifest): on SQLite they run on the
driver connection with the statement's own SQL, elsewhere through SQLAlchemy Core.
Module-level statements only: the compiled form is kept by the statement's identity.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session


class _SqliteStatement:
    """A Core statement compiled once for SQLite, run on the driver connection.

    SQLAlchemy's per-execution work (cache key, context, result processing) costs about
    20 times what SQLite takes to answer these two indexed queries, and the manifest is
    the request every agent makes every minute. The SQL is the Core statement's own, so
    the two paths cannot drift apart (a test runs both).
    """

    def __init__(self, statement, *, single_row: bool = False) -> None:
        from sqlalchemy.dialects import sqlite

        self.single_row = single_row
        compiled = statement.compile(dialect=sqlite.dialect())
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())
        self.defaults = dict(compiled.params)

    def params(self, values: dict[str, Any]) -> list[Any]:
        bound = []
        for name in self.names:
            value = values[name] if name in values else self.defaults[name]
            if isinstance(value, datetime):  # as UTCDateTime stores it on SQLite
                value = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            bound.append(value)
        return bound


_COMPILED: dict[int, _SqliteStatement] = {}


def read_rows(
    source: Session | Engine, statement, params: dict[str, Any], *, single_row: bool = False
) -> list[tuple]:
    """Rows of a read-only Core statement; SQLite through its driver, others through Core.

    On SQLite, a session that has not begun a transaction (a fresh request's), or the
    engine itself, borrows a pooled connection for the one read instead of beginning a
    session transaction: that halves the cost of a manifest request. A session inside
    a transaction reads through its own connection, so it sees its own changes.
    `single_row`: the statement yields at most one row (fetched in one SQLite step).
    """
    session = None if isinstance(source, Engine) else source
    bind = source if session is None else session.get_bind()
    if bind.dialect.name != "sqlite":
        with bind.connect() if session is None else nullcontext(session.connection()) as reader:
            return [tuple(row) for row in reader.execute(statement, params)]
    fast = _COMPILED.get(id(statement))
    if fast is None:
        fast = _COMPILED[id(statement)] = _SqliteStatement(statement, single_row=single_row)
    if session is not None and session.in_transaction():
        return _fetch(session.connection().connection.driver_connection, fast, params)
    pooled = bind.raw_connection()
    try:
        return _fetch(pooled.driver_connection, fast, params)
    finally:
        pooled.close()  # back to the pool


def _fetch(driver_connection, fast: _SqliteStatement, params: dict[str, Any]) -> list[tuple]:
    cursor = driver_connection.execute(fast.sql, fast.params(params))
    try:
        if fast.single_row:
            row = cursor.fetchone()  # one step of the statement, not two
            return [] if row is None else [row]
        return cursor.fetchall()
    finally:
        cursor.close()


def instant(value: datetime | str) -> datetime:
    """An aware UTC datetime from a Core row (datetime) or an SQLite row (text)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

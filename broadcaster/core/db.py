"""Engine, sessions and migrations."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
# Kept open: above the thread counts we run with (waitress 8, gunicorn 4 per worker, the
# scheduler's pool); an SQLite connection is a file handle and a page cache. Up to
# `broadcaster web --threads` at most, more are opened when needed.
SQLITE_POOL_SIZE = 16
SQLITE_MAX_THREADS = 64


def _tune_sqlite(dbapi_connection, _record) -> None:
    # pysqlite's own transaction handling emits no BEGIN before a SAVEPOINT, so releasing
    # one would commit; SQLAlchemy's documented recipe hands BEGIN to SQLAlchemy instead.
    dbapi_connection.isolation_level = None
    # WAL lets the web, the scheduler and the local agent read while one writes;
    # busy_timeout makes a writer wait for a lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite(connection) -> None:
    # Readers begin DEFERRED and never block anyone. A unit of work that will write begins
    # IMMEDIATE (see writer()): in WAL mode a deferred transaction that read first cannot
    # upgrade to a write once another writer has committed ("database is locked" at once,
    # whatever busy_timeout says), while IMMEDIATE simply queues behind the other writer.
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine for units of work that write: on SQLite they take the lock up front."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(sqlite_immediate=True)


def one_at_a_time(session: Session, name: str) -> None:
    """Let one transaction at a time past this point, across processes, until it ends.

    SQLite writers already run one at a time (writer()); on PostgreSQL a transaction-level
    advisory lock keyed by `name` does it for the work that needs it.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        path = make_url(database_url).database or ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # As many pooled connections as server threads: past pool_size, every checkout
        # opens a new connection (and SQLite reads the schema again) and closes it after.
        # (An in-memory database has a pool of its own, which takes no sizes.)
        sizes = (
            {}
            if path in ("", ":memory:")
            else {
                "pool_size": SQLITE_POOL_SIZE,
                "max_overflow": SQLITE_MAX_THREADS - SQLITE_POOL_SIZE,
            }
        )
        engine = create_engine(database_url, connect_args={"check_same_thread": False}, **sizes)
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(database_url, pool_pre_ping=True)


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    `write=True` (the default: most callers change something) begins each transaction
    holding the write lock on SQLite; pass False for read-only work.
    """
    with Session(writer(engine) if write else engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (the only way tables are created outside tests)."""
    if database_url.startswith("sqlite"):
        # Opening through our engine first creates the folder and turns WAL on.
        make_engine(database_url).dispose()
    command.upgrade(alembic_config(database_url), revision)


class _HasId(Protocol):
    id: int | None


def saved_id(row: _HasId) -> int:
    """The id of a row that has been flushed (SQLModel types every id as optional)."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: flush the session first")
    return row.id

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel

from broadcaster.core import db
from broadcaster.core.models import LoginAttempt


def test_it_migrates_an_empty_database_to_exactly_the_models(blank_database_url):
    db.upgrade(blank_database_url)
    engine = db.make_engine(blank_database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "include_object": _ignore_scheduler_table},
        )
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree; write a migration: {diff}"


def _ignore_scheduler_table(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name == "apscheduler_jobs")


def test_every_migration_goes_down_and_up_again(blank_database_url):
    db.upgrade(blank_database_url)
    command.downgrade(db.alembic_config(blank_database_url), "base")
    engine = db.make_engine(blank_database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    db.upgrade(blank_database_url)
    engine = db.make_engine(blank_database_url)
    assert {"occurrence", "playevent", "stationbeat"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_it_runs_sqlite_in_wal_mode_with_foreign_keys(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_it_returns_utc_aware_datetimes(engine):
    hanoi = timezone(timedelta(hours=7))
    written = datetime(2020, 8, 13, 6, 0, tzinfo=hanoi)
    with Session(engine) as session:
        attempt = LoginAttempt(username="x", succeeded=False, at=written)
        session.add(attempt)
        session.commit()
        attempt_id = attempt.id
    with Session(engine) as session:
        loaded = session.get(LoginAttempt, attempt_id)
    assert loaded.at.tzinfo is not None
    assert loaded.at == written
    assert loaded.at.utcoffset() == timedelta(0)
    assert loaded.at.hour == 23  # 06:00 in Huế is 23:00 UTC the day before


def test_it_refuses_naive_datetimes(engine):
    with Session(engine) as session:
        session.add(LoginAttempt(username="x", succeeded=False, at=datetime(2020, 8, 13)))
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()


def test_session_scope_rolls_back_on_error(engine):
    with pytest.raises(RuntimeError):
        with db.session_scope(engine) as session:
            session.add(LoginAttempt(username="ghost", succeeded=False, at=datetime.now(UTC)))
            session.flush()
            raise RuntimeError("boom")
    with Session(engine) as session:
        assert (
            session.exec(text("SELECT count(*) FROM loginattempt WHERE username='ghost'")).scalar()
            == 0
        )


def test_a_savepoint_does_not_commit_the_outer_transaction(engine):
    with Session(engine) as session:
        with session.begin_nested():
            session.add(LoginAttempt(username="nested", succeeded=False, at=datetime.now(UTC)))
        session.rollback()
    with Session(engine) as session:
        assert (
            session.exec(text("SELECT count(*) FROM loginattempt WHERE username='nested'")).scalar()
            == 0
        )


def test_an_in_memory_database_still_opens():
    engine = db.make_engine("sqlite://")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    engine.dispose()

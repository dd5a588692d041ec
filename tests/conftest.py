"""Shared fixtures: real databases built by the real migrations, personas, app, client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session

from broadcaster.core import db
from broadcaster.core.config import Settings
from broadcaster.newsroom.users import create_user
from broadcaster.ops.demo import seed_demo
from tests.databases import open_databases
from tests.helpers import settings_for

PERSONA_PASSWORD = "correct horse battery"
PERSONAS = ("admin", "approver", "editor", "operator")


@dataclass(frozen=True)
class Template:
    url: str


@pytest.fixture(scope="session")
def databases():
    """SQLite files, or PostgreSQL databases in a cluster started for this run (see
    tests/databases.py; BROADCASTER_TEST_DATABASE chooses)."""
    databases = open_databases()
    yield databases
    databases.close()


@pytest.fixture(autouse=True)
def _drop_test_databases(databases):
    yield
    databases.drop_created()


def _migrated(databases, directory: Path, *, demo: bool) -> str:
    url = databases.create(directory, template=True)
    db.upgrade(url)
    if demo:
        engine = db.make_engine(url)
        with db.session_scope(engine) as session:
            seed_demo(session, timezone="Asia/Ho_Chi_Minh")
            for role in PERSONAS:
                create_user(
                    session=session,
                    username=role,
                    role=role,
                    password=PERSONA_PASSWORD,
                    full_name=f"Demo {role}",
                )
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def demo_template(databases, tmp_path_factory) -> Template:
    """Migrated once per run, with the Huế demo and one user per role; copied per test."""
    return Template(_migrated(databases, tmp_path_factory.mktemp("demo-template"), demo=True))


@pytest.fixture(scope="session")
def empty_template(databases, tmp_path_factory) -> Template:
    return Template(_migrated(databases, tmp_path_factory.mktemp("empty-template"), demo=False))


@pytest.fixture
def settings(tmp_path, databases, demo_template) -> Settings:
    """Settings for a fresh copy of the demo database."""
    return settings_for(tmp_path, databases.copy(demo_template.url, tmp_path))


@pytest.fixture
def empty_settings(tmp_path, databases, empty_template) -> Settings:
    return settings_for(tmp_path, databases.copy(empty_template.url, tmp_path))


@pytest.fixture
def blank_database_url(tmp_path, databases) -> str:
    """A database with no tables at all (not even migrated)."""
    return databases.create(tmp_path / "blank")


@pytest.fixture
def engine(settings):
    engine = db.make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def app(settings):
    from web import create_app

    app = create_app({"SETTINGS": settings, "TESTING": True})
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    """Logs a persona in through the real login form, CSRF token included."""

    def __init__(self, client) -> None:
        self._client = client

    def csrf_token(self, path: str = "/login") -> str:
        from tests.helpers import csrf

        return csrf(self._client, path)

    def login(self, username: str = "admin", password: str = PERSONA_PASSWORD):
        token = self.csrf_token("/login")
        return self._client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )

    def logout(self):
        token = self.csrf_token("/")
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def icecast(tmp_path):
    """A real icecast2 on a free loopback port; `icecast.feed("/x.mp3")` starts a live tone
    on a mount (tests/_icecast.py). Stopped, feeds and all, after the test."""
    from tests._icecast import running_icecast

    with running_icecast(tmp_path / "icecast") as server:
        yield server

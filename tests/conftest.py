"""Shared fixtures: real SQLite databases built by the real migrations, personas, app, client."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session

from broadcaster import db
from broadcaster.config import Settings, load_settings
from broadcaster.demo import seed_demo
from broadcaster.users import create_user

PERSONA_PASSWORD = "correct horse battery"
PERSONAS = ("admin", "approver", "editor", "operator")


@dataclass(frozen=True)
class Template:
    path: Path


def _migrated(directory: Path, *, demo: bool) -> Path:
    path = directory / "broadcaster.db"
    url = f"sqlite:///{path}"
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
    return path


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Template:
    """Migrated once per run, with the Huế demo and one user per role; copied per test."""
    return Template(_migrated(tmp_path_factory.mktemp("demo-template"), demo=True))


@pytest.fixture(scope="session")
def empty_template(tmp_path_factory) -> Template:
    return Template(_migrated(tmp_path_factory.mktemp("empty-template"), demo=False))


def _settings_for(tmp_path: Path, db_path: Path, **overrides: str) -> Settings:
    env = {
        "BROADCASTER_ENV": "test",
        "BROADCASTER_INSTANCE_DIR": str(tmp_path / "instance"),
        "BROADCASTER_DATABASE_URL": f"sqlite:///{db_path}",
        "BROADCASTER_AUDIO_DIR": str(tmp_path / "audio"),
        **overrides,
    }
    return load_settings(env)


@pytest.fixture
def settings(tmp_path, demo_template) -> Settings:
    """Settings for a fresh copy of the demo database."""
    target = tmp_path / "broadcaster.db"
    shutil.copyfile(demo_template.path, target)
    return _settings_for(tmp_path, target)


@pytest.fixture
def empty_settings(tmp_path, empty_template) -> Settings:
    target = tmp_path / "broadcaster.db"
    shutil.copyfile(empty_template.path, target)
    return _settings_for(tmp_path, target)


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

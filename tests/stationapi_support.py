"""Shared by the station API and agent tests: a database on air, tokens, real processes.

Also a launcher: `python -m tests.stationapi_support serve PORT` serves web.create_app with
the station API blueprint (registered here if web/__init__.py does not yet) on waitress,
optionally logging each request's method, path, Range header and status to the file named
by BROADCASTER_TEST_ACCESS_LOG, so tests can see what an agent asked for.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from broadcaster.core import db
from broadcaster.core.config import PROJECT_ROOT, Settings
from broadcaster.core.models import (
    AudioFile,
    Occurrence,
    OccurrenceStatus,
    PlayEvent,
    Schedule,
    Script,
    ScriptVersion,
    Station,
    User,
    VersionStatus,
)
from broadcaster.core.priority import Priority
from broadcaster.newsroom.workflow import approve, submit
from broadcaster.onair import occurrences as onair
from broadcaster.onair.schedules import ScheduleInput, save_schedule
from broadcaster.stations import api as stationapi
from tests.helpers import env_for, free_port, settings_for, wait_until

DAILY = "bluezone-nhac-nho-hang-ngay"
HOW_TO = "bluezone-cach-cai-dat"
ACCESS_LOG_ENV = "BROADCASTER_TEST_ACCESS_LOG"

# --- database --------------------------------------------------------------------------


def user(session: Session, name: str) -> User:
    return session.exec(select(User).where(User.username == name)).one()


def station(session: Session, code: str) -> Station:
    return session.exec(select(Station).where(Station.code == code)).one()


def approved(session: Session, slug: str) -> Script:
    """The script, its first version approved (editor submits, approver approves)."""
    script = session.exec(select(Script).where(Script.slug == slug)).one()
    version = session.exec(
        select(ScriptVersion)
        .where(ScriptVersion.script_id == script.id)
        .order_by(ScriptVersion.number)
    ).first()
    if version.status != VersionStatus.APPROVED:
        submit(session=session, version=version, actor=user(session, "editor"))
        approve(session=session, version=version, actor=user(session, "approver"))
    return script


def schedule_for(
    session: Session, slug: str, codes: list[str], *, priority: int = Priority.NORMAL
) -> Schedule:
    """A weekly 03:00 schedule for these stations (never materialized by the tests)."""
    script = approved(session, slug)
    return save_schedule(
        session=session,
        data=ScheduleInput(
            name=f"test {slug} {'+'.join(codes)} {priority}",
            script=script,
            kind="weekly",
            weekdays=list(range(7)),
            times=["03:00"],
            priority=priority,
            station_ids=[station(session, c).id for c in codes],
        ),
        # Only approvers and admins may set emergency priority.
        actor=user(session, "approver" if priority == Priority.EMERGENCY else "editor"),
    )


def add_occurrence(
    session: Session,
    settings: Settings,
    schedule: Schedule,
    code: str,
    at: datetime,
    *,
    audio: AudioFile | None = None,
) -> Occurrence:
    """An occurrence at `at` with its audio rendered (or the given audio), committed."""
    version = approved_version(session, schedule)
    occurrence = Occurrence(
        schedule_id=schedule.id,
        station_id=station(session, code).id,
        at=at,
        priority=schedule.priority,
        version_id=version.id,
    )
    session.add(occurrence)
    session.flush()
    audio = audio or onair.render_occurrence(session, settings, occurrence)
    occurrence.audio_id = audio.id
    occurrence.status = OccurrenceStatus.RENDERED
    session.add(occurrence)
    session.commit()
    return occurrence


def approved_version(session: Session, schedule: Schedule) -> ScriptVersion:
    return session.exec(
        select(ScriptVersion)
        .where(
            ScriptVersion.script_id == schedule.script_id,
            ScriptVersion.status == VersionStatus.APPROVED,
        )
        .order_by(ScriptVersion.number.desc())
    ).first()


def put_on_air(session: Session, settings: Settings, now: datetime) -> None:
    """The Bluezone daily reminder at every Huế station, planned and rendered 48 h ahead."""
    from broadcaster.ops.demo import import_demo_schedules

    approved(session, DAILY)
    import_demo_schedules(session)
    onair.materialize(session, now=now, hours=48)
    onair.render_due(session, settings, now=now, hours=48)
    session.commit()


def give_token(settings: Settings, code: str) -> str:
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(engine) as session:
            return stationapi.rotate_token(session, station(session, code))
    finally:
        engine.dispose()


def events_of(settings: Settings, occurrence_id: int) -> list[PlayEvent]:
    engine = db.make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return list(
                session.exec(
                    select(PlayEvent)
                    .where(PlayEvent.occurrence_id == occurrence_id)
                    .order_by(PlayEvent.at, PlayEvent.id)
                )
            )
    finally:
        engine.dispose()


# --- templates: a database and its audio, prepared once per module, copied per test ---


@dataclass(frozen=True)
class Template:
    folder: Path
    url: str
    databases: object  # the run's SqliteDatabases or PostgresDatabases (tests/databases.py)

    def copy_to(self, target: Path, *, keep: bool = False, **overrides: str) -> Settings:
        """A site of its own; `keep`: its database outlives the test (module fixtures)."""
        url = self.databases.copy(self.url, target, template=keep)
        if (self.folder / "audio").exists():
            shutil.copytree(self.folder / "audio", target / "audio", dirs_exist_ok=True)
        return settings_for(target, url, **overrides)


def make_template(databases, folder: Path, demo_url: str, prepare) -> Template:
    """Copy the demo database for `folder`, run prepare(session, settings) on it."""
    url = databases.copy(demo_url, folder, template=True)
    settings = settings_for(folder, url)
    engine = db.make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            prepare(session, settings)
            session.commit()
    finally:
        # Copied later: SQLite's last connection checkpoints the WAL into the file, and
        # PostgreSQL copies no database that has a connection.
        engine.dispose()
    return Template(folder, url, databases)


# --- processes -------------------------------------------------------------------------


class _PortTaken(AssertionError):
    """The server could not bind its port."""


class Server:
    """The web app with the station API, served by waitress in a child process."""

    def __init__(
        self,
        settings: Settings,
        port: int | None = None,
        access_log: Path | None = None,
        env: dict[str, str] | None = None,
    ):
        self.settings = settings
        self.chosen_port = port  # a restart must come back on the same port
        self.port = port or free_port()
        self.access_log = access_log
        self.env = env or {}  # extra BROADCASTER_* settings for the server process
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        extra = {ACCESS_LOG_ENV: str(self.access_log)} if self.access_log else {}
        extra.update(self.env)
        for attempt in range(3):
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.stationapi_support", "serve", str(self.port)],
                cwd=PROJECT_ROOT,
                env={**env_for(self.settings, **extra), "PYTHONPATH": str(PROJECT_ROOT)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                wait_until(self._up, timeout=30)
                return self
            except _PortTaken:
                # free_port() only found a port free a moment ago; another test (or
                # xdist worker) may have bound it since. Any other port will do.
                if self.chosen_port is not None or attempt == 2:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _up(self) -> bool:
        if self.process.poll() is not None:
            output, _ = self.process.communicate()
            self.process = None
            if "Address already in use" in output:
                raise _PortTaken(output)
            raise AssertionError(f"server exited: {output}")
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> str:
        if self.process is None:
            return ""
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        self.process = None
        return output

    def requests(self) -> list[tuple[str, str, str, str]]:
        """(method, path, range, status) of every request so far."""
        if not self.access_log or not self.access_log.exists():
            return []
        return [tuple(line.split(" ")) for line in self.access_log.read_text().splitlines() if line]


def start_agent(
    server_url: str,
    token: str,
    cache: Path,
    *,
    time_scale: float = 0.02,
    sync: float = 0.5,
    log: Path | None = None,
    args: tuple[str, ...] = (),
    player: str = "null",
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update(
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(PROJECT_ROOT),
        BROADCASTER_AGENT_TIME_SCALE=str(time_scale),
        **extra,
    )
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "broadcaster.stations.agent",
                "--server",
                server_url,
                "--token",
                token,
                "--cache",
                str(cache),
                "--player",
                player,
                "--sync-interval",
                str(sync),
                "--heartbeat-interval",
                "1",
                *args,
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log:
            out.close()  # the child has its own copy


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    return process.wait(timeout=timeout)


def soon(seconds: float) -> datetime:
    from broadcaster.core.dbtypes import utcnow

    return utcnow() + timedelta(seconds=seconds)


# --- the launcher ----------------------------------------------------------------------


def _access_logged(app, log_path: str):
    inner = app.wsgi_app

    def logged(environ, start_response):
        # Read before the app runs: mounting the station API moves PATH_INFO to SCRIPT_NAME.
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")

        def recording(status, headers, exc_info=None):
            line = " ".join(
                [
                    environ["REQUEST_METHOD"],
                    path,
                    environ.get("HTTP_RANGE", "-").replace(" ", ""),
                    status.split(" ", 1)[0],
                ]
            )
            with open(log_path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            return start_response(status, headers, exc_info)

        return inner(environ, recording)

    app.wsgi_app = logged


def serve(port: int) -> None:
    from waitress import serve as waitress_serve

    from web import create_app

    app = create_app()
    if os.environ.get(ACCESS_LOG_ENV):
        _access_logged(app, os.environ[ACCESS_LOG_ENV])
    waitress_serve(app, host="127.0.0.1", port=port, threads=4, _quiet=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        serve(int(sys.argv[2]))
    else:
        sys.exit("usage: python -m tests.stationapi_support serve PORT")

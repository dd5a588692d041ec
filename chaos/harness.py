"""What every fault scenario shares: an instance on disk, a shared fake clock, real
processes, and the ledger that says whether any play was lost or doubled."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from broadcaster.core import db
from broadcaster.core.config import PROJECT_ROOT, Settings, load_settings
from broadcaster.core.models import (
    Occurrence,
    OccurrenceStatus,
    PlayEvent,
    Script,
    ScriptVersion,
    ServiceBeat,
    Station,
    User,
)

PASSWORD = "chaos monkey password"
TIMEZONE = "Asia/Ho_Chi_Minh"
# Short, so a null player "plays" it in a few seconds and a day of slots fits in minutes.
BODY = "Thông báo thử nghiệm hệ thống."
NOT_PLAYED = (OccurrenceStatus.MISSED, OccurrenceStatus.FAILED, OccurrenceStatus.SKIPPED)


class ChaosError(Exception):
    """The scenario could not be run as designed (not a verdict on the product)."""


def wait_for(condition, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise ChaosError(f"{what} not met within {timeout:.0f} s")


# --- the clock -------------------------------------------------------------------------


class FakeClock:
    """One wall clock for every child process, moved by the driver.

    Children run under chaos.clocked, which reads an offset from real time from a file
    and follows it when the driver rewrites it: all processes agree, and a jump reaches
    them within 50 ms.
    """

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self.offset = 0.0
        self.set(start)

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def set(self, moment: datetime) -> None:
        self.offset = (moment - datetime.now(UTC)).total_seconds()
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(f"{self.offset:.3f}\n")
        os.replace(temporary, self.path)  # a reader never sees a half-written offset

    def jump(self, delta: timedelta) -> None:
        self.set(self.now() + delta)

    def sleep_until(self, moment: datetime) -> None:
        remaining = (moment - self.now()).total_seconds()
        if remaining > 0:
            time.sleep(remaining)


# --- the instance ----------------------------------------------------------------------


def build_template(folder: Path) -> Path:
    """A migrated database with the Huế demo and one user per role (built once per run)."""
    from broadcaster.newsroom.users import create_user
    from broadcaster.ops.demo import seed_demo

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "broadcaster.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        seed_demo(session, timezone=TIMEZONE)
        for role in ("admin", "approver", "editor"):
            create_user(session=session, username=role, role=role, password=PASSWORD)
    engine.dispose()
    return path


@dataclass
class Proc:
    name: str
    process: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed; what a power cut does to a process."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.process.kill()
            self.process.wait(timeout=10)
            raise ChaosError(f"{self.name} did not stop on SIGTERM within {timeout:.0f} s") from exc

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Instance:
    """A Broadcaster installation in a folder: database, audio store, processes."""

    def __init__(self, root: Path, template: Path, clock: FakeClock | None = None) -> None:
        self.root = root
        if root.exists():
            shutil.rmtree(root)
        (root / "logs").mkdir(parents=True)
        self.db_path = root / "broadcaster.db"
        shutil.copyfile(template, self.db_path)
        self.url = f"sqlite:///{self.db_path}"
        self.audio_dir = root / "audio"
        self.clock = clock
        self.extra_env: dict[str, str] = {}
        self.engine = db.make_engine(self.url)
        self.processes: list[Proc] = []
        self._started = Counter()

    @property
    def settings(self) -> Settings:
        return load_settings(self.env())

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
        env.update(
            BROADCASTER_ENV="test",
            BROADCASTER_INSTANCE_DIR=str(self.root / "instance"),
            BROADCASTER_DATABASE_URL=self.url,
            BROADCASTER_AUDIO_DIR=str(self.audio_dir),
            BROADCASTER_TIMEZONE=TIMEZONE,
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(PROJECT_ROOT),
            **self.extra_env,
        )
        return env

    def now(self) -> datetime:
        return self.clock.now() if self.clock else datetime.now(UTC)

    def start(self, name: str, *args: str, module: str = "broadcaster", **extra: str) -> Proc:
        """A real process (`python -m broadcaster ...`) on the instance's clock."""
        self._started[name] += 1
        log = self.root / "logs" / f"{name}-{self._started[name]}.log"
        env = {**self.env(), **extra}
        clocked = ["chaos.clocked", str(self.clock.path)] if self.clock else []
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", *clocked, module, *args],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        proc = Proc(name, process, log)
        self.processes.append(proc)
        return proc

    def command(self, *args: str, timeout: float) -> subprocess.CompletedProcess:
        """`broadcaster ...` run to its end on this instance (real clock), output captured."""
        return subprocess.run(
            [sys.executable, "-m", "broadcaster", *args],
            cwd=PROJECT_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def close(self) -> None:
        for proc in self.processes:
            if proc.alive():
                proc.process.kill()
                proc.process.wait(timeout=10)
        self.engine.dispose()

    # -- content

    def user(self, session: Session, name: str) -> User:
        return session.exec(select(User).where(User.username == name)).one()

    def stations(self, codes: list[str], mode: str | None = None) -> list[int]:
        with db.session_scope(self.engine) as session:
            found = session.exec(select(Station).where(Station.code.in_(codes))).all()
            if len(found) != len(codes):
                raise ChaosError(f"demo stations missing: {codes}")
            for station in found:
                if mode:
                    station.mode = mode
                    session.add(station)
            return [s.id for s in found]

    def approved_script(self, title: str, body: str = BODY, **options) -> int:
        from broadcaster.newsroom.workflow import approve, create_script, submit

        with db.session_scope(self.engine) as session:
            script, version = create_script(
                session=session,
                title=title,
                body=body,
                actor=self.user(session, "editor"),
                repeat=1,
                **options,
            )
            submit(session=session, version=version, actor=self.user(session, "editor"))
            approve(session=session, version=version, actor=self.user(session, "approver"))
            return script.id

    def schedule(self, script_id: int, station_ids: list[int], **fields) -> int:
        from broadcaster.onair.schedules import ScheduleInput, save_schedule

        with db.session_scope(self.engine) as session:
            schedule = save_schedule(
                session=session,
                actor=self.user(session, "editor"),
                data=ScheduleInput(
                    name=fields.pop("name", f"chaos {fields}"),
                    script=session.get(Script, script_id),
                    station_ids=station_ids,
                    **fields,
                ),
            )
            return schedule.id

    # -- observations

    def beat(self, name: str = "scheduler") -> ServiceBeat | None:
        with Session(self.engine) as session:
            return session.get(ServiceBeat, name)

    def scheduler_ready(self, proc: Proc, timeout: float = 60) -> None:
        """Up: it has beaten since it started (its pid) and its jobs are in the store."""

        def ready():
            if not proc.alive():
                raise ChaosError(f"{proc.name} exited:\n{proc.output()[-2000:]}")
            beat = self.beat()
            return beat is not None and beat.pid == proc.process.pid

        wait_for(ready, timeout, what=f"{proc.name} heartbeat")

    def occurrences(self, start: datetime, end: datetime) -> list[Occurrence]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(Occurrence)
                    .where(Occurrence.at >= start, Occurrence.at < end)
                    .order_by(Occurrence.at, Occurrence.station_id)
                )
            )

    def planned_instants(self, start: datetime, end: datetime) -> list[datetime]:
        """When plays are due in [start, end), by the plan every part of the system uses."""
        from broadcaster.onair.schedules import plan

        with Session(self.engine) as session:
            return sorted({p.at for p in plan(session, start, end)})

    def settled(self, start: datetime, end: datetime) -> bool:
        """Every occurrence in [start, end) has an outcome (played or not, with why)."""
        found = self.occurrences(start, end)
        return bool(found) and all(
            o.status == OccurrenceStatus.PLAYED or o.status in NOT_PLAYED for o in found
        )


# --- the verdict -----------------------------------------------------------------------


@dataclass
class Verdict:
    scenario: str
    tried: list[str] = field(default_factory=list)
    expected: int = 0
    played: int = 0
    late: int = 0
    not_played: Counter = field(default_factory=Counter)  # reason -> count
    duplicates: int = 0
    silent: int = 0
    problems: list[str] = field(default_factory=list)  # anything else that went wrong

    @property
    def ok(self) -> bool:
        return self.duplicates == 0 and self.silent == 0 and not self.problems

    def check(self, condition: bool, problem: str) -> bool:
        if not condition:
            self.problems.append(problem)
        return condition

    def report(self) -> str:
        lines = [f"== {self.scenario}", "   tried:"]
        lines += [f"     - {line}" for line in self.tried]
        if self.expected:
            lines.append(
                f"   plays: expected {self.expected}, played {self.played} "
                f"({self.late} late), not played with a reason {sum(self.not_played.values())}, "
                f"duplicates {self.duplicates}, silent misses {self.silent}"
            )
            for reason, count in sorted(self.not_played.items()):
                lines.append(f"     {count} x {reason}")
        lines += [f"   PROBLEM: {p}" for p in self.problems]
        lines.append(f"   verdict: {'OK, nothing lost or doubled' if self.ok else 'FAILED'}")
        return "\n".join(lines)


def tally(instance: Instance, verdict: Verdict, start: datetime, end: datetime) -> None:
    """Hold every play the plan promised in [start, end) against what happened to it.

    The plan (schedules.plan, the same function the scheduler uses) is the promise. Each
    promised play must have exactly one occurrence, which either played, started exactly
    once, or did not play with a stored reason. Anything else is a silent miss; two
    starts are a duplicate.
    """
    from broadcaster.onair.schedules import plan

    with Session(instance.engine) as session:
        promised = {(p.schedule.id, p.station.id, p.at) for p in plan(session, start, end)}
        occurrences = instance.occurrences(start, end)
        starts = Counter(
            e.occurrence_id
            for e in session.exec(
                select(PlayEvent).where(PlayEvent.kind.in_(("started", "confirmed")))
            )
        )
        versions = {
            v.id: v.status for v in session.exec(select(ScriptVersion))
        }  # only approved versions may be on air
    by_key: dict[tuple, list[Occurrence]] = {}
    for o in occurrences:
        by_key.setdefault((o.schedule_id, o.station_id, o.at), []).append(o)
    verdict.expected += len(promised)
    for key in sorted(promised, key=lambda k: (k[2], k[1], k[0])):
        found = by_key.get(key, [])
        if len(found) != 1:
            verdict.silent += 1
            verdict.problems.append(f"play {key[2].isoformat()} at station {key[1]}: {len(found)}")
            continue
        occurrence = found[0]
        verdict.duplicates += starts[occurrence.id] > 1
        if occurrence.status == OccurrenceStatus.PLAYED:
            verdict.played += 1
            verdict.late += bool(occurrence.late)
            if starts[occurrence.id] == 0:
                verdict.problems.append(f"occurrence {occurrence.id} played without a start")
        elif occurrence.status in NOT_PLAYED and occurrence.reason:
            verdict.not_played[f"{occurrence.status}: {occurrence.reason}"] += 1
        else:
            verdict.silent += 1
            verdict.problems.append(
                f"occurrence {occurrence.id} at {occurrence.at.isoformat()} left "
                f"{occurrence.status!s} with reason {occurrence.reason!r}"
            )
        if starts[occurrence.id] and versions.get(occurrence.version_id) != "approved":
            verdict.problems.append(f"occurrence {occurrence.id} aired an unapproved version")
    extra = [o for o in occurrences if (o.schedule_id, o.station_id, o.at) not in promised]
    for occurrence in extra:
        if starts[occurrence.id]:
            verdict.problems.append(f"occurrence {occurrence.id} played but was never planned")


# --- the web ---------------------------------------------------------------------------


def http_get(url: str, timeout: float = 30, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


class Browser:
    """A logged-in web user over real HTTP: cookies, CSRF token, the login form."""

    def __init__(self, base: str) -> None:
        import http.cookiejar

        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str, timeout: float = 30) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=timeout) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def post_login(self, username: str = "admin", password: str = PASSWORD) -> tuple[int, str]:
        """The login form filled in and sent; (status, page)."""
        import re
        from urllib.parse import urlencode

        _, page = self.get("/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if token is None:
            raise ChaosError("no CSRF token on the login page")
        data = urlencode(
            {"username": username, "password": password, "csrf_token": token.group(1)}
        ).encode()
        try:
            with self.opener.open(self.base + "/login", data=data, timeout=30) as response:
                if "/login" in response.url:
                    return 401, response.read().decode("utf-8", "replace")
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def login(self, username: str = "admin", password: str = PASSWORD) -> None:
        status, _ = self.post_login(username, password)
        if status != 200:
            raise ChaosError(f"login as {username} failed: HTTP {status}")


class SQLiteOutage:
    """The database refusing work: another connection holds its write lock.

    Every writer waits busy_timeout (10 s) and then gets "database is locked". SQLite in
    WAL mode never blocks readers, and it cannot be locked against them while other
    processes hold it open (each keeps a shared lock), so pages that only read keep
    working. A PostgreSQL variant would stop the server, which refuses both.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection = None

    @property
    def active(self) -> bool:
        return self._connection is not None

    def begin(self) -> None:
        import sqlite3

        self._connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._connection.execute("BEGIN IMMEDIATE")
        self._connection.execute("UPDATE station SET code = code WHERE id = 1")

    def end(self) -> None:
        self._connection.execute("ROLLBACK")
        self._connection.close()
        self._connection = None


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HangingTTS:
    """Google's TTS endpoint standing in on loopback: TLS (a throw-away trusted CA), reads
    each request, never answers. Nothing leaves the machine."""

    def __init__(self, folder: Path) -> None:
        import socket
        import ssl
        import threading

        import trustme

        ca = trustme.CA()
        self.ca_bundle = folder / "tts-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_bundle))
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(self._context)
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.url = f"https://127.0.0.1:{self._socket.getsockname()[1]}"
        self.requests = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="hanging-tts").start()

    def _accept(self) -> None:
        import threading

        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._hold, args=(connection,), daemon=True).start()

    def _hold(self, connection) -> None:
        try:
            with self._context.wrap_socket(connection, server_side=True) as tls:
                if tls.recv(65536):
                    with self._lock:
                        self.requests += 1
                self._stop.wait()  # the answer that never comes
        except OSError:
            pass  # the client gave up: what it should do

    def close(self) -> None:
        self._stop.set()
        self._socket.close()

"""The database a test run uses: SQLite files (default) or a throwaway PostgreSQL cluster.

BROADCASTER_TEST_DATABASE=postgresql runs the suite against PostgreSQL: the run starts its
own cluster (initdb into a temporary folder, a free port on 127.0.0.1, the socket in that
folder), builds each template database once and gives every test a copy made with
CREATE DATABASE ... TEMPLATE, then stops the cluster and deletes the folder.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

BACKEND_ENV = "BROADCASTER_TEST_DATABASE"
BACKENDS = ("sqlite", "postgresql")
PG_USER = "postgres"  # the cluster's superuser; also the system user that runs it as root


def backend_name() -> str:
    name = os.environ.get(BACKEND_ENV, "sqlite").strip().lower() or "sqlite"
    if name not in BACKENDS:
        raise RuntimeError(f"{BACKEND_ENV}={name!r}: use one of {', '.join(BACKENDS)}")
    return name


class SqliteDatabases:
    """Each database is a file; a copy is a file copy."""

    name = "sqlite"

    def create(self, folder: Path, *, template: bool = False) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'broadcaster.db'}"

    def copy(self, source_url: str, folder: Path, *, template: bool = False) -> str:
        target = self.create(folder)
        # Callers dispose of their engines first: the last connection checkpoints the WAL.
        shutil.copyfile(make_url(source_url).database, make_url(target).database)
        return target

    def drop_created(self) -> None:
        """Files go with the test's temporary folder."""

    def close(self) -> None:
        pass


class PostgresDatabases:
    """Databases in one throwaway cluster; a copy is CREATE DATABASE ... TEMPLATE."""

    name = "postgresql"

    def __init__(self, cluster: PostgresCluster) -> None:
        self.cluster = cluster
        self._numbers = itertools.count(1)
        self._admin = None
        self._created: list[str] = []  # by the current test; templates live for the run

    def _execute(self, sql: str) -> None:
        import psycopg

        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.cluster.dsn("postgres"), autocommit=True)
        self._admin.execute(sql)

    def _new_name(self, template: bool) -> str:
        name = f"{'template' if template else 't'}{os.getpid()}_{next(self._numbers)}"
        if not template:
            self._created.append(name)
        return name

    def create(self, folder: Path, *, template: bool = False) -> str:
        name = self._new_name(template)
        self._execute(f'CREATE DATABASE "{name}"')
        return self.cluster.url(name)

    def copy(self, source_url: str, folder: Path, *, template: bool = False) -> str:
        name = self._new_name(template)
        # FILE_COPY: with fsync off its checkpoints cost nothing, and for databases of a
        # few megabytes it is several times faster than logging every page (WAL_LOG).
        source = make_url(source_url).database
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY')
        return self.cluster.url(name)

    def drop_created(self) -> None:
        """Drop the databases made since the last call (one test's), not the templates."""
        while self._created:
            # FORCE: a connection the test leaked (or a child process it left behind)
            # must not keep the database, and its disk, for the rest of the run.
            self._execute(f'DROP DATABASE IF EXISTS "{self._created.pop()}" WITH (FORCE)')

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
        self.cluster.stop()


def pg_bindir() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, or Debian's newest /usr/lib/postgresql/N."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    if not candidates:
        return None
    newest = max(candidates, key=lambda p: int(re.search(r"/(\d+)/bin/", p).group(1)))
    return Path(newest).parent


class PostgresCluster:
    """A PostgreSQL server for one test run, in a temporary folder it deletes on stop().

    PostgreSQL refuses to run as root: as root, initdb and the server run as the system
    user `postgres` (created by Debian's package).
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.run_as = self._system_user()
        self.folder = Path(tempfile.mkdtemp(prefix="broadcaster-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = 0
        self._running = False
        try:
            if self.run_as is not None:
                os.chown(self.folder, self.run_as.pw_uid, self.run_as.pw_gid)
            self._run(
                "initdb",
                "--pgdata",
                str(self.data),
                "--username",
                PG_USER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                # C collation: text sorts by code point, as on SQLite.
                "--no-locale",
                "--no-sync",
            )
            self._start()
        except BaseException:
            self.stop()
            raise
        # Also stopped if the run ends without its session teardown (an internal error).
        atexit.register(self.stop)

    @staticmethod
    def _system_user() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(PG_USER)
        except KeyError:
            raise RuntimeError(
                "PostgreSQL will not run as root and there is no 'postgres' user to run it "
                "as: install the Debian package postgresql (it creates the user)"
            ) from None

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess:
        user = {}
        if self.run_as is not None:
            user = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        result = subprocess.run(
            [str(self.bindir / program), *args],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
            **user,
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}{log}")
        return result

    def _start(self) -> None:
        from tests.helpers import free_port

        for attempt in range(3):  # the free port may be taken before the server binds it
            self.port = free_port()
            options = {
                "listen_addresses": "'127.0.0.1'",
                "port": str(self.port),
                "unix_socket_directories": f"'{self.folder}'",
                # Throwaway data: durability costs time and buys nothing here.
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "max_connections": "300",
            }
            with open(self.data / "postgresql.auto.conf", "a", encoding="utf-8") as conf:
                conf.writelines(f"{key} = {value}\n" for key, value in options.items())
            try:
                self._run(
                    "pg_ctl",
                    "--pgdata",
                    str(self.data),
                    "--log",
                    str(self.log),
                    "--wait",
                    "--timeout",
                    "60",
                    "start",
                )
            except RuntimeError:
                if attempt == 2:
                    raise
                time.sleep(0.2)
                continue
            self._running = True
            return

    # Clients connect through the socket: TCP connections would each take an ephemeral
    # port, the very range free_port() hands to the test servers.
    def dsn(self, database: str) -> str:
        return f"host={self.folder} port={self.port} user={PG_USER} dbname={database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@/{database}?host={self.folder}&port={self.port}"

    def stop(self) -> None:
        try:
            if self._running:
                # immediate: nothing in a throwaway cluster is worth a shutdown checkpoint.
                self._run(
                    "pg_ctl", "--pgdata", str(self.data), "--mode", "immediate", "--wait", "stop"
                )
                self._running = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def open_databases() -> SqliteDatabases | PostgresDatabases:
    """The databases of this test run, as BROADCASTER_TEST_DATABASE chooses."""
    if backend_name() == "sqlite":
        return SqliteDatabases()
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError(
            f"{BACKEND_ENV}=postgresql but PostgreSQL is not installed "
            "(Debian: apt-get install postgresql)"
        )
    return PostgresDatabases(PostgresCluster(bindir))

"""Backing up a whole instance, and the archive format that restore reads back.

An archive is a gzip'd tar holding a consistent database snapshot (SQLite's online backup
API, or pg_dump's custom format for PostgreSQL), every audio file the snapshot refers to,
the generated secret key, uploaded chimes and profile files, and last a manifest.json
with the size and sha256 of every member. Restoring it is broadcaster.ops.restore.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from broadcaster.audio.objectstore import RemoteError
from broadcaster.audio.render import store_for
from broadcaster.core import db
from broadcaster.core.config import Settings
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.fsutil import replacing

FORMAT = "broadcaster-backup"
VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/broadcaster.sqlite3"
PG_MEMBER = "database/broadcaster.pgdump"
CHUNK = 1 << 20


class BackupError(BroadcasterError):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass
class Summary:
    users: int = 0
    stations: int = 0
    scripts: int = 0
    audio: int = 0
    files: int = 0
    missing_audio: list[str] = field(default_factory=list)


# --- where things live ------------------------------------------------------------------


def _kind(settings: Settings) -> str:
    name = make_url(settings.database_url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {name} database (only SQLite and PostgreSQL)")
    return name


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        raise BackupError("the SQLite database is in memory: there is nothing to back up")
    return Path(database)


def _libpq_url(settings: Settings) -> str:
    # pg_dump speaks libpq, which knows postgresql:// but not SQLAlchemy's +psycopg.
    url = make_url(settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _instance_files(settings: Settings) -> dict[str, Path]:
    """Archive name → file, for the instance files a restored site needs."""
    found: dict[str, Path] = {}
    key = settings.instance_dir / "secret_key"
    if key.is_file():
        found["instance/secret_key"] = key
    for folder, prefix in (
        (settings.instance_dir / "jingles", "instance/jingles"),
        (settings.profiles_dir, "profiles"),
    ):
        if folder is not None and folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    found[f"{prefix}/{path.relative_to(folder).as_posix()}"] = path
    return found


# --- backup -----------------------------------------------------------------------------


class _Hashing:
    """A file object that hashes what tarfile reads from it."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _add(archive: tarfile.TarFile, name: str, path: Path, entries: list[dict]) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mtime = int(path.stat().st_mtime)
    info.mode = 0o600
    with path.open("rb") as handle:
        hashing = _Hashing(handle)
        archive.addfile(info, hashing)
    entries.append({"name": name, "size": info.size, "sha256": hashing.digest.hexdigest()})


def _snapshot(settings: Settings, kind: str, folder: Path) -> tuple[str, Path]:
    if kind == "sqlite":
        source_path = _sqlite_path(settings)
        if not source_path.is_file():
            raise BackupError(f"the database {source_path} does not exist")
        target = folder / "snapshot.sqlite3"
        # The online backup API copies a consistent state while the web and the scheduler
        # keep writing; a plain file copy could catch a half-applied WAL.
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"cannot read the database {source_path}: {exc}") from exc
        finally:
            copy.close()
            source.close()
        return SQLITE_MEMBER, target
    target = folder / "snapshot.pgdump"
    _run_pg(
        [
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--file",
            str(target),
            "--dbname",
            _libpq_url(settings),
        ],
        "pg_dump",
    )
    return PG_MEMBER, target


def _run_pg(command: list[str], tool: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise BackupError(
            f"{tool} is not installed (Debian package postgresql-client, the server's version)"
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[-500:]}")


def _audio_rows(settings: Settings, kind: str, snapshot: Path) -> list:
    # SQLite: the audio the snapshot names. PostgreSQL: the live table just after the dump;
    # audio rendered in between is harmless extra, as files are immutable.
    url = f"sqlite:///{snapshot}" if kind == "sqlite" else settings.database_url
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT path, size, sha256 FROM audiofile"))
            return [SimpleNamespace(path=r[0], size=r[1], sha256=r[2]) for r in rows]
    except SQLAlchemyError as exc:
        raise BackupError(
            f"the database has no audio table (run `broadcaster db upgrade`): {exc}"
        ) from exc
    finally:
        engine.dispose()


def _revision(settings: Settings, kind: str, snapshot: Path) -> str | None:
    url = f"sqlite:///{snapshot}" if kind == "sqlite" else settings.database_url
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def backup(settings: Settings, output: Path) -> Summary:
    """Write the archive to `output` (by rename, so a failed backup leaves no file)."""
    output = Path(output)
    if output.exists():
        raise BackupError(f"{output} already exists; choose a new file name")
    if not output.parent.is_dir():
        raise BackupError(f"the folder {output.parent} does not exist")
    kind = _kind(settings)
    store = store_for(settings)
    summary = Summary()
    entries: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="broadcaster-backup-") as scratch:
        member, snapshot = _snapshot(settings, kind, Path(scratch))
        # 0600: the archive holds the secret key and every password hash.
        with replacing(output, mode=0o600) as partial:
            with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
                _add(archive, member, snapshot, entries)
                for row in _audio_rows(settings, kind, snapshot):
                    try:
                        path = store.local(row)
                    except RemoteError as exc:
                        raise BackupError(str(exc)) from exc
                    if path is None:
                        # Renders come back on demand; a backup must not fail for one.
                        summary.missing_audio.append(row.path)
                        continue
                    _add(archive, f"audio/{row.path}", path, entries)
                    summary.audio += 1
                for name, path in _instance_files(settings).items():
                    _add(archive, name, path, entries)
                manifest = {
                    "format": FORMAT,
                    "version": VERSION,
                    "created_at": utcnow().isoformat(),
                    "database": kind,
                    "alembic_revision": _revision(settings, kind, snapshot),
                    "files": entries,
                    "missing_audio": summary.missing_audio,
                }
                data = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(data)
                info.mtime = int(utcnow().timestamp())
                info.mode = 0o600
                archive.addfile(info, io.BytesIO(data))
    summary.files = len(entries)
    return summary

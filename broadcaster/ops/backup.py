"""Backup and restore of a whole instance: database, audio store and the instance files.

An archive is a gzip'd tar holding a consistent database snapshot (SQLite's online backup
API, or pg_dump's custom format for PostgreSQL), every audio file the snapshot refers to,
the generated secret key, uploaded chimes and profile files, and last a manifest.json
with the size and sha256 of every member. Restore checks everything before it changes
anything, so a damaged archive leaves the target as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

from sqlalchemy import func, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from broadcaster.audio.objectstore import RemoteError
from broadcaster.audio.render import store_for
from broadcaster.core import db
from broadcaster.core.config import Settings
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.fsutil import fsync_directory, fsync_file
from broadcaster.core.models import Script, Station, User

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


def _destination(settings: Settings, name: str) -> Path:
    """Where an archive member goes in this instance (names were checked beforehand)."""
    if name.startswith("audio/"):
        return settings.audio_dir / name.removeprefix("audio/")
    if name.startswith("instance/"):
        return settings.instance_dir / name.removeprefix("instance/")
    if name.startswith("profiles/") and settings.profiles_dir is not None:
        return settings.profiles_dir / name.removeprefix("profiles/")
    raise BackupError(f"the archive holds {name!r}, which has no place in an instance")


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
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    with tempfile.TemporaryDirectory(prefix="broadcaster-backup-") as scratch:
        member, snapshot = _snapshot(settings, kind, Path(scratch))
        try:
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
            fsync_file(partial)
            os.replace(partial, output)
            fsync_directory(output.parent)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    summary.files = len(entries)
    return summary


# --- restore ----------------------------------------------------------------------------


def _counts(settings: Settings) -> Summary:
    """What the instance holds; an unmigrated or absent database holds nothing."""
    summary = Summary()
    # Opening a missing SQLite file would create it: an absent database is simply empty.
    if _kind(settings) != "sqlite" or _sqlite_path(settings).exists():
        engine = db.make_engine(settings.database_url)
        try:
            if {"user", "station", "script"} <= set(inspect(engine).get_table_names()):
                with Session(engine) as session:
                    for name, model in (
                        ("users", User),
                        ("stations", Station),
                        ("scripts", Script),
                    ):
                        count = session.exec(select(func.count()).select_from(model)).one()
                        setattr(summary, name, count)
        except SQLAlchemyError as exc:
            raise BackupError(f"cannot read the target database: {exc}") from exc
        finally:
            engine.dispose()
    if settings.audio_dir.is_dir():
        summary.audio = sum(1 for _ in settings.audio_dir.glob("*/*.mp3"))
    jingles = settings.instance_dir / "jingles"
    summary.files = sum(1 for p in jingles.rglob("*") if p.is_file()) if jingles.is_dir() else 0
    return summary


def _read_manifest(archive: tarfile.TarFile, source: Path) -> dict:
    try:
        member = archive.getmember(MANIFEST)
        manifest = json.load(archive.extractfile(member))
    except KeyError:
        raise BackupError(f"{source} is not a Broadcaster backup (no {MANIFEST})") from None
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{source}: {MANIFEST} is unreadable; the archive is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is not a Broadcaster backup")
    if manifest.get("version") != VERSION:
        raise BackupError(
            f"{source} is a version {manifest.get('version')} backup; this Broadcaster "
            f"reads version {VERSION}"
        )
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        raise BackupError(f"{source}: the manifest lists no files; the archive is damaged")
    return manifest


def _safe_name(name: object) -> str:
    if not isinstance(name, str):
        raise BackupError("the manifest names a file that is not a string")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name.startswith("."):
        raise BackupError(f"the archive holds an unsafe path {name!r}")
    return name


def _stage(archive: tarfile.TarFile, manifest: dict, staging: Path, source: Path) -> list[str]:
    """Extract every listed member into `staging`, checking size and sha256."""
    expected = {}
    for entry in manifest["files"]:
        if not isinstance(entry, dict):
            raise BackupError(f"{source}: the manifest is malformed")
        expected[_safe_name(entry.get("name"))] = entry
    seen = set()
    for member in archive:
        if member.name == MANIFEST:
            continue
        if member.name not in expected:
            raise BackupError(f"{source} holds {member.name!r}, which its manifest does not list")
        if not member.isfile():
            raise BackupError(f"{source}: {member.name!r} is not a regular file")
        entry = expected[member.name]
        target = staging / member.name
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with archive.extractfile(member) as stream, target.open("wb") as out:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if size != entry.get("size") or digest.hexdigest() != entry.get("sha256"):
            raise BackupError(
                f"{source}: {member.name} does not match its checksum; the archive is damaged"
            )
        seen.add(member.name)
    absent = sorted(set(expected) - seen)
    if absent:
        raise BackupError(f"{source} lacks {len(absent)} listed files (first: {absent[0]})")
    return sorted(seen)


def restore(settings: Settings, source: Path, *, force: bool = False) -> Summary:
    """Restore `source` into this instance; everything is checked before anything changes."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    kind = _kind(settings)
    before = _counts(settings)
    if not force and (before.users or before.stations or before.scripts or before.audio):
        raise BackupError(
            f"the target instance is not empty ({before.users} users, {before.stations} "
            f"stations, {before.scripts} scripts, {before.audio} audio files); restore into "
            "an empty instance, or pass --force to replace it"
        )
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=settings.instance_dir))
    try:
        try:
            with tarfile.open(source, "r:gz") as archive:
                manifest = _read_manifest(archive, source)
                names = _stage(archive, manifest, staging, source)
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise BackupError(f"{source} is corrupted or not a Broadcaster backup ({exc})") from exc
        except OSError as exc:
            if exc.errno is None:  # gzip.BadGzipFile: the archive, not our disk
                raise BackupError(
                    f"{source} is corrupted or not a Broadcaster backup ({exc})"
                ) from exc
            raise BackupError(f"cannot restore: {exc}") from exc
        wanted = manifest.get("database")
        member = SQLITE_MEMBER if wanted == "sqlite" else PG_MEMBER
        if wanted != kind:
            raise BackupError(
                f"this backup holds a {wanted} database but the target is {kind}; set "
                "BROADCASTER_DATABASE_URL to a database of the same kind"
            )
        if member not in names:
            raise BackupError(f"{source} holds no database snapshot")
        for name in names:
            if name != member:
                _destination(settings, name)  # every member has a place, checked up front
        _apply(settings, kind, staging, member, [n for n in names if n != member])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _counts(settings)


def _apply(settings: Settings, kind: str, staging: Path, member: str, names: list[str]) -> None:
    """Put the staged files in place; on failure, undo what was placed."""
    # (target, its previous version moved aside or None, whether to keep that aside)
    placed: list[tuple[Path, Path | None, bool]] = []

    def put(staged: Path, target: Path, *, keep_previous: bool = False) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        previous = None
        if target.exists():
            previous = target.with_name(f"{target.name}.before-restore")
            os.replace(target, previous)
        placed.append((target, previous, keep_previous))
        # A fresh copy beside the target, then a rename: the audio store may be on another
        # file system, and a new file takes the folder's group (nginx reads audio by it).
        temporary = target.with_name(f".{target.name}.restoring")
        try:
            shutil.copyfile(staged, temporary)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    try:
        if kind == "sqlite":
            database = _sqlite_path(settings)
            if database.exists():
                # Fold the WAL into the old file so the copy kept aside is whole.
                with sqlite3.connect(database) as old:
                    old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                old.close()
            for suffix in ("-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
            # The replaced database stays beside the new one after a forced restore:
            # the one way back from a mistaken --force.
            put(staging / member, database, keep_previous=True)
        else:
            _run_pg(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    "--exit-on-error",
                    "--dbname",
                    _libpq_url(settings),
                    str(staging / member),
                ],
                "pg_restore",
            )
        store = store_for(settings)
        for name in names:
            target = _destination(settings, name)
            put(staging / name, target)
            if name.startswith("audio/") and store.remote is not None:
                digest = hashlib.sha256(target.read_bytes()).hexdigest()
                store.publish(name.removeprefix("audio/"), digest)
    except BaseException as exc:
        for target, previous, _ in reversed(placed):
            target.unlink(missing_ok=True)
            if previous is not None:
                os.replace(previous, target)
        if isinstance(exc, RemoteError):
            raise BackupError(f"cannot restore: {exc}") from exc
        raise
    for _, previous, keep in placed:
        if previous is not None and not keep:
            previous.unlink(missing_ok=True)

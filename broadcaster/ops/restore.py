"""Restoring an instance from a backup archive (see broadcaster.ops.backup for the format).

Restore checks everything before it changes anything: the manifest, every member's size
and sha256, that each member has a place in this instance and that the database is of
the target's kind. Files are then put in place one by one, and on any failure those
already placed are undone, so a damaged archive leaves the target as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

from sqlalchemy import func, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from broadcaster.audio.objectstore import RemoteError
from broadcaster.audio.render import store_for
from broadcaster.core import db
from broadcaster.core.config import Settings
from broadcaster.core.fsutil import replacing
from broadcaster.core.models import Script, Station, User
from broadcaster.ops.backup import (
    CHUNK,
    FORMAT,
    MANIFEST,
    PG_MEMBER,
    SQLITE_MEMBER,
    VERSION,
    BackupError,
    Summary,
    _kind,
    _libpq_url,
    _run_pg,
    _sqlite_path,
)


def _destination(settings: Settings, name: str) -> Path:
    """Where an archive member goes in this instance (names were checked beforehand)."""
    if name.startswith("audio/"):
        return settings.audio_dir / name.removeprefix("audio/")
    if name.startswith("instance/"):
        return settings.instance_dir / name.removeprefix("instance/")
    if name.startswith("profiles/") and settings.profiles_dir is not None:
        return settings.profiles_dir / name.removeprefix("profiles/")
    raise BackupError(f"the archive holds {name!r}, which has no place in an instance")


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


def _open_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    """A regular file of the archive, opened; anything else is not a file we wrote."""
    stream = archive.extractfile(member)
    if stream is None:
        raise BackupError(f"{member.name} in the archive is not a regular file")
    return stream


def _read_manifest(archive: tarfile.TarFile, source: Path) -> dict:
    try:
        manifest = json.load(_open_member(archive, archive.getmember(MANIFEST)))
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
        with _open_member(archive, member) as stream, target.open("wb") as out:
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
        with replacing(target) as temporary:
            shutil.copyfile(staged, temporary)

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

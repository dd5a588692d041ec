"""The content-addressed audio store: where renders live, and collecting the unused ones.

Files are named <key>.mp3 (the key hashes everything that shaped the file) under
two-character folders and only ever appear by rename. With a remote bucket the folder
is a cache of it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from broadcaster.audio.objectstore import S3Remote, remote_for
from broadcaster.core.config import Settings
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import AudioFile


class AudioStore:
    """Files named <key>.mp3 under two-character folders, written by rename only.

    With a remote (S3-compatible object storage) the folder is a cache of the bucket:
    renders are uploaded before their record is saved, and `local()` fetches back a file
    this machine lacks.
    """

    def __init__(self, root: Path, remote: S3Remote | None = None) -> None:
        self.root = Path(root)
        self.remote = remote

    def relative(self, key: str) -> str:
        return f"{key[:2]}/{key}.mp3"

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def local(self, audio: AudioFile) -> Path | None:
        """The record's file on this machine (fetched from the remote if need be), or None.

        Raises RemoteError when the remote cannot be reached.
        """
        path = self.absolute(audio.path)
        if _intact(path, audio.size):
            return path
        if self.remote is not None and self.remote.fetch(audio.path, path, sha256=audio.sha256):
            return path
        return None

    def publish(self, relative: str, sha256: str) -> None:
        if self.remote is not None:
            self.remote.upload(relative, self.absolute(relative), sha256=sha256)

    def discard(self, relative: str) -> None:
        self.absolute(relative).unlink(missing_ok=True)
        if self.remote is not None:
            self.remote.delete(relative)


def _intact(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def collect_garbage(
    *,
    session: Session,
    store: AudioStore,
    retention: timedelta,
    keep_keys: set[str] = frozenset(),
    now: datetime | None = None,
) -> int:
    """Delete audio unused for `retention` and not in `keep_keys`; also stray files.

    Returns how many files were removed. Records go in the caller's transaction; files
    are removed first, as a record without a file is re-rendered on demand anyway.
    """
    cutoff = (now or utcnow()) - retention
    removed = 0
    stale = session.exec(select(AudioFile).where(AudioFile.last_used_at < cutoff)).all()
    known = {a.path for a in session.exec(select(AudioFile))}
    for audio in stale:
        if audio.key in keep_keys:
            continue
        store.discard(audio.path)
        known.discard(audio.path)
        session.delete(audio)
        removed += 1
    if store.root.is_dir():
        # Also ".<key>.mp3.*.tmp": what a render left when its process died mid-write.
        for path in [*store.root.glob("*/*.mp3"), *store.root.glob("*/.*.tmp")]:
            relative = f"{path.parent.name}/{path.name}"
            is_stray = relative not in known or path.name.startswith(".")
            try:
                modified = datetime.fromtimestamp(path.stat().st_mtime, cutoff.tzinfo)
            except FileNotFoundError:
                continue  # another process finished or removed it meanwhile
            if is_stray and modified < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def store_for(settings: Settings) -> AudioStore:
    return AudioStore(settings.audio_dir, remote_for(settings))

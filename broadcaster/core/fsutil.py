"""Durable file writes: the one way the server, the renderer and the agent replace a file.

Readers (a player, nginx, a backup) may open a file at any moment and power cuts are
common where the loudspeakers are, so a file is written beside its final name, synced,
renamed over it and the rename synced: a reader sees the old file or the new one, never
a half-written one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable.

    Without it the rename itself may be lost on power failure, even though the data was
    synced. Some filesystems refuse to open or fsync directories; that is harmless.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(target: str | os.PathLike[str], *, mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside `target`; when the block succeeds it durably replaces it.

    The caller writes the temporary file any way it likes (open it, hand it to ffmpeg).
    If the block raises, the temporary file is removed and `target` is left as it was.
    `mode` defaults to the target's current mode, else 0644: mkstemp makes files 0600,
    and the player or nginx usually runs as another user.
    """
    final = Path(target)
    fd, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        if mode is None:
            mode = final.stat().st_mode & 0o7777 if final.exists() else 0o644
        os.chmod(temporary, mode)
        fsync_file(temporary)
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    fsync_directory(final.parent)


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data`: readers see the old file or the new one, never part."""
    with replacing(path) as temporary:
        temporary.write_bytes(data)

"""Storing uploaded chimes: the upload copied with a size limit, linked under a free name.

Chimes live in instance/jingles/<slug>.wav. A finished chime appears by a hard link to a
fully written, synced file and is never replaced; temporary files a killed process left
behind are swept on the next upload.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from broadcaster.audio.jinglecheck import JingleError
from broadcaster.audio.profiles import CUSTOM_PREFIX, JINGLES_DIR
from broadcaster.core.config import Settings

MAX_BYTES = 2 * 1024 * 1024
CHUNK = 64 * 1024
STALE_TEMP_S = 3600
SLUG_MAX = 40
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
FILE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.wav$")
UPLOAD_PREFIX = ".upload-"
OUTPUT_PREFIX = ".normalized-"


@dataclass(frozen=True)
class Jingle:
    source: str  # "shipped" or "custom"
    filename: str
    path: Path
    duration_s: float | None
    lufs: float | None
    uses: tuple[tuple[str, str], ...]  # (profile, chime key) pairs that name this file

    @property
    def name(self) -> str:
        return self.filename.removesuffix(".wav")

    @property
    def reference(self) -> str:
        """How a profile names this chime."""
        return self.filename if self.source == "shipped" else CUSTOM_PREFIX + self.filename


def custom_dir(settings: Settings) -> Path:
    """The deployment's folder of uploaded chimes (pass it to load_profiles as custom_dir)."""
    return settings.instance_dir / "jingles"


def _remove(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _sweep_stale(folder: Path) -> None:
    """Temporary files a killed process left behind (never a live upload's: those are new)."""
    cutoff = time.time() - STALE_TEMP_S
    for prefix in (UPLOAD_PREFIX, OUTPUT_PREFIX):
        for path in folder.glob(prefix + "*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()


def _copy_limited(stream: IO[bytes], folder: Path) -> tuple[Path, int]:
    """The upload in a temporary file; reading stops at MAX_BYTES + 1, the file is then gone."""
    fd, name = tempfile.mkstemp(prefix=UPLOAD_PREFIX, dir=folder)
    path = Path(name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            while size <= MAX_BYTES:
                chunk = stream.read(min(CHUNK, MAX_BYTES + 1 - size))
                if not chunk:
                    break
                handle.write(chunk)
                size += len(chunk)
        if size > MAX_BYTES:
            raise JingleError("too_large", f"the file is larger than {MAX_BYTES} bytes")
        if size == 0:
            raise JingleError("empty", "the file is empty")
    except BaseException:
        _remove(path)
        raise
    return path, size


def _link_unique(source: Path, folder: Path, slug: str) -> Path:
    """Give `source` the first free name slug.wav, slug-2.wav, ... without ever replacing."""
    for number in range(1, 1000):
        suffix = "" if number == 1 else f"-{number}"
        target = folder / f"{slug[: SLUG_MAX - len(suffix)].rstrip('-')}{suffix}.wav"
        try:
            os.link(source, target)
        except FileExistsError:
            continue
        return target
    raise JingleError("bad_name", "too many chimes with this name")


def _listed(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.glob("*.wav")) if FILE_RE.match(p.name)}


def _source_dirs(settings: Settings) -> dict[str, Path]:
    return {"shipped": JINGLES_DIR, "custom": custom_dir(settings)}


def find_file(settings: Settings, source: str, filename: str) -> Path | None:
    """A chime file by its folder and name, only if it is one the listing shows."""
    folder = _source_dirs(settings).get(source)
    if folder is None or not FILE_RE.match(filename):
        return None
    return _listed(folder).get(filename)


def _custom_path(settings: Settings, name: str) -> Path:
    if not SLUG_RE.match(name):
        raise JingleError("not_found", f"no uploaded chime named {name!r}")
    path = _listed(custom_dir(settings)).get(f"{name}.wav")
    if path is None:
        raise JingleError("not_found", f"no uploaded chime named {name!r}")
    return path

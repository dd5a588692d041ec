"""Which plays reached the instant of their sound: the one fact a crash must not blur.

An owner of a playout queue records READY durably before the instant (up to LEAD ahead)
and "started" once the sound has left. A process killed in between left a play that may
or may not have sounded. The queue appends the play's id to this journal in the instant
before it releases the sound; after a crash, a READY play missing from the journal never
sounded and may still play (within its grace window), while one in it is reported cut
short and never played again.

One write(2) of a short line to an O_APPEND file: microseconds, so the instant is kept.
No fsync at the instant (it would cost milliseconds of lateness): a killed process loses
nothing the kernel already holds. A power cut may lose the last line, but it also cut the
loudspeaker within milliseconds of the sound; from the owner's durable "started" on, the
journal no longer decides.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class ReleaseJournal:
    """mark() from any playout thread; released(), begin() and close() only while no
    queue can release (at start-up before the queues play, and after they closed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._lock = threading.Lock()

    def released(self) -> set[int] | None:
        """The ids a previous process released; None when there is no journal to tell
        (first run, a moved installation): then a READY play must count as sounded."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return None
        # A kill cannot cut a line (one small write to an O_APPEND file is whole or
        # absent); a cut one means a power cut or a full disk, and its play may have
        # sounded: such a journal tells nothing.
        lines = text.split("\n")
        if lines[-1]:
            log.warning("playout: %s ends in a cut line; trusting none of it", self.path)
            return None
        try:
            return {int(line) for line in lines if line}
        except ValueError:
            log.warning("playout: %s is not a release journal; trusting none of it", self.path)
            return None

    def begin(self) -> None:
        """Start an empty journal, once what the previous one told has been settled."""
        with self._lock:
            self._close()
            self._fd = self._open(os.O_TRUNC)

    def mark(self, occurrence_id: int) -> None:
        """Just before the sound is released. A journal that cannot be written
        is logged and the play goes on: a crash then counts the play as sounded."""
        try:
            fd = self._fd
            if fd is None:
                with self._lock:
                    if self._fd is None:
                        self._fd = self._open(0)
                    fd = self._fd
            # No lock around the write: one write(2) to an O_APPEND file is whole, and a
            # lock would line up the stations due at the same instant behind each other.
            os.write(fd, b"%d\n" % occurrence_id)
        except OSError as exc:
            log.error("playout: cannot write %s: %s", self.path, exc)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _open(self, extra: int) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | extra, 0o644)

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

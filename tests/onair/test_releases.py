"""The release journal: written in the instant before a sound, read after a crash."""

import threading
from datetime import UTC, datetime, timedelta

from broadcaster.onair.players import NullPlayer
from broadcaster.onair.playout import Cue, PlayoutQueue
from broadcaster.onair.releases import ReleaseJournal


class JournalReadingPlayer(NullPlayer):
    """What the journal said at the moment the sound was released."""

    def __init__(self, journal: ReleaseJournal) -> None:
        super().__init__(time_scale=0.01)
        self.journal = journal
        self.seen_at_release: set[int] | None = None

    def release(self) -> None:
        self.seen_at_release = self.journal.released()
        super().release()


def test_a_play_is_in_the_journal_before_its_sound_is_released(tmp_path):
    journal = ReleaseJournal(tmp_path / "released.log")
    journal.begin()
    player = JournalReadingPlayer(journal)
    started = threading.Event()

    def on_event(kind, item, detail):
        if kind == "started":
            started.set()

    (tmp_path / "a.mp3").write_bytes(b"ID3")
    queue = PlayoutQueue(player, on_event, journal=journal)
    try:
        queue.submit(
            Cue(
                at=datetime.now(UTC) + timedelta(milliseconds=200),
                rank=0,
                schedule_id=1,
                occurrence_id=42,
                path=tmp_path / "a.mp3",
                duration_s=1.0,
            )
        )
        assert started.wait(10)
    finally:
        queue.close()
        journal.close()
    assert player.seen_at_release == {42}


def test_a_journal_tells_nothing_when_missing_or_cut_and_starts_empty(tmp_path):
    path = tmp_path / "released.log"
    journal = ReleaseJournal(path)
    assert journal.released() is None  # a first run: a READY play counts as sounded
    journal.mark(7)
    journal.mark(8)
    assert journal.released() == {7, 8}
    journal.begin()
    assert journal.released() == set()
    journal.close()
    path.write_text("7\n8")  # a power cut in the middle of a line
    assert journal.released() is None
    path.write_text("7\nnot an id\n")
    assert journal.released() is None

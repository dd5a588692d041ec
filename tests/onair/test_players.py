"""Punctual playout: plays prepared ahead and released at their instant, real players.

aplay plays into ALSA file sinks (tests/alsasink.py: a `type file` PCM writing into a
FIFO, timestamped by a reader process), since the machine has no sound card. Bounds on
time are loose on purpose: what must hold is "not before its instant" and "all of it".
"""

import re
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broadcaster.core.priority import Priority
from broadcaster.onair.players import BYTES_PER_SECOND, AplayPlayer, NullPlayer
from broadcaster.onair.playout import READY, Cue, PlayoutQueue
from tests.alsasink import FileSinks

LATENESS = re.compile(r"lateness \d+\.\d ms")


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "tone.mp3"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:d=0.6"]
        + ["-ar", "44100", "-ac", "1", str(path)],
        check=True,
    )
    return path


@pytest.fixture
def sinks(tmp_path, monkeypatch):
    with FileSinks(tmp_path / "sinks", ["a"]) as sinks:
        for name, value in sinks.env.items():
            monkeypatch.setenv(name, value)
        yield sinks


class Log:
    """Every event the queue reports, with when it came and the item's release time."""

    def __init__(self, ready=None) -> None:
        self.events: list[tuple[str, int, str, datetime | None]] = []
        self.changed = threading.Condition()
        self.ready = ready

    def __call__(self, kind, item, detail):
        with self.changed:
            self.events.append((kind, item.occurrence_id, detail, item.released_at))
            self.changed.notify_all()
        if kind == READY and self.ready is not None:
            return self.ready(item)
        return None

    def wait_for(self, count_ends: int, timeout: float = 15) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.ends()) >= count_ends, timeout), (
                self.events
            )

    def ends(self):
        return [e for e in self.events if e[0] in ("finished", "failed", "interrupted")]

    def kinds(self, occurrence_id: int) -> list[str]:
        return [kind for kind, oid, _, _ in self.events if oid == occurrence_id]

    def detail(self, kind: str, occurrence_id: int) -> str:
        return next(d for k, oid, d, _ in self.events if k == kind and oid == occurrence_id)


def cue(path, at, occurrence_id=1, priority=Priority.NORMAL, duration_s=0.6) -> Cue:
    return Cue(
        at=at,
        rank=-priority,
        schedule_id=occurrence_id,
        occurrence_id=occurrence_id,
        path=path,
        duration_s=duration_s,
    )


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_a_play_handed_over_early_is_released_at_its_instant_not_before(tone):
    log = Log()
    queue = PlayoutQueue(NullPlayer(time_scale=0.1), log)
    item = cue(tone, soon(1.0))
    try:
        queue.submit(item)
        log.wait_for(1)
    finally:
        queue.close()
    assert log.kinds(1) == [READY, "started", "finished"]
    assert item.released_at is not None and item.released_at >= item.at
    assert LATENESS.fullmatch(log.detail("started", 1)), log.events


def test_the_first_audio_reaches_the_alsa_sink_after_the_instant_and_all_of_it_plays(tone, sinks):
    log = Log()
    queue = PlayoutQueue(AplayPlayer(sinks.device("a")), log)
    item = cue(tone, soon(1.5))
    try:
        queue.submit(item)
        log.wait_for(1)
    finally:
        queue.close()
    assert log.kinds(1) == [READY, "started", "finished"], log.events
    (heard,) = wait_heard(sinks, "a", 1)
    assert heard.first_at >= item.at.timestamp()
    assert heard.first_at - item.at.timestamp() < 1.0  # on time, not a second late
    assert heard.nbytes >= 0.6 * BYTES_PER_SECOND  # the whole tone, not its first second
    assert LATENESS.fullmatch(log.detail("started", 1))


def test_a_file_gone_before_it_could_be_prepared_fails_with_why_and_the_next_one_plays(
    tone, tmp_path
):
    gone = tmp_path / "gone.mp3"
    gone.write_bytes(tone.read_bytes())
    log = Log()
    queue = PlayoutQueue(NullPlayer(time_scale=0.1), log)
    try:
        gone.unlink()  # e.g. the cache collected it after the agent's check
        queue.submit(cue(gone, soon(0.3), occurrence_id=1))
        queue.submit(cue(tone, soon(0.5), occurrence_id=2))
        log.wait_for(2)
    finally:
        queue.close()
    assert log.kinds(1) == ["failed"]
    assert "gone.mp3 does not exist" in log.detail("failed", 1)
    assert log.kinds(2) == [READY, "started", "finished"]


def test_a_file_deleted_after_it_was_prepared_still_plays_in_full(tone, tmp_path, sinks):
    """Prepared means opened and decoding: the play no longer needs the file's name."""
    doomed = tmp_path / "doomed.mp3"
    doomed.write_bytes(tone.read_bytes())

    def delete_it(item):
        doomed.unlink()

    log = Log(ready=delete_it)
    queue = PlayoutQueue(AplayPlayer(sinks.device("a")), log)
    try:
        queue.submit(cue(doomed, soon(1.0)))
        log.wait_for(1)
    finally:
        queue.close()
    assert not doomed.exists()
    assert log.kinds(1) == [READY, "started", "finished"], log.events
    (heard,) = wait_heard(sinks, "a", 1)
    assert heard.nbytes >= 0.6 * BYTES_PER_SECOND


def test_a_file_that_cannot_be_decoded_fails_before_its_instant_with_ffmpegs_reason(tmp_path):
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio at all" * 100)
    log = Log()
    queue = PlayoutQueue(AplayPlayer("null"), log)
    try:
        queue.submit(cue(broken, soon(0.3)))
        log.wait_for(1)
    finally:
        queue.close()
    assert log.kinds(1) == ["failed"]
    assert log.detail("failed", 1).startswith("cannot decode broken.mp3")


def test_a_device_that_cannot_be_opened_fails_the_play_with_aplays_reason(tone):
    log = Log()
    queue = PlayoutQueue(AplayPlayer("no_such_device"), log)
    try:
        queue.submit(cue(tone, soon(0.3)))
        log.wait_for(1)
    finally:
        queue.close()
    assert log.kinds(1) == ["failed"]
    assert log.detail("failed", 1).startswith("aplay cannot play: aplay: ")
    assert "audio open error" in log.detail("failed", 1)


def test_an_emergency_goes_before_a_play_waiting_for_its_instant_which_then_plays_on_time(
    tone,
):
    log = Log()
    queue = PlayoutQueue(NullPlayer(time_scale=0.5), log)
    waiting = cue(tone, soon(1.5), occurrence_id=1)
    emergency = cue(tone, soon(0), occurrence_id=2, priority=Priority.EMERGENCY)
    try:
        queue.submit(waiting)
        threading.Event().wait(0.3)  # prepared and READY, holding for its instant
        queue.submit(emergency)
        log.wait_for(2)
    finally:
        queue.close()
    starts = [oid for kind, oid, _, _ in log.events if kind == "started"]
    assert starts == [2, 1]
    assert log.kinds(1) == [READY, "started", "finished"]  # READY once, not cut
    assert waiting.released_at >= waiting.at


def test_an_emergency_still_interrupts_what_is_on_air(tone):
    log = Log()
    queue = PlayoutQueue(NullPlayer(time_scale=1), log)
    try:
        queue.submit(cue(tone, soon(0.2), occurrence_id=1, duration_s=30))
        with log.changed:
            assert log.changed.wait_for(lambda: "started" in log.kinds(1), 5)
        queue.submit(cue(tone, soon(0), occurrence_id=2, priority=Priority.EMERGENCY))
        log.wait_for(2)
    finally:
        queue.close()
    assert log.kinds(1)[-1] == "interrupted"
    assert log.detail("interrupted", 1) == "interrupted by an emergency broadcast"
    assert log.kinds(2) == [READY, "started", "finished"]


def test_an_owner_that_refuses_at_ready_gets_no_sound_and_no_started(tone, sinks):
    log = Log(ready=lambda item: False)
    queue = PlayoutQueue(AplayPlayer(sinks.device("a")), log)
    try:
        queue.submit(cue(tone, soon(0.3)))
        assert queue.wait_idle(10)
    finally:
        queue.close()
    assert log.kinds(1) == [READY]
    threading.Event().wait(0.3)
    assert sinks.plays("a") == []


def test_shutting_down_before_a_ready_play_is_due_reports_it_not_played(tone):
    log = Log()
    queue = PlayoutQueue(NullPlayer(), log)
    queue.submit(cue(tone, soon(30)))
    with log.changed:
        assert log.changed.wait_for(lambda: READY in log.kinds(1), 5)
    queue.close()
    assert log.kinds(1) == [READY, "interrupted"]
    assert "shut down before its time" in log.detail("interrupted", 1)


def test_the_queue_reads_time_on_the_clock_it_is_given(tone):
    """A clock 10 minutes ahead (the agent's corrected time) releases at once."""
    log = Log()
    queue = PlayoutQueue(
        NullPlayer(time_scale=0.1),
        log,
        clock=lambda: datetime.now(UTC) + timedelta(minutes=10),
    )
    item = cue(tone, soon(60))
    try:
        queue.submit(item)
        log.wait_for(1, timeout=5)
    finally:
        queue.close()
    assert log.kinds(1) == [READY, "started", "finished"]
    assert item.released_at - item.at > timedelta(minutes=8)


def wait_heard(sinks, name, count, timeout=5.0):
    from tests.helpers import wait_until

    wait_until(lambda: len(sinks.plays(name)) >= count, timeout=timeout)
    return sinks.plays(name)


def test_local_playout_claims_ahead_holds_the_play_on_air_and_releases_it_at_its_slot(
    settings, session
):
    """On the runtime's own clock: claimed LEAD early, durable before the slot, on time."""
    import time as walltime

    from sqlmodel import select

    from broadcaster.core.models import Occurrence, OccurrenceStatus, PlayEvent
    from broadcaster.onair import occurrences as onair
    from broadcaster.onair.playout import LEAD
    from tests.onair.test_occurrences import _runtime, _wait_for, approved_script, weekly

    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    onair.render_due(session, settings, now=slot - timedelta(hours=1), hours=2)
    session.commit()
    base = walltime.monotonic()
    start = slot - LEAD + timedelta(seconds=0.2)  # the job fires LEAD early

    def clock():
        return start + timedelta(seconds=walltime.monotonic() - base)

    runtime = _runtime(settings, clock=clock)
    try:
        assert runtime.dispatch(now=clock()) == 1
        occurrence_id = session.exec(select(Occurrence.id)).one()
        held = _wait_for(session, occurrence_id, OccurrenceStatus.PLAYING)
        before_slot = clock() < slot
        assert held.started_at is None  # on air (never replayed) but not yet sounding
        played = _wait_for(session, occurrence_id, OccurrenceStatus.PLAYED)
    finally:
        runtime.close()
    assert before_slot
    assert slot <= played.started_at < slot + timedelta(seconds=1)
    assert not played.late
    started = session.exec(
        select(PlayEvent).where(PlayEvent.kind == "started", PlayEvent.occurrence_id == held.id)
    ).one()
    assert LATENESS.fullmatch(started.detail)

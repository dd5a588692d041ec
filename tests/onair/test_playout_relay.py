"""The layered timeline: a relay on the playout queue, with items of other priorities due
during it. Real Icecast (the `icecast` fixture), real ffmpeg; files play through the null
player, which takes as long as the audio would.
"""

import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from broadcaster.core.events import EventKind
from broadcaster.core.priority import Priority
from broadcaster.onair.players import NullPlayer
from broadcaster.onair.playout import READY, Cue, PlayoutQueue, RelaySlot
from broadcaster.onair.relay import Backoff, RelayPlayer
from tests.helpers import wait_until

RELAY, EMERGENCY, BULLETIN = 1, 2, 3


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "tone.mp3"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         "sine=frequency=880:duration=1", "-c:a", "libmp3lame", "-b:a", "64k", str(path)],
        check=True,
    )  # fmt: skip
    return path


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[int, str, str]] = []
        self.times: dict[tuple[int, str], datetime] = {}
        self.lock = threading.Lock()

    def __call__(self, kind: str, item: Cue, detail: str) -> None:
        if kind == READY:
            return None  # the owner's last word before the sound: not an event
        with self.lock:
            self.events.append((item.occurrence_id, str(kind), detail))
            self.times[(item.occurrence_id, str(kind))] = datetime.now(UTC)

    def of(self, occurrence_id: int) -> list[str]:
        with self.lock:
            return [kind for oid, kind, _ in self.events if oid == occurrence_id]

    def detail(self, occurrence_id: int, kind: str) -> str:
        with self.lock:
            return next(d for oid, k, d in self.events if oid == occurrence_id and k == kind)

    def order(self) -> list[tuple[int, str]]:
        with self.lock:
            return [(oid, kind) for oid, kind, _ in self.events]


def make_queue(recorder: Recorder) -> PlayoutQueue:
    relay = RelayPlayer("null", stall_s=1.5, backoff=lambda: Backoff(initial=0.3, cap=1.0))
    return PlayoutQueue(NullPlayer(), recorder, name="test", relay=relay)


def relay_cue(url: str, seconds: float, fallback=None) -> Cue:
    return Cue(
        at=datetime.now(UTC),
        rank=-Priority.NORMAL,
        schedule_id=1,
        occurrence_id=RELAY,
        path=fallback or __file__,
        duration_s=seconds,
        relay=RelaySlot(url=url, name="VOV1", fallback=fallback),
    )


def file_cue(occurrence_id: int, path, priority: int, seconds: float = 1.0) -> Cue:
    return Cue(
        at=datetime.now(UTC),
        rank=-priority,
        schedule_id=occurrence_id,
        occurrence_id=occurrence_id,
        path=path,
        duration_s=seconds,
    )


def test_a_normal_item_due_during_a_relay_waits_for_its_end(icecast, audio):
    feed = icecast.feed("/vov1.mp3")
    recorder = Recorder()
    queue = make_queue(recorder)
    try:
        queue.submit(relay_cue(feed.url, 1.5))
        wait_until(lambda: EventKind.RELAY_CONNECTED in recorder.of(RELAY), timeout=5)
        queue.submit(file_cue(BULLETIN, audio, Priority.NORMAL, seconds=0.2))
        assert queue.wait_idle(15)
    finally:
        queue.close()
    order = recorder.order()
    assert EventKind.RELAY_PAUSED not in recorder.of(RELAY)
    assert order.index((RELAY, EventKind.FINISHED)) < order.index((BULLETIN, EventKind.STARTED))


def test_a_relay_whose_slot_ended_during_the_emergency_ends_after_it(icecast, audio):
    feed = icecast.feed("/vov1.mp3")
    recorder = Recorder()
    queue = make_queue(recorder)
    try:
        queue.submit(relay_cue(feed.url, 1.5))
        wait_until(lambda: EventKind.RELAY_CONNECTED in recorder.of(RELAY), timeout=5)
        time.sleep(0.3)
        queue.submit(file_cue(EMERGENCY, audio, Priority.EMERGENCY, seconds=1.5))
        assert queue.wait_idle(15)
    finally:
        queue.close()
    assert recorder.of(RELAY) == [
        EventKind.STARTED,
        EventKind.RELAY_CONNECTED,
        EventKind.RELAY_PAUSED,
        EventKind.FINISHED,  # no new leg: nothing of the slot was left
    ]


def test_a_relay_with_no_stream_at_all_fails_with_the_seconds_relayed(audio):
    recorder = Recorder()
    queue = make_queue(recorder)
    cue = relay_cue("http://127.0.0.1:9/none.mp3", 1.0, fallback=audio)
    cue.at += timedelta(seconds=0.5)  # handed over ahead of its time: it starts at it
    try:
        queue.submit(cue)
        assert queue.wait_idle(10)
    finally:
        queue.close()
    assert recorder.times[(RELAY, EventKind.STARTED)] >= cue.at
    assert recorder.of(RELAY)[-1] == EventKind.FAILED
    # The fallback filled the slot, and the summary says how long.
    assert recorder.detail(RELAY, EventKind.FAILED).startswith(
        "no stream: relayed 0 s of 1 s, 0 drops"
    )


def test_closing_the_queue_mid_relay_logs_it_cut_short_with_what_was_relayed(icecast):
    feed = icecast.feed("/vov1.mp3")
    recorder = Recorder()
    queue = make_queue(recorder)
    queue.submit(relay_cue(feed.url, 30.0))
    wait_until(lambda: EventKind.RELAY_CONNECTED in recorder.of(RELAY), timeout=5)
    time.sleep(0.5)
    queue.close()
    assert recorder.of(RELAY)[-1] == EventKind.INTERRUPTED
    detail = recorder.detail(RELAY, EventKind.INTERRUPTED)
    assert detail.startswith("cut short: the player was shut down; relayed ")
    assert detail.endswith("of 30 s, 0 drops")

"""The relay player against a real Icecast server on loopback (the `icecast` fixture), fed
by a real ffmpeg source.

Slots are a few seconds long; the null sink still reads and decodes every byte.
"""

import subprocess
import threading
import time

import pytest

from broadcaster.core.events import EventKind
from broadcaster.onair.reasons import relay_detail_vi
from broadcaster.onair.relay import Backoff, RelayPlayer, Tally
from tests.helpers import free_port, wait_until


@pytest.fixture(scope="module")
def bulletin(tmp_path_factory):
    """A real MP3 to fall back on: one second of an 880 Hz tone."""
    path = tmp_path_factory.mktemp("fallback") / "bulletin.mp3"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         "sine=frequency=880:duration=1", "-c:a", "libmp3lame", "-b:a", "64k", str(path)],
        check=True,
    )  # fmt: skip
    return path


class Log:
    """The events a relay reports, with when they came."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, str]] = []

    def __call__(self, kind: str, detail: str) -> None:
        self.events.append((time.monotonic(), kind, detail))

    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.events]


def fast() -> RelayPlayer:
    return RelayPlayer("null", stall_s=1.5, backoff=lambda: Backoff(initial=0.3, cap=1.0))


def test_it_relays_a_live_stream_for_its_slot_and_counts_the_seconds(icecast):
    feed = icecast.feed("/steady.mp3")
    log = Log()
    started = time.monotonic()
    tally = fast().run(feed.url, 3.0, Tally(slot_s=3.0), log)
    took = time.monotonic() - started
    assert 2.9 <= took < 4.0  # stops when the slot ends, not when the stream does
    assert log.kinds() == [EventKind.RELAY_CONNECTED]
    assert 2.0 <= tally.relayed_s <= 3.0  # never more than the time it was on air
    assert tally.drops == 0
    assert tally.summary().startswith(f"relayed {round(tally.relayed_s)} s of 3 s, 0 drops")


def test_a_cut_stream_falls_back_then_resumes_and_every_step_is_reported(icecast, bulletin):
    feed = icecast.feed("/cut.mp3")
    log = Log()
    relay = fast()
    tally = Tally(slot_s=7.0)
    worker = threading.Thread(
        target=relay.run,
        args=(feed.url, 7.0, tally, log),
        kwargs={"fallback": bulletin},
    )
    worker.start()
    wait_until(lambda: EventKind.RELAY_CONNECTED in log.kinds(), timeout=5)
    time.sleep(1.0)
    feed.stop()
    wait_until(lambda: EventKind.RELAY_FALLBACK in log.kinds(), timeout=5)
    time.sleep(1.0)
    feed.start(wait=False)
    worker.join(timeout=15)
    assert not worker.is_alive()
    kinds = log.kinds()
    assert kinds == [
        EventKind.RELAY_CONNECTED,
        EventKind.RELAY_DROPPED,
        EventKind.RELAY_FALLBACK,
        EventKind.RELAY_RESTORED,
    ], log.events
    details = dict((kind, detail) for _, kind, detail in log.events)
    assert details[EventKind.RELAY_DROPPED].startswith("the stream dropped")
    assert details[EventKind.RELAY_FALLBACK] == (
        "playing the fallback bulletin until the stream is back"
    )
    assert tally.drops == 1
    assert tally.fallback_s >= 1.0
    assert all(relay_detail_vi(detail) for _, _, detail in log.events)  # the log reads them
    # Up before and after the cut, down for the cut and the reconnection.
    assert 2.0 <= tally.relayed_s <= 7.0 - tally.fallback_s
    assert "1 drop" in tally.summary()


def test_a_stream_that_never_answers_is_reported_and_silence_says_why():
    log = Log()
    url = f"http://127.0.0.1:{free_port()}/nothing.mp3"  # nobody listens there
    tally = fast().run(url, 1.0, Tally(slot_s=1.0), log)
    assert log.kinds() == [EventKind.RELAY_DROPPED, EventKind.RELAY_FALLBACK]
    assert log.events[0][2].startswith("the stream did not answer: ")
    assert log.events[1][2] == "silence: no fallback bulletin for this relay"
    assert all(relay_detail_vi(detail) for _, _, detail in log.events)
    assert tally.relayed_s == 0
    assert tally.drops == 0  # it never was up: nothing dropped


def test_a_missing_fallback_file_is_silence_with_the_reason(tmp_path):
    log = Log()
    url = f"http://127.0.0.1:{free_port()}/nothing.mp3"
    fast().run(url, 1.0, Tally(slot_s=1.0), log, fallback=tmp_path / "gone.mp3")
    assert log.events[1][2] == "silence: the fallback bulletin is not in the cache (gone.mp3)"


def test_stop_ends_a_relay_at_once_when_its_owner_says_so(icecast):
    feed = icecast.feed("/stop.mp3")
    log = Log()
    relay = fast()
    stop = threading.Event()
    worker = threading.Thread(
        target=relay.run,
        args=(feed.url, 30.0, Tally(slot_s=30.0), log),
        kwargs={"should_stop": stop.is_set},
    )
    worker.start()
    wait_until(lambda: log.kinds(), timeout=5)
    started = time.monotonic()
    stop.set()
    relay.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - started < 1.0


def test_backoff_doubles_up_to_its_cap_with_jitter_around_each_step():
    low = Backoff(initial=1, cap=8, jitter=0.2, rng=lambda: 0.0)
    assert [round(low.delay(), 2) for _ in range(6)] == [0.8, 1.6, 3.2, 6.4, 6.4, 6.4]
    high = Backoff(initial=1, cap=8, jitter=0.2, rng=lambda: 1.0)
    assert [round(high.delay(), 2) for _ in range(5)] == [1.2, 2.4, 4.8, 9.6, 9.6]
    high.reset()
    assert round(high.delay(), 2) == 1.2


def test_an_unknown_sink_is_refused():
    with pytest.raises(ValueError, match="unknown relay sink"):
        RelayPlayer("speakers")


def test_the_url_names_the_input_format_when_it_can():
    from broadcaster.onair.relay import input_format

    assert input_format("http://radio.example.vn:8000/vov1.mp3") == "mp3"
    assert input_format("https://str.vov.gov.vn/vovlive/vov1.sdp_aac/playlist.m3u8") == "hls"
    assert input_format("http://radio.example.vn/live.AAC?token=x") == "aac"
    assert input_format("http://radio.example.vn/live") is None

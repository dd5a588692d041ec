"""The relay player against a real Icecast server on loopback (the `icecast` fixture), fed
by a real ffmpeg source.

Slots are a few seconds long; the null sink still reads and decodes every byte.
"""

import time

import pytest

from broadcaster.core.events import EventKind
from broadcaster.onair.reasons import relay_detail_vi
from broadcaster.onair.relay import Backoff, RelayPlayer, Tally
from tests._icecast import running_hls
from tests.helpers import free_port


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


def test_it_relays_a_live_hls_playlist(tmp_path):
    with running_hls(tmp_path / "hls") as hls:
        log = Log()
        tally = fast().run(hls.url, 2.0, Tally(slot_s=2.0), log)
    assert log.kinds() == [EventKind.RELAY_CONNECTED]
    assert tally.relayed_s >= 1.0


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


def test_the_streams_registered_kind_names_the_format_where_its_url_does_not():
    # An Icecast mount without an extension: ffmpeg would listen five seconds to guess.
    from broadcaster.onair.relay import _decoder, input_format

    assert input_format("http://radio.example.vn:8000/vov1", "mp3") == "mp3"
    assert input_format("http://radio.example.vn/live.mp3", "aac") == "aac"  # the check heard
    command = _decoder("http://radio.example.vn:8000/hue", rw_timeout_s=5, kind="aac")
    assert command[command.index("-f") + 1] == "aac" and command.index("-f") < command.index("-i")

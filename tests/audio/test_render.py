import json
import subprocess
import wave
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from broadcaster.audio.profiles import get_profile
from broadcaster.audio.render import (
    AudioStore,
    RenderError,
    RenderRequest,
    Tags,
    collect_garbage,
    render,
    render_key,
)
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import AudioFile
from broadcaster.speech.engines import EspeakEngine
from broadcaster.speech.normalize import normalize
from tests.helpers import measure_loudness

TEXT = "Tính đến ngày 13/8/2020, tỉnh có 183.620 thuê bao cài Bluezone, đạt 16,27%."


def duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out)


@pytest.fixture
def store(tmp_path) -> AudioStore:
    return AudioStore(tmp_path / "store")


@pytest.fixture
def profile():
    return get_profile(None)


def make_request(base_profile, **changes) -> RenderRequest:
    request = RenderRequest(
        text=TEXT,
        voice="central",
        speed=1.0,
        repeat=2,
        profile=base_profile,
        engine_name="espeak",
        tags=Tags(
            title="Bluezone", script="bluezone-thu v1", commune="Phường Thuận An", date="2020-08-13"
        ),
    )
    return replace(request, **changes)


def do_render(session, store, request, engine=None):
    result = render(session=session, store=store, request=request, engine=engine or EspeakEngine())
    session.commit()
    return result


def test_it_makes_broadcast_ready_audio_at_the_target_loudness(session, store, profile):
    result = do_render(session, store, make_request(profile))
    lufs, true_peak = measure_loudness(result.path)
    assert abs(lufs - profile.target_lufs) <= 1.0
    assert true_peak <= profile.true_peak_db
    # the record tells the truth about the file
    assert abs(result.audio.lufs - lufs) <= 0.2
    assert abs(result.audio.true_peak_db - true_peak) <= 0.2
    assert result.audio.engine == "espeak-ng" and not result.audio.fallback
    assert result.audio.size == result.path.stat().st_size


def test_the_programme_is_chimes_plus_each_reading_plus_pauses(session, store, profile, tmp_path):
    speech_wav = tmp_path / "speech.wav"
    data = EspeakEngine().synthesize(normalize(TEXT), voice="central", speed=1.0).data
    speech_wav.write_bytes(data)
    with wave.open(str(speech_wav)) as wav:
        speech_s = wav.getnframes() / wav.getframerate()
    chimes_s = duration(profile.chime_open) + duration(profile.chime_close)
    for repeat in (1, 3):
        result = do_render(session, store, make_request(profile, repeat=repeat))
        expected = chimes_s + 2 * profile.gap_s + repeat * speech_s + (repeat - 1) * profile.pause_s
        # MP3 parts each carry a few tens of milliseconds of encoder delay and padding
        assert abs(duration(result.path) - expected) < 0.6, (repeat, expected)
        assert abs(result.audio.duration_s - duration(result.path)) < 0.2


def test_the_same_input_is_rendered_once(session, store, profile):
    first = do_render(session, store, make_request(profile))
    modified = first.path.stat().st_mtime_ns
    second = do_render(session, store, make_request(profile))
    assert not first.cached and second.cached
    assert second.path == first.path and second.path.stat().st_mtime_ns == modified
    assert len(session.exec(select(AudioFile)).all()) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"text": TEXT + " Xin cảm ơn."},
        {"voice": "south"},
        {"speed": 1.2},
        {"repeat": 1},
        {"engine_name": "auto"},
        {"tags": Tags(title="Khác")},
        {"profile": get_profile("loa-khong-chuong")},
    ],
    ids=lambda c: next(iter(c)),
)
def test_changing_any_input_makes_a_different_file(session, store, profile, change):
    base = do_render(session, store, make_request(profile))
    changed = do_render(session, store, make_request(profile, **change))
    assert not changed.cached and changed.path != base.path


def test_a_lexicon_change_rerenders_only_what_it_changes(session, store, profile):
    base = do_render(session, store, make_request(profile))
    unrelated = render(
        session=session,
        store=store,
        request=make_request(profile),
        engine=EspeakEngine(),
        lexicon={"Zalo": "Da lô"},
    )
    related = render(
        session=session,
        store=store,
        request=make_request(profile),
        engine=EspeakEngine(),
        lexicon={"Bluezone": "Blu giôn"},
    )
    assert unrelated.cached and unrelated.path == base.path
    assert not related.cached and related.path != base.path


def test_it_writes_id3_tags_and_a_waveform(session, store, profile):
    from mutagen.id3 import ID3

    result = do_render(session, store, make_request(profile))
    tags = ID3(result.path)
    assert str(tags["TIT2"]) == "Bluezone"
    assert str(tags["TPE1"]) == "Phường Thuận An"
    assert str(tags["TALB"]) == "bluezone-thu v1"
    peaks = json.loads(result.audio.peaks)
    assert 100 <= len(peaks) <= 300 and max(peaks) == 1.0 and min(peaks) >= 0


def test_a_failing_engine_leaves_no_file_and_no_record(session, store, profile):
    with pytest.raises(RenderError, match="speech synthesis failed"):
        render(
            session=session,
            store=store,
            request=make_request(profile),
            engine=EspeakEngine(binary="/nonexistent/espeak-ng"),
        )
    session.commit()
    assert session.exec(select(AudioFile)).all() == []
    assert not store.root.exists() or list(store.root.rglob("*")) == []


def test_a_full_disk_leaves_no_file_and_no_record(session, store, profile, monkeypatch):
    # The temporary file is made by mkstemp; turning it into a link to /dev/full makes the
    # kernel answer the write with ENOSPC, exactly as a full disk would.
    import tempfile

    from broadcaster.core import fsutil

    real_mkstemp = tempfile.mkstemp

    def mkstemp_on_full_disk(**kwargs):
        fd, name = real_mkstemp(**kwargs)
        Path(name).unlink()
        Path(name).symlink_to("/dev/full")
        return fd, name

    monkeypatch.setattr(fsutil.tempfile, "mkstemp", mkstemp_on_full_disk)
    request = make_request(profile)
    key = render_key(normalize(request.text), request)
    final = store.absolute(store.relative(key))
    final.parent.mkdir(parents=True)
    with pytest.raises(RenderError, match="cannot write audio") as info:
        render(session=session, store=store, request=request, engine=EspeakEngine())
    assert info.value.retryable
    session.commit()
    assert list(store.root.rglob("*.mp3")) == []
    assert list(store.root.rglob("*.tmp")) == []
    assert session.exec(select(AudioFile)).all() == []


def test_unused_audio_is_collected_after_the_retention_period(session, store, profile):
    kept = do_render(session, store, make_request(profile))
    old = do_render(session, store, make_request(profile, voice="north"))
    referenced = do_render(session, store, make_request(profile, voice="south"))
    stray = store.root / "ab" / ".abc.123.tmp.mp3"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"half a file")
    later = utcnow() + timedelta(days=31)
    kept.audio.last_used_at = later
    session.add(kept.audio)
    session.commit()
    removed = collect_garbage(
        session=session,
        store=store,
        retention=timedelta(days=30),
        keep_keys={referenced.audio.key},
        now=later + timedelta(seconds=1),
    )
    session.commit()
    assert removed == 2  # the unused render and the abandoned temporary file
    assert kept.path.exists() and referenced.path.exists()
    assert not old.path.exists() and not stray.exists()
    keys = {a.key for a in session.exec(select(AudioFile))}
    assert keys == {kept.audio.key, referenced.audio.key}


def test_a_fallback_render_is_retried_with_the_first_engine_later(session, store, profile):
    from broadcaster.speech.engines import FallbackChain

    broken = EspeakEngine(binary="/nonexistent/espeak-ng")
    chain = FallbackChain([broken, EspeakEngine()])
    first = do_render(session, store, make_request(profile, engine_name="auto"), chain)
    assert first.audio.fallback
    again = do_render(session, store, make_request(profile, engine_name="auto"), chain)
    assert again.cached
    first.audio.created_at = utcnow() - timedelta(hours=2)
    session.add(first.audio)
    session.commit()
    healthy = FallbackChain([EspeakEngine(), EspeakEngine()])
    later = do_render(session, store, make_request(profile, engine_name="auto"), healthy)
    assert not later.cached and not later.audio.fallback
    assert len(session.exec(select(AudioFile)).all()) == 1

"""Engines layer: espeak-ng for real, gTTS against a loopback HTTPS stand-in, no internet."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time
import wave
from pathlib import Path

import pytest

from broadcaster.core.fsutil import write_atomically
from broadcaster.speech import engines
from broadcaster.speech.engines import (
    EngineError,
    EngineSettings,
    EspeakEngine,
    FallbackChain,
    GttsEngine,
    PiperEngine,
    Speech,
    build_engine,
    speak_to_file,
)

# 22 words: long enough for a stable duration, short enough to keep the suite fast.
SENTENCE = (
    "Ủy ban nhân dân xã đề nghị bà con mang theo giấy tờ tùy thân khi đến nhận hỗ trợ vào sáng mai."
)
LONG_TEXT = (
    "Thông báo của Ủy ban nhân dân xã về việc tiêm phòng cho đàn gia súc, gia cầm. "
    "Đề nghị các hộ chăn nuôi nhốt giữ vật nuôi tại chuồng vào sáng thứ Bảy, "
    "để cán bộ thú y đến tận nhà tiêm phòng miễn phí. "
    "Hộ nào chưa được tiêm, xin liên hệ trưởng thôn hoặc trạm thú y xã trước ngày "
    "mười lăm tháng này. Xin trân trọng cảm ơn bà con."
)

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"
)


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes() / wav.getframerate()


class FailingEngine:
    def __init__(self, name: str = "broken", *, retryable: bool = False) -> None:
        self.name = name
        self.retryable = retryable
        self.calls = 0

    def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        self.calls += 1
        raise EngineError("deliberately broken", engine=self.name, retryable=self.retryable)


# ------------------------------------------------------------------ espeak-ng, for real


@needs_espeak
def test_espeak_has_all_regional_voices() -> None:
    installed = EspeakEngine().available_voices()
    assert set(EspeakEngine.VOICE_MAP.values()) <= installed


@needs_espeak
@pytest.mark.parametrize("voice", ["north", "central", "south"])
def test_espeak_regional_voice_speaks(voice: str) -> None:
    speech = EspeakEngine().synthesize(SENTENCE, voice=voice, speed=1.0)

    assert (speech.format, speech.engine, speech.fallback) == ("wav", "espeak-ng", False)
    assert speech.voice == EspeakEngine.VOICE_MAP[voice]
    segment = speech.to_segment()
    assert 2.0 <= segment.duration_seconds <= 20.0
    assert segment.dBFS > -35.0, "audio is (nearly) silent"
    # The piped WAV header is sealed: its declared length matches the bytes we hold.
    assert wav_seconds(speech.data) == pytest.approx(segment.duration_seconds, abs=0.01)


@needs_espeak
def test_espeak_regions_sound_different() -> None:
    engine = EspeakEngine()
    audio = {v: engine.synthesize(SENTENCE, voice=v, speed=1.0).data for v in engines.VOICES}
    # Identical bytes would mean espeak-ng silently fell back to one default voice.
    assert len(set(audio.values())) == 3


@needs_espeak
def test_espeak_faster_speed_is_shorter() -> None:
    engine = EspeakEngine()
    normal = wav_seconds(engine.synthesize(SENTENCE, voice="north", speed=1.0).data)
    fast = wav_seconds(engine.synthesize(SENTENCE, voice="north", speed=1.5).data)
    assert fast < normal * 0.85
    assert engine.rate_for(1.5) == round(175 * 1.5)


@needs_espeak
def test_espeak_text_that_looks_like_an_option_is_spoken() -> None:
    speech = EspeakEngine().synthesize("-5 độ C vào đêm nay", voice="south", speed=1.0)
    assert wav_seconds(speech.data) > 0.5


def test_espeak_missing_binary_names_the_debian_package() -> None:
    engine = EspeakEngine(binary="/nonexistent/espeak-ng")
    with pytest.raises(EngineError) as info:
        engine.synthesize(SENTENCE, voice="north", speed=1.0)
    assert info.value.retryable is False
    assert info.value.engine == "espeak-ng"
    assert "apt-get install espeak-ng" in str(info.value)


@pytest.mark.parametrize(
    ("text", "voice", "speed"),
    [
        ("", "north", 1.0),
        ("  ", "north", 1.0),
        (SENTENCE, "hanoi", 1.0),
        (SENTENCE, "north", 0.1),
        (SENTENCE, "north", float("nan")),
    ],
)
def test_caller_mistakes_are_value_errors(text: str, voice: str, speed: float) -> None:
    chain = FallbackChain([FailingEngine()])
    with pytest.raises(ValueError):
        chain.synthesize(text, voice=voice, speed=speed)
    assert chain.engines[0].calls == 0


# ------------------------------------------------------------------ gTTS at its HTTP boundary


def gtts(url: str, ca_bundle: str | None, **overrides) -> GttsEngine:
    options = {"timeout": 2.0, "retries": 2, "backoff": 0.01}
    options.update(overrides)
    return GttsEngine(base_url=url, ca_bundle=ca_bundle, **options)


def test_gtts_returns_audio_from_trusted_endpoint(standin, ca_bundle, mp3_bytes) -> None:
    speech = gtts(standin.url, ca_bundle).synthesize("Xin chào bà con", voice="south", speed=1.0)

    assert speech == Speech(mp3_bytes, "mp3", engine="gtts", voice="gtts-vi", fallback=False)
    assert standin.hits == 1
    text, lang, slow, _ = standin.params[0]
    assert (text, lang, slow) == ("Xin chào bà con", "vi", None)


def test_gtts_long_text_is_split_into_several_requests(standin, ca_bundle, mp3_bytes) -> None:
    speech = gtts(standin.url, ca_bundle).synthesize(LONG_TEXT, voice="north", speed=1.0)

    assert standin.hits >= 3
    assert all(len(part) <= 100 for part in standin.texts)

    # gTTS drops the punctuation it splits on; every word must still be sent, in order.
    def words(text: str) -> list[str]:
        return [w.strip(".,:;") for w in text.split() if w.strip(".,:;")]

    assert words(" ".join(standin.texts)) == words(LONG_TEXT)
    assert speech.data == mp3_bytes * standin.hits


@pytest.mark.parametrize(("speed", "slow"), [(0.6, True), (0.84, True), (1.0, None), (1.5, None)])
def test_gtts_slow_only_below_threshold(standin, ca_bundle, speed, slow) -> None:
    gtts(standin.url, ca_bundle).synthesize("Xin chào", voice="north", speed=speed)
    assert standin.params[0][2] is slow


def test_gtts_refuses_untrusted_certificate(untrusted_standin) -> None:
    # No ca_bundle: only the system's CAs are trusted, and they never signed this one.
    engine = gtts(untrusted_standin.url, None)
    with pytest.raises(EngineError) as info:
        engine.synthesize("Xin chào", voice="north", speed=1.0)
    assert info.value.retryable is False
    assert "certificate" in str(info.value).lower()
    assert untrusted_standin.hits == 0, "no request may reach an unverified server"


def test_gtts_refuses_certificate_from_other_ca_even_with_bundle(untrusted_standin, ca_bundle):
    with pytest.raises(EngineError) as info:
        gtts(untrusted_standin.url, ca_bundle).synthesize("Xin chào", voice="north", speed=1.0)
    assert info.value.retryable is False
    assert untrusted_standin.hits == 0


def test_gtts_refuses_certificate_for_another_host(misnamed_standin, ca_bundle) -> None:
    with pytest.raises(EngineError) as info:
        gtts(misnamed_standin.url, ca_bundle).synthesize("Xin chào", voice="north", speed=1.0)
    assert info.value.retryable is False
    assert misnamed_standin.hits == 0


def test_gtts_silent_endpoint_times_out(blackhole, ca_bundle) -> None:
    engine = gtts(blackhole, ca_bundle, timeout=1.0, retries=1, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        engine.synthesize("Xin chào", voice="north", speed=1.0)
    elapsed = time.monotonic() - started
    assert info.value.retryable is True
    assert elapsed < engine.timeout * (engine.retries + 1) + 1.0


def test_gtts_server_that_never_responds_times_out(standin, ca_bundle) -> None:
    # TLS completes and the request is read, then nothing: the read timeout must fire.
    standin.mode = "hang"
    engine = gtts(standin.url, ca_bundle, timeout=1.0, retries=1, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        engine.synthesize("Xin chào", voice="north", speed=1.0)
    elapsed = time.monotonic() - started
    assert info.value.retryable is True
    assert standin.hits == 2
    assert elapsed < engine.timeout * (engine.retries + 1) + 1.0


def test_gtts_dripping_server_cannot_hold_the_call(standin, ca_bundle) -> None:
    # Each byte arrives well within the socket read timeout; only the wall clock stops it.
    standin.mode = "drip"
    engine = gtts(standin.url, ca_bundle, timeout=1.0, retries=0)
    started = time.monotonic()
    with pytest.raises(EngineError, match="took longer") as info:
        engine.synthesize("Xin chào", voice="north", speed=1.0)
    assert info.value.retryable is True
    assert time.monotonic() - started < engine.timeout + 1.0


def test_gtts_connection_refused_is_retryable_and_fast(refused_url, ca_bundle) -> None:
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        gtts(refused_url, ca_bundle).synthesize("Xin chào", voice="north", speed=1.0)
    assert info.value.retryable is True
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_gtts_retries_server_errors_then_fails(standin, ca_bundle, status) -> None:
    standin.mode = status
    engine = gtts(standin.url, ca_bundle, retries=2)
    with pytest.raises(EngineError) as info:
        engine.synthesize("Xin chào", voice="north", speed=1.0)
    assert info.value.retryable is True
    assert str(status) in str(info.value)
    assert standin.hits == 3


def test_gtts_gives_up_when_retry_after_is_too_long(standin, ca_bundle) -> None:
    standin.mode, standin.retry_after = 429, "3600"
    with pytest.raises(EngineError) as info:
        gtts(standin.url, ca_bundle).synthesize("Xin chào", voice="north", speed=1.0)
    assert info.value.retryable is True
    assert standin.hits == 1


@pytest.mark.parametrize("status", [400, 403, 404])
def test_gtts_does_not_retry_client_errors(standin, ca_bundle, status) -> None:
    standin.mode = status
    with pytest.raises(EngineError) as info:
        gtts(standin.url, ca_bundle).synthesize("Xin chào", voice="north", speed=1.0)
    assert info.value.retryable is False
    assert standin.hits == 1


def test_gtts_answer_without_audio_is_not_retried(standin, ca_bundle) -> None:
    standin.mode = "empty"
    with pytest.raises(EngineError) as info:
        gtts(standin.url, ca_bundle).synthesize("Xin chào", voice="north", speed=1.0)
    assert info.value.retryable is False
    assert standin.hits == 1


def test_gtts_punctuation_only_is_a_clean_engine_error() -> None:
    # Fails inside gTTS's text cleanup, before any request is prepared or sent.
    engine = GttsEngine(base_url="https://127.0.0.1:9")
    with pytest.raises(EngineError) as info:
        engine.synthesize("...", voice="north", speed=1.0)
    assert info.value.retryable is False


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "127.0.0.1", "ftp://x"])
def test_gtts_rejects_non_https_base_url(url: str) -> None:
    with pytest.raises(ValueError):
        GttsEngine(base_url=url)


def test_gtts_default_url_is_googles() -> None:
    prepared = GttsEngine().prepare_requests("Xin chào", slow=False)
    assert prepared[0].url.startswith("https://translate.google.com/")


# ------------------------------------------------------------------ fallback chain


@needs_espeak
def test_auto_falls_back_to_espeak_within_the_timeout(blackhole, ca_bundle) -> None:
    settings = EngineSettings(
        gtts_base_url=blackhole,
        gtts_ca_bundle=ca_bundle,
        gtts_timeout=1.0,
        gtts_retries=1,
        gtts_backoff=0.05,
    )
    engine = build_engine("auto", settings)
    started = time.monotonic()
    speech = engine.synthesize(SENTENCE, voice="central", speed=1.0)
    elapsed = time.monotonic() - started

    assert (speech.engine, speech.voice, speech.fallback) == (
        "espeak-ng",
        "vi-vn-x-central",
        True,
    )
    assert speech.format == "wav"
    assert elapsed < settings.gtts_timeout * (settings.gtts_retries + 1) + 2.0


@needs_espeak
def test_chain_first_engine_success_is_not_a_fallback() -> None:
    speech = FallbackChain([EspeakEngine(), FailingEngine()]).synthesize(
        SENTENCE, voice="north", speed=1.0
    )
    assert (speech.engine, speech.fallback) == ("espeak-ng", False)


def test_chain_lists_every_failure() -> None:
    first, second = FailingEngine("one", retryable=True), FailingEngine("two")
    chain = FallbackChain([first, second])
    with pytest.raises(EngineError) as info:
        chain.synthesize(SENTENCE, voice="north", speed=1.0)
    error = info.value
    assert [f.engine for f in error.failures] == ["one", "two"]
    assert "one:" in str(error) and "two:" in str(error)
    assert error.retryable is True  # the first engine's failure may clear up
    assert (first.calls, second.calls) == (1, 1)


@needs_espeak
def test_chain_survives_an_engine_that_crashes() -> None:
    class Crashing:
        name = "crashing"

        def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
            raise KeyError("upstream library changed")

    speech = FallbackChain([Crashing(), EspeakEngine()]).synthesize(
        SENTENCE, voice="north", speed=1.0
    )
    assert (speech.engine, speech.fallback) == ("espeak-ng", True)


def test_build_engine_names() -> None:
    auto = build_engine("auto", EngineSettings())
    assert isinstance(auto, FallbackChain)
    assert [e.name for e in auto.engines] == ["gtts", "espeak-ng"]
    with_piper = build_engine("auto", EngineSettings(piper_model="/voices/vi.onnx"))
    assert [e.name for e in with_piper.engines] == ["gtts", "piper", "espeak-ng"]
    assert isinstance(build_engine("gtts", EngineSettings()), GttsEngine)
    assert isinstance(build_engine("espeak", EngineSettings()), EspeakEngine)
    assert isinstance(build_engine("piper", EngineSettings()), PiperEngine)
    with pytest.raises(ValueError):
        build_engine("festival", EngineSettings())
    with pytest.raises(ValueError):
        build_engine("gtts", EngineSettings(gtts_timeout=0))


# ------------------------------------------------------------------ Piper configuration


def piper_model(tmp_path: Path, *, config: dict | None) -> Path:
    # Placeholder files: enough to exercise the configuration checks, which is all we can
    # test honestly without a real voice (they cannot be downloaded here).
    model = tmp_path / "vi_VN-test-medium.onnx"
    model.write_bytes(b"not a real model")
    if config is not None:
        Path(f"{model}.json").write_text(json.dumps(config), encoding="utf-8")
    return model


def test_piper_without_model_is_a_configuration_error() -> None:
    with pytest.raises(EngineError, match="no Piper voice model configured") as info:
        PiperEngine(model=None).synthesize(SENTENCE, voice="north", speed=1.0)
    assert info.value.retryable is False


def test_piper_missing_model_file(tmp_path: Path) -> None:
    engine = PiperEngine(model=tmp_path / "absent.onnx")
    with pytest.raises(EngineError, match="does not exist") as info:
        engine.synthesize(SENTENCE, voice="north", speed=1.0)
    assert info.value.retryable is False


def test_piper_missing_model_config(tmp_path: Path) -> None:
    engine = PiperEngine(model=piper_model(tmp_path, config=None))
    with pytest.raises(EngineError, match=r"\.onnx\.json") as info:
        engine.synthesize(SENTENCE, voice="north", speed=1.0)
    assert info.value.retryable is False


def test_piper_rejects_non_vietnamese_model(tmp_path: Path) -> None:
    model = piper_model(tmp_path, config={"language": {"code": "en_US"}})
    with pytest.raises(EngineError, match="not Vietnamese"):
        PiperEngine(model=model, binary="/nonexistent/piper").check()


def test_piper_missing_binary(tmp_path: Path) -> None:
    model = piper_model(tmp_path, config={"language": {"code": "vi_VN"}})
    engine = PiperEngine(model=model, binary="/nonexistent/piper")
    with pytest.raises(EngineError, match="/nonexistent/piper") as info:
        engine.synthesize(SENTENCE, voice="north", speed=1.0)
    assert info.value.retryable is False


# ------------------------------------------------------------------ files


def test_failed_synthesis_leaves_no_file(sample_dir: Path) -> None:
    out = sample_dir / "announcement.mp3"
    with pytest.raises(EngineError):
        speak_to_file(SENTENCE, out, engine=FailingEngine(), voice="north", speed=1.0)
    assert list(sample_dir.iterdir()) == []


def test_failed_write_keeps_old_file_and_no_temp(sample_dir: Path, monkeypatch) -> None:
    out = sample_dir / "announcement.wav"
    out.write_bytes(b"previous broadcast")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(out, b"new audio" * 1000)
    assert out.read_bytes() == b"previous broadcast"
    assert [p.name for p in sample_dir.iterdir()] == ["announcement.wav"]


def test_write_atomically_replaces_content_and_is_readable(sample_dir: Path) -> None:
    out = sample_dir / "a.wav"
    write_atomically(out, b"one")
    write_atomically(out, b"two")
    assert out.read_bytes() == b"two"
    assert out.stat().st_mode & 0o044 == 0o044  # the player may run as another user
    assert [p.name for p in sample_dir.iterdir()] == ["a.wav"]


def test_unknown_suffix_is_rejected_before_synthesis(sample_dir: Path) -> None:
    engine = FailingEngine()
    with pytest.raises(ValueError, match=r"\.wav or \.mp3"):
        speak_to_file(SENTENCE, sample_dir / "a.ogg", engine=engine, voice="north", speed=1.0)
    assert engine.calls == 0


@needs_espeak
def test_speak_to_mp3_is_valid_mp3(sample_dir: Path) -> None:
    out = sample_dir / "announcement.MP3"
    speech = speak_to_file(SENTENCE, out, engine=EspeakEngine(), voice="south", speed=1.0)

    assert speech.format == "mp3" and out.read_bytes() == speech.data
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format=duration",
            "-of",
            "json",
            str(out),
        ],
        capture_output=True,
        check=True,
        text=True,
        timeout=30,
    )
    info = json.loads(probe.stdout)
    assert info["streams"][0]["codec_name"] == "mp3"
    assert 2.0 <= float(info["format"]["duration"]) <= 20.0
    assert speech.to_segment().dBFS > -35.0
    assert [p.name for p in sample_dir.iterdir()] == ["announcement.MP3"]


@needs_espeak
def test_speak_to_wav_is_valid_wav(sample_dir: Path) -> None:
    out = sample_dir / "announcement.wav"
    speech = speak_to_file(SENTENCE, out, engine=EspeakEngine(), voice="north", speed=1.0)
    assert speech.format == "wav"
    assert 2.0 <= wav_seconds(out.read_bytes()) <= 20.0


def test_gtts_mp3_converted_to_wav(standin, ca_bundle, sample_dir: Path) -> None:
    out = sample_dir / "hello.wav"
    speech = speak_to_file(
        "Xin chào", out, engine=gtts(standin.url, ca_bundle), voice="north", speed=1.0
    )
    assert (speech.engine, speech.format) == ("gtts", "wav")
    assert 0.2 <= wav_seconds(out.read_bytes()) <= 1.0


def test_speech_repr_hides_audio_bytes() -> None:
    speech = Speech(b"\xff\xf3" * 10_000, "mp3", engine="gtts", voice="gtts-vi")
    assert len(repr(speech)) < 200


def test_no_stray_files_in_cwd() -> None:
    # Temp files belong next to the destination, never in the working directory.
    assert not [name for name in os.listdir(".") if name.endswith(".tmp")]

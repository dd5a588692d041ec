"""Text-to-speech engines: Google (gTTS), espeak-ng and Piper behind one small interface.

Every engine has ``synthesize(text, *, voice, speed) -> Speech`` and raises ``EngineError``
whose ``retryable`` flag tells the caller (a scheduler, the fallback chain) whether trying
the same engine again later can help.  Caller mistakes (unknown voice, empty text, absurd
speed) raise ``ValueError`` instead: no engine and no retry can fix those.

Voices are regional: ``"north"``, ``"central"`` (Huế) and ``"south"``.  ``Speech.voice``
records the voice that really spoke, because not every engine has all three.

This module is the public face of speech synthesis: it chooses and builds an engine (or
the fallback chain) from the operator's settings and writes speech to a file. One engine
lives in each of ``gtts.py``, ``espeak.py`` and ``piper.py``; what they share is in
``synthesis.py``; the names of voices and engines are in ``voices.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.core.fsutil import write_atomically
from broadcaster.core.voices import DEFAULT_ENGINE, ENGINE_NAMES, VOICES
from broadcaster.speech.espeak import EspeakEngine
from broadcaster.speech.gtts import GTTS_SLOW_BELOW, GttsEngine
from broadcaster.speech.piper import PiperEngine
from broadcaster.speech.synthesis import (
    AudioFormat,
    Engine,
    EngineError,
    Speech,
    SpeechRequestError,
    check_request,
    import_pydub,
    run_tool,
    seal_wav,
)

if TYPE_CHECKING:
    from broadcaster.core.config import Settings

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINE_NAMES",
    "GTTS_SLOW_BELOW",
    "VOICES",
    "Engine",
    "EngineError",
    "EngineSettings",
    "EspeakEngine",
    "FallbackChain",
    "GttsEngine",
    "PiperEngine",
    "Speech",
    "SpeechRequestError",
    "build_engine",
    "engine_for",
    "engine_settings",
    "import_pydub",
    "speak_to_file",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineSettings:
    """Everything an operator can tune about the engines; ``build_engine`` consumes it.

    Timeouts are in seconds.  ``gtts_timeout`` is the budget of one HTTP attempt for one
    text part (connect + response); a call makes up to ``gtts_retries + 1`` attempts per
    part with exponential backoff starting at ``gtts_backoff``, so a dead network costs
    about ``(gtts_retries + 1) * gtts_timeout`` plus a few seconds of backoff before
    "auto" falls back to a local engine.
    """

    gtts_timeout: float = 10.0
    gtts_retries: int = 2
    gtts_backoff: float = 0.5
    gtts_base_url: str | None = None
    gtts_ca_bundle: str | None = None
    gtts_tld: str = "com"
    espeak_binary: str = "espeak-ng"
    espeak_timeout: float = 60.0
    espeak_wpm: int = 175
    piper_binary: str = "piper"
    piper_model: str | None = None
    piper_timeout: float = 120.0


class FallbackChain:
    """Try engines in order; the first that produces audio wins.

    ``Speech.fallback`` is True when the winner was not the first engine, so the caller
    can log or flag a broadcast that used the robotic backup voice.
    """

    def __init__(self, engines: Sequence[Engine]) -> None:
        if not engines:
            raise ValueError("a fallback chain needs at least one engine")
        self.engines = tuple(engines)
        self.name = "+".join(engine.name for engine in self.engines)

    def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        # Validate once here: a caller mistake must not be mistaken for N engine failures.
        check_request(text, voice, speed)
        failures: list[EngineError] = []
        for position, engine in enumerate(self.engines):
            try:
                speech = engine.synthesize(text, voice=voice, speed=speed)
            except EngineError as exc:
                log.warning("engine %s failed: %s", engine.name, exc)
                failures.append(exc)
                continue
            except Exception as exc:
                # A bug or an upstream library change in one engine must not silence the
                # loudspeakers while another engine works; the traceback still gets logged.
                log.exception("engine %s crashed", engine.name)
                failures.append(
                    EngineError(
                        f"unexpected {type(exc).__name__}: {exc}",
                        engine=engine.name,
                        retryable=False,
                    )
                )
                continue
            if position:
                log.warning("fell back to %s (voice %s)", speech.engine, speech.voice)
            return dataclasses.replace(speech, fallback=speech.fallback or position > 0)
        summary = "; ".join(str(failure) for failure in failures)
        raise EngineError(
            f"all engines failed: {summary}",
            engine=self.name,
            retryable=any(failure.retryable for failure in failures),
            failures=failures,
        )


def build_engine(name: str, settings: EngineSettings | None = None) -> Engine:
    """Build the engine an operator asked for.

    ``"auto"`` is gTTS, then Piper if a model is configured, then espeak-ng, which needs
    nothing but a Debian package and so is the backup of last resort.
    """
    settings = settings or EngineSettings()
    if name == "gtts":
        return GttsEngine(
            timeout=settings.gtts_timeout,
            retries=settings.gtts_retries,
            backoff=settings.gtts_backoff,
            base_url=settings.gtts_base_url,
            ca_bundle=settings.gtts_ca_bundle,
            tld=settings.gtts_tld,
        )
    if name == "espeak":
        return EspeakEngine(
            binary=settings.espeak_binary,
            timeout=settings.espeak_timeout,
            wpm=settings.espeak_wpm,
        )
    if name == "piper":
        return PiperEngine(
            model=settings.piper_model,
            binary=settings.piper_binary,
            timeout=settings.piper_timeout,
        )
    if name == "auto":
        engines: list[Engine] = [build_engine("gtts", settings)]
        if settings.piper_model:
            engines.append(build_engine("piper", settings))
        engines.append(build_engine("espeak", settings))
        return FallbackChain(engines)
    raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}")


def engine_settings(settings: Settings) -> EngineSettings:
    """The engine settings an operator configured (``BROADCASTER_GTTS_*``, ``*_PIPER_*``)."""
    return EngineSettings(
        gtts_timeout=settings.gtts_timeout,
        gtts_retries=settings.gtts_retries,
        gtts_base_url=settings.gtts_url,
        gtts_ca_bundle=settings.gtts_ca_bundle,
        piper_binary=settings.piper_binary,
        piper_model=settings.piper_model,
    )


def engine_for(settings: Settings, name: str | None = None) -> Engine:
    """The engine (or fallback chain) named by `name`, else by BROADCASTER_TTS_ENGINE."""
    return build_engine(name or settings.tts_engine, engine_settings(settings))


_SUFFIX_FORMATS: dict[str, AudioFormat] = {".wav": "wav", ".mp3": "mp3"}
_FFMPEG_TIMEOUT = 120.0


def _transcode(speech: Speech, target: AudioFormat) -> bytes:
    executable = shutil.which("ffmpeg")
    if executable is None:
        raise EngineError(
            f"ffmpeg not found, cannot convert {speech.format} to {target}; "
            "install the Debian package ffmpeg",
            engine="ffmpeg",
            retryable=False,
        )
    if target == "mp3":
        # Mono speech for horn loudspeakers: 64 kbit/s is already beyond what they resolve.
        codec = ["-ac", "1", "-codec:a", "libmp3lame", "-b:a", "64k"]
    else:
        codec = ["-codec:a", "pcm_s16le"]
    command = [
        executable,
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        speech.format,
        "-i",
        "pipe:0",
        "-map_metadata",
        "-1",
        "-fflags",
        "+bitexact",
        *codec,
        "-f",
        target,
        "pipe:1",
    ]
    completed = run_tool(command, speech.data, _FFMPEG_TIMEOUT, "ffmpeg")
    try:
        return seal_wav(completed.stdout) if target == "wav" else completed.stdout
    except ValueError as exc:
        raise EngineError(
            f"ffmpeg produced no usable {target}: {exc}", engine="ffmpeg", retryable=False
        ) from exc


def speak_to_file(
    text: str, out: str | os.PathLike[str], *, engine: Engine, voice: str, speed: float
) -> Speech:
    """Synthesize ``text`` and atomically write it to ``out`` as WAV or MP3 (by suffix).

    Returns the ``Speech`` as written: ``data`` and ``format`` describe the file.
    """
    out = Path(out)
    target = _SUFFIX_FORMATS.get(out.suffix.lower())
    if target is None:
        raise SpeechRequestError(f"cannot tell the audio format of {str(out)!r}: use .wav or .mp3")
    # Fail before spending a network round trip on a file we cannot write.
    if not out.parent.is_dir():
        raise FileNotFoundError(f"directory {str(out.parent)!r} does not exist")
    speech = engine.synthesize(text, voice=voice, speed=speed)
    data = speech.data if speech.format == target else _transcode(speech, target)
    write_atomically(out, data)
    return dataclasses.replace(speech, data=data, format=target)

"""What every text-to-speech engine shares: its result, its error and its checks.

Owns ``Speech`` (audio plus the engine and voice that really spoke), ``EngineError``
(whose ``retryable`` says whether trying again later can help), the ``Engine``
interface, the checks of a request every engine makes, and running a local tool
(espeak-ng, Piper, ffmpeg) whose WAV written to a pipe needs its sizes sealed.
"""

from __future__ import annotations

import io
import math
import subprocess
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from broadcaster.core.errors import BroadcasterError
from broadcaster.core.voices import VOICES

if TYPE_CHECKING:
    from pydub import AudioSegment

AudioFormat = Literal["wav", "mp3"]

SPEED_MIN = 0.5
SPEED_MAX = 2.0


class EngineError(Exception):
    """A text-to-speech engine could not produce audio.

    ``retryable`` is True when the same request may succeed later (network trouble,
    timeouts, overloaded upstream) and False when only a configuration or code change can
    help (missing binary, missing voice, rejected certificate, 4xx).  ``failures`` holds
    the individual errors when a ``FallbackChain`` gave up.
    """

    def __init__(
        self,
        message: str,
        *,
        engine: str,
        retryable: bool,
        failures: Sequence[EngineError] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.engine = engine
        self.retryable = retryable
        self.failures = tuple(failures)

    def __str__(self) -> str:
        hint = "retryable" if self.retryable else "not retryable"
        return f"{self.engine}: {self.message} ({hint})"


@dataclass(frozen=True)
class Speech:
    """Synthesized audio plus what produced it.

    ``voice`` is the engine's own voice name (``"vi-vn-x-south"``, ``"gtts-vi"``, a Piper
    model name), not the requested region, so logs show what listeners actually heard.
    """

    # repr=False: a repr that dumps a megabyte of audio makes logs and test failures useless.
    data: bytes = field(repr=False)
    format: AudioFormat
    engine: str
    voice: str
    fallback: bool = False

    def __post_init__(self) -> None:
        if self.format not in ("wav", "mp3"):
            raise ValueError(f"unsupported audio format {self.format!r}")
        if not self.data:
            raise ValueError("speech without audio data")

    @property
    def size(self) -> int:
        return len(self.data)

    def to_segment(self) -> AudioSegment:
        pydub = import_pydub()
        return pydub.AudioSegment.from_file(io.BytesIO(self.data), format=self.format)


@runtime_checkable
class Engine(Protocol):
    name: str

    def synthesize(self, text: str, *, voice: str, speed: float) -> Speech: ...


class SpeechRequestError(BroadcasterError):
    """What was asked to be spoken cannot be: no text, an unknown voice, a bad speed or file."""

    code = "bad_speech_request"


def check_request(text: str, voice: str, speed: float) -> None:
    if not isinstance(text, str) or not text.strip():
        raise SpeechRequestError("nothing to speak: text is empty")
    if voice not in VOICES:
        raise SpeechRequestError(f"unknown voice {voice!r}; expected one of {', '.join(VOICES)}")
    if not (isinstance(speed, int | float) and math.isfinite(speed)):
        raise SpeechRequestError(f"speed must be a number, got {speed!r}")
    if not SPEED_MIN <= speed <= SPEED_MAX:
        raise SpeechRequestError(f"speed {speed} outside {SPEED_MIN}..{SPEED_MAX}")


def positive_number(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def import_pydub():
    # pydub 0.25 imports the deprecated audioop module and carries invalid escape
    # sequences; both warn once at import time, which a warnings-as-errors test run (and
    # any strict deployment) would turn into a crash although nothing is wrong at run time.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        import pydub
    return pydub


def run_tool(
    command: list[str], stdin: bytes, timeout: float, engine: str
) -> subprocess.CompletedProcess[bytes]:
    try:
        completed = subprocess.run(
            command, input=stdin, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        # Likely an overloaded machine rather than a broken install, so worth a later retry.
        raise EngineError(
            f"{Path(command[0]).name} did not finish within {timeout:g}s",
            engine=engine,
            retryable=True,
        ) from exc
    except OSError as exc:
        raise EngineError(
            f"cannot run {command[0]}: {exc}", engine=engine, retryable=False
        ) from exc
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", errors="replace").strip()[-500:]
        raise EngineError(
            f"{Path(command[0]).name} exited with status {completed.returncode}: {stderr}",
            engine=engine,
            retryable=False,
        )
    return completed


def seal_wav(data: bytes) -> bytes:
    """Fix the RIFF and data sizes of a WAV that was written to a pipe.

    A program writing WAV to stdout cannot seek back to fill in the sizes, so espeak-ng and
    ffmpeg leave placeholders (~2 GiB or 0xFFFFFFFF).  Players and the ``wave`` module
    then misjudge the length, so the sizes are rewritten from the bytes we actually got.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        chunk_size = int.from_bytes(data[position + 4 : position + 8], "little")
        if chunk_id == b"data":
            start = position + 8
            payload = len(data) - start
            payload -= payload % 2  # 16-bit PCM; a dangling odd byte is a torn sample
            if payload <= 0:
                raise ValueError("WAV stream has no samples")
            sealed = bytearray(data[: start + payload])
            sealed[4:8] = (len(sealed) - 8).to_bytes(4, "little")
            sealed[position + 4 : position + 8] = payload.to_bytes(4, "little")
            return bytes(sealed)
        position += 8 + chunk_size + (chunk_size & 1)
    raise ValueError("WAV stream has no data chunk")

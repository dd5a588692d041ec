"""Text-to-speech engines: Google (gTTS), espeak-ng and Piper behind one small interface.

Every engine has ``synthesize(text, *, voice, speed) -> Speech`` and raises ``EngineError``
whose ``retryable`` flag tells the caller (a scheduler, the fallback chain) whether trying
the same engine again later can help.  Caller mistakes (unknown voice, empty text, absurd
speed) raise ``ValueError`` instead: no engine and no retry can fix those.

Voices are regional: ``"north"``, ``"central"`` (Huế) and ``"south"``.  ``Speech.voice``
records the voice that really spoke, because not every engine has all three.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import functools
import importlib.util
import io
import json
import logging
import math
import os
import random
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests
import urllib3

from broadcaster.core.fsutil import fsync_directory

if TYPE_CHECKING:
    from pydub import AudioSegment

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
    "build_engine",
    "speak_to_file",
    "write_atomically",
]

log = logging.getLogger(__name__)

Voice = Literal["north", "central", "south"]
AudioFormat = Literal["wav", "mp3"]

VOICES: tuple[str, ...] = ("north", "central", "south")
ENGINE_NAMES: tuple[str, ...] = ("auto", "gtts", "espeak", "piper")
DEFAULT_ENGINE = "auto"

SPEED_MIN = 0.5
SPEED_MAX = 2.0
# gTTS only knows "slow" and "normal"; below this factor slow is the closer of the two.
GTTS_SLOW_BELOW = 0.85


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


class _RetryableHTTPError(EngineError):
    """Carries the server's Retry-After hint from the request to the retry loop."""

    def __init__(self, message: str, *, engine: str, retry_after: float | None) -> None:
        super().__init__(message, engine=engine, retryable=True)
        self.retry_after = retry_after


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


def _check_request(text: str, voice: str, speed: float) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("nothing to speak: text is empty")
    if voice not in VOICES:
        raise ValueError(f"unknown voice {voice!r}; expected one of {', '.join(VOICES)}")
    if not (isinstance(speed, int | float) and math.isfinite(speed)):
        raise ValueError(f"speed must be a number, got {speed!r}")
    if not SPEED_MIN <= speed <= SPEED_MAX:
        raise ValueError(f"speed {speed} outside {SPEED_MIN}..{SPEED_MAX}")


def _positive(name: str, value: float) -> float:
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


# --------------------------------------------------------------------------- gTTS

_GTTS_PATH = "_/TranslateWebserverUi/data/batchexecute"
# Same expression gTTS 2.5.4 uses in gTTS.stream() to cut the base64 audio out of a
# batchexecute line; keeping it identical keeps us exactly as compatible as gTTS.
_GTTS_AUDIO_RE = re.compile(r'jQ1olc","\[\\"(.*)\\"]')
# A 100-character part is a few seconds of MP3; anything near this is not audio for us.
_GTTS_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
_GTTS_MAX_BACKOFF = 8.0


class GttsEngine:
    """Google Translate's text-to-speech, via gTTS's request preparation.

    gTTS 2.5.4 sends its requests with ``verify=False``: anyone on the path (a shared
    commune Wi-Fi, a compromised router) could answer with their own audio and have it
    played on the loudspeakers.  So gTTS only splits the text and builds the requests;
    this class sends them itself, with certificate verification always on.

    Speed: Google offers only normal and slow.  ``speed < GTTS_SLOW_BELOW`` selects slow;
    every other speed is spoken at normal pace (any finer tempo change is left to a later
    audio stage).  Region is ignored: Google has one Vietnamese voice, recorded as
    ``"gtts-vi"``.
    """

    name = "gtts"
    voice_name = "gtts-vi"
    lang = "vi"

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        base_url: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        tld: str = "com",
    ) -> None:
        self.timeout = _positive("gtts timeout", timeout)
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"gtts retries must be a non-negative integer, got {retries!r}")
        self.retries = retries
        if not (isinstance(backoff, int | float) and backoff >= 0):
            raise ValueError(f"gtts backoff must be >= 0, got {backoff!r}")
        self.backoff = float(backoff)
        if base_url is not None:
            parts = urlsplit(base_url)
            # Plain HTTP would reintroduce exactly the audio injection this class prevents.
            if parts.scheme != "https" or not parts.netloc:
                raise ValueError(f"gtts base URL must be an https:// URL, got {base_url!r}")
        self.base_url = base_url
        if ca_bundle is not None and not Path(ca_bundle).is_file():
            raise ValueError(f"gtts CA bundle {str(ca_bundle)!r} is not a file")
        self.ca_bundle = None if ca_bundle is None else str(ca_bundle)
        self.tld = tld

    @property
    def _timeouts(self) -> tuple[float, float]:
        # A TCP connect plus TLS handshake that takes over ~a third of the budget is a dead
        # or filtered route; leave the rest of the budget for Google to synthesize.
        connect = min(self.timeout * 0.3, 3.05)
        return connect, self.timeout - connect

    def prepare_requests(self, text: str, *, slow: bool) -> list[requests.PreparedRequest]:
        from gtts import gTTS

        # lang_check=False: checking would be a network call just to confirm "vi" exists.
        tts = gTTS(text, lang=self.lang, slow=slow, lang_check=False, tld=self.tld)
        try:
            prepared = tts._prepare_requests()
        except AssertionError as exc:
            # gTTS asserts when its cleanup leaves nothing to say (e.g. only punctuation).
            raise EngineError(
                f"nothing left to speak after gTTS's text cleanup ({exc})",
                engine=self.name,
                retryable=False,
            ) from exc
        if self.base_url is not None:
            url = f"{self.base_url.rstrip('/')}/{_GTTS_PATH}"
            for request in prepared:
                request.url = url
        return prepared

    def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        _check_request(text, voice, speed)
        prepared = self.prepare_requests(text, slow=speed < GTTS_SLOW_BELOW)
        parts: list[bytes] = []
        with requests.Session() as session:
            for index, request in enumerate(prepared):
                parts.append(self._fetch_with_retries(session, request, index, len(prepared)))
        # Google's parts are headerless MP3 frame streams, so gTTS simply concatenates them.
        return Speech(b"".join(parts), "mp3", engine=self.name, voice=self.voice_name)

    def _fetch_with_retries(
        self,
        session: requests.Session,
        request: requests.PreparedRequest,
        index: int,
        total: int,
    ) -> bytes:
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._fetch(session, request)
            except EngineError as exc:
                if not exc.retryable or attempt == attempts:
                    raise
                delay = self.backoff * 2 ** (attempt - 1)
                # Jitter: many communes broadcast at the same scheduled minute; without it
                # their retries hit Google in lockstep.
                delay *= 0.5 + random.random() / 2
                retry_after = getattr(exc, "retry_after", None)
                if retry_after is not None:
                    if retry_after > _GTTS_MAX_BACKOFF:
                        raise
                    delay = max(delay, retry_after)
                delay = min(delay, _GTTS_MAX_BACKOFF)
                log.warning(
                    "gtts part %d/%d attempt %d/%d failed (%s); retrying in %.2fs",
                    index + 1,
                    total,
                    attempt,
                    attempts,
                    exc.message,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch(self, session: requests.Session, request: requests.PreparedRequest) -> bytes:
        verify: bool | str = self.ca_bundle if self.ca_bundle is not None else True
        # Session.send() skips the environment (proxies, REQUESTS_CA_BUNDLE) that
        # Session.request() honours; merge it so operators behind a proxy keep working.
        # An explicit ca_bundle wins over the environment.
        env = session.merge_environment_settings(request.url, {}, True, verify, None)
        where = _endpoint(request.url)
        started = time.monotonic()
        try:
            response = session.send(
                request,
                timeout=self._timeouts,
                allow_redirects=False,  # a redirect could downgrade to http or leave Google
                **env,
            )
        except requests.exceptions.SSLError as exc:
            if _is_certificate_failure(exc):
                raise EngineError(
                    f"TLS certificate of {where} rejected; refusing its audio ({exc})",
                    engine=self.name,
                    retryable=False,
                ) from exc
            raise EngineError(
                f"TLS error talking to {where}: {exc}", engine=self.name, retryable=True
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise EngineError(
                f"no answer from {where} within {self.timeout:g}s ({exc})",
                engine=self.name,
                retryable=True,
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise EngineError(
                f"cannot reach {where}: {exc}", engine=self.name, retryable=True
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise EngineError(
                f"request to {where} failed: {exc}", engine=self.name, retryable=False
            ) from exc

        with response:
            status = response.status_code
            if status == 429 or status >= 500:
                raise _RetryableHTTPError(
                    f"HTTP {status} {response.reason} from {where}",
                    engine=self.name,
                    retry_after=_parse_retry_after(response.headers.get("Retry-After")),
                )
            if status != 200:
                raise EngineError(
                    f"HTTP {status} {response.reason} from {where}"
                    " (bad request or upstream API change)",
                    engine=self.name,
                    retryable=False,
                )
            body = self._read_body(response, started, where)
        return self._decode_audio(body, where)

    def _read_body(self, response: requests.Response, started: float, where: str) -> bytes:
        # The socket read timeout only bounds each recv(), and iter_content() waits for a
        # full chunk: a server dripping a byte a second would hold us for hours.  read1()
        # returns whatever has arrived, so the wall-clock budget is checked every recv().
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := response.raw.read1(64 * 1024, decode_content=True):
                size += len(chunk)
                if size > _GTTS_MAX_RESPONSE_BYTES:
                    raise EngineError(
                        f"response from {where} exceeds {_GTTS_MAX_RESPONSE_BYTES} bytes",
                        engine=self.name,
                        retryable=False,
                    )
                if time.monotonic() - started > self.timeout:
                    raise EngineError(
                        f"response from {where} took longer than {self.timeout:g}s",
                        engine=self.name,
                        retryable=True,
                    )
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError) as exc:
            raise EngineError(
                f"connection to {where} broke while reading: {exc}",
                engine=self.name,
                retryable=True,
            ) from exc
        return b"".join(chunks)

    def _decode_audio(self, body: bytes, where: str) -> bytes:
        from gtts import gTTS

        audio: list[bytes] = []
        for line in body.decode("utf-8", errors="replace").splitlines():
            if gTTS.GOOGLE_TTS_RPC not in line:
                continue
            match = _GTTS_AUDIO_RE.search(line)
            if match is None:
                raise EngineError(
                    f"response from {where} carries no audio (unsupported text or API change)",
                    engine=self.name,
                    retryable=False,
                )
            try:
                audio.append(base64.b64decode(match.group(1), validate=True))
            except (binascii.Error, ValueError) as exc:
                raise EngineError(
                    f"response from {where} has malformed base64 audio",
                    engine=self.name,
                    retryable=False,
                ) from exc
        data = b"".join(audio)
        if not data:
            raise EngineError(
                f"response from {where} is not a text-to-speech answer (API change?)",
                engine=self.name,
                retryable=False,
            )
        if not _looks_like_mp3(data):
            raise EngineError(
                f"response from {where} decoded to something that is not MP3 audio",
                engine=self.name,
                retryable=False,
            )
        return data


def _endpoint(url: str | None) -> str:
    # The path is always the same batchexecute path; the host is what an operator needs.
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else str(url)


def _is_certificate_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    # requests and urllib3 wrap the ssl error several layers deep (args, __cause__).
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        pending.extend([current.__cause__, current.__context__])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        pending.append(getattr(current, "reason", None))
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # HTTP-date form: rare for this API and not worth a clock comparison
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _looks_like_mp3(data: bytes) -> bool:
    if data[:3] == b"ID3":
        return True
    return len(data) >= 2 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0


# --------------------------------------------------------------------------- espeak-ng

_ESPEAK_DEBIAN_HINT = "install the Debian package espeak-ng (apt-get install espeak-ng)"


class EspeakEngine:
    """Local, offline synthesis with espeak-ng; robotic but always available.

    Speed scales espeak-ng's default rate (``wpm``, 175 words per minute).  Text goes in
    on stdin, never on the command line: a leading ``-`` ("-5 độ") would otherwise be
    parsed as an option, and argv has a size limit that long announcements can reach.
    """

    name = "espeak-ng"
    VOICE_MAP: dict[str, str] = {
        "north": "vi",
        "central": "vi-vn-x-central",
        "south": "vi-vn-x-south",
    }
    # espeak-ng clamps outside this range anyway; clamping here keeps the reported rate honest.
    WPM_MIN = 80
    WPM_MAX = 450

    def __init__(self, *, binary: str = "espeak-ng", timeout: float = 60.0, wpm: int = 175) -> None:
        self.binary = binary
        self.timeout = _positive("espeak-ng timeout", timeout)
        if not isinstance(wpm, int) or not self.WPM_MIN <= wpm <= self.WPM_MAX:
            raise ValueError(f"espeak-ng wpm must be {self.WPM_MIN}..{self.WPM_MAX}, got {wpm!r}")
        self.wpm = wpm

    def _executable(self) -> str:
        found = shutil.which(self.binary)
        if found is None:
            raise EngineError(
                f"espeak-ng executable {self.binary!r} not found; {_ESPEAK_DEBIAN_HINT}",
                engine=self.name,
                retryable=False,
            )
        return found

    def available_voices(self) -> frozenset[str]:
        return _espeak_voices(self._executable(), self.name)

    def rate_for(self, speed: float) -> int:
        return max(self.WPM_MIN, min(self.WPM_MAX, round(self.wpm * speed)))

    def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        _check_request(text, voice, speed)
        executable = self._executable()
        espeak_voice = self.VOICE_MAP[voice]
        if espeak_voice not in _espeak_voices(executable, self.name):
            raise EngineError(
                f"espeak-ng voice {espeak_voice!r} ({voice}) is not installed "
                f"(see `{self.binary} --voices=vi`); install or upgrade the Debian package "
                "espeak-ng-data",
                engine=self.name,
                retryable=False,
            )
        command = [
            executable,
            "-v",
            espeak_voice,
            "-s",
            str(self.rate_for(speed)),
            "-b",
            "1",  # UTF-8 input; without it diacritics depend on the process locale
            "--stdin",
            "--stdout",
        ]
        completed = _run(command, text.encode("utf-8"), self.timeout, self.name)
        try:
            data = _seal_wav(completed.stdout)
        except ValueError as exc:
            raise EngineError(
                f"espeak-ng produced no usable audio: {exc}", engine=self.name, retryable=False
            ) from exc
        return Speech(data, "wav", engine=self.name, voice=espeak_voice)


@functools.lru_cache(maxsize=8)
def _espeak_voices(executable: str, engine: str) -> frozenset[str]:
    completed = _run([executable, "--voices=vi"], b"", 15.0, engine)
    voices = set()
    for line in completed.stdout.decode("utf-8", errors="replace").splitlines()[1:]:
        columns = line.split()
        if len(columns) >= 2:
            voices.add(columns[1].lower())
    return frozenset(voices)


def _run(
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


def _seal_wav(data: bytes) -> bytes:
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


# --------------------------------------------------------------------------- Piper


class PiperEngine:
    """Neural, offline synthesis with Piper, for operators who installed a voice model.

    Needs ``model`` (``*.onnx``) with its ``*.onnx.json`` beside it, and the ``piper``
    executable (or the ``piper`` Python package, run as ``python -m piper``).  A Piper
    model is one speaker, so the requested region cannot be honoured; ``Speech.voice`` is
    the model's name.  Speed maps to Piper's ``length_scale`` (1 / speed).
    """

    name = "piper"

    def __init__(
        self,
        *,
        model: str | os.PathLike[str] | None,
        binary: str = "piper",
        timeout: float = 120.0,
    ) -> None:
        self.model = None if model is None else Path(model)
        self.binary = binary
        self.timeout = _positive("piper timeout", timeout)

    def _model_files(self) -> tuple[Path, Path]:
        if self.model is None:
            raise EngineError(
                "no Piper voice model configured (set piper_model to a .onnx file "
                "with its .onnx.json beside it)",
                engine=self.name,
                retryable=False,
            )
        if not self.model.is_file():
            raise EngineError(
                f"Piper voice model {str(self.model)!r} does not exist",
                engine=self.name,
                retryable=False,
            )
        config = self.model.with_name(self.model.name + ".json")
        if not config.is_file():
            raise EngineError(
                f"Piper voice config {str(config)!r} is missing; a model is unusable "
                "without the .onnx.json that came with it",
                engine=self.name,
                retryable=False,
            )
        try:
            settings = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EngineError(
                f"Piper voice config {str(config)!r} is not valid JSON: {exc}",
                engine=self.name,
                retryable=False,
            ) from exc
        language = _piper_language(settings)
        # A non-Vietnamese model reads Vietnamese as gibberish; better to fall back.
        if language is not None and not language.lower().startswith("vi"):
            raise EngineError(
                f"Piper voice {self.model.name!r} is for language {language!r}, not Vietnamese",
                engine=self.name,
                retryable=False,
            )
        return self.model, config

    def _command(self) -> list[str]:
        found = shutil.which(self.binary)
        if found is not None:
            return [found]
        if self.binary == "piper" and importlib.util.find_spec("piper") is not None:
            return [sys.executable, "-m", "piper"]
        raise EngineError(
            f"Piper executable {self.binary!r} not found and the piper Python package is "
            "not installed (pip install piper-tts)",
            engine=self.name,
            retryable=False,
        )

    def check(self) -> None:
        """Raise the configuration error synthesize() would raise, without synthesizing."""
        self._model_files()
        self._command()

    def synthesize(self, text: str, *, voice: str, speed: float) -> Speech:
        _check_request(text, voice, speed)
        model, config = self._model_files()
        command = self._command()
        with tempfile.TemporaryDirectory(prefix="broadcaster-piper-") as tmp:
            output = Path(tmp) / "speech.wav"
            command += [
                "--model",
                str(model),
                "--config",
                str(config),
                "--output_file",
                str(output),
                "--length_scale",
                f"{1 / speed:.3f}",
            ]
            # Piper treats each stdin line as a separate utterance (or file); one line
            # keeps the announcement in one output.
            _run(command, " ".join(text.split()).encode("utf-8"), self.timeout, self.name)
            try:
                data = _seal_wav(output.read_bytes())
            except (OSError, ValueError) as exc:
                raise EngineError(
                    f"piper produced no usable audio: {exc}", engine=self.name, retryable=False
                ) from exc
        return Speech(data, "wav", engine=self.name, voice=model.name.removesuffix(".onnx"))


def _piper_language(settings: object) -> str | None:
    if not isinstance(settings, dict):
        return None
    language = settings.get("language")
    if isinstance(language, dict) and isinstance(language.get("code"), str):
        return language["code"]
    espeak = settings.get("espeak")
    if isinstance(espeak, dict) and isinstance(espeak.get("voice"), str):
        return espeak["voice"]
    return None


# --------------------------------------------------------------------------- chain


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
        _check_request(text, voice, speed)
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


# --------------------------------------------------------------------------- files

_SUFFIX_FORMATS: dict[str, AudioFormat] = {".wav": "wav", ".mp3": "mp3"}
_FFMPEG_TIMEOUT = 120.0


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never
    a 0-byte or half-written file (the player may pick the file up at any moment, and
    power cuts are common where the loudspeakers are).
    """
    target = Path(path)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            # mkstemp makes the file 0600; the player usually runs as another user.
            mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_directory(target.parent)


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
    completed = _run(command, speech.data, _FFMPEG_TIMEOUT, "ffmpeg")
    try:
        return _seal_wav(completed.stdout) if target == "wav" else completed.stdout
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
        raise ValueError(f"cannot tell the audio format of {str(out)!r}: use .wav or .mp3")
    # Fail before spending a network round trip on a file we cannot write.
    if not out.parent.is_dir():
        raise FileNotFoundError(f"directory {str(out.parent)!r} does not exist")
    speech = engine.synthesize(text, voice=voice, speed=speed)
    data = speech.data if speech.format == target else _transcode(speech, target)
    write_atomically(out, data)
    return dataclasses.replace(speech, data=data, format=target)

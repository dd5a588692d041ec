"""The Google Translate text-to-speech engine, sent with certificate checks on.

Owns ``GttsEngine``: gTTS only splits the text and prepares the requests; this module
sends them, retries what can succeed later (with backoff and jitter, honouring
Retry-After) and checks that what came back is MP3 audio.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
import random
import re
import ssl
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from broadcaster.speech.synthesis import EngineError, Speech, check_request, positive_number

log = logging.getLogger(__name__)

# gTTS only knows "slow" and "normal"; below this factor slow is the closer of the two.
GTTS_SLOW_BELOW = 0.85


class _RetryableHTTPError(EngineError):
    """Carries the server's Retry-After hint from the request to the retry loop."""

    def __init__(self, message: str, *, engine: str, retry_after: float | None) -> None:
        super().__init__(message, engine=engine, retryable=True)
        self.retry_after = retry_after


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
        self.timeout = positive_number("gtts timeout", timeout)
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
        check_request(text, voice, speed)
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
        env = session.merge_environment_settings(request.url or "", {}, True, verify, None)
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

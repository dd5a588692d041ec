"""The espeak-ng engine: local, offline, robotic, the backup that is always there.

Owns ``EspeakEngine`` and its map from a region to espeak-ng's Vietnamese voices.
"""

from __future__ import annotations

import functools
import shutil

from broadcaster.speech.synthesis import (
    EngineError,
    Speech,
    check_request,
    positive_number,
    run_tool,
    seal_wav,
)

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
        self.timeout = positive_number("espeak-ng timeout", timeout)
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
        check_request(text, voice, speed)
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
        completed = run_tool(command, text.encode("utf-8"), self.timeout, self.name)
        try:
            data = seal_wav(completed.stdout)
        except ValueError as exc:
            raise EngineError(
                f"espeak-ng produced no usable audio: {exc}", engine=self.name, retryable=False
            ) from exc
        return Speech(data, "wav", engine=self.name, voice=espeak_voice)


@functools.lru_cache(maxsize=8)
def _espeak_voices(executable: str, engine: str) -> frozenset[str]:
    completed = run_tool([executable, "--voices=vi"], b"", 15.0, engine)
    voices = set()
    for line in completed.stdout.decode("utf-8", errors="replace").splitlines()[1:]:
        columns = line.split()
        if len(columns) >= 2:
            voices.add(columns[1].lower())
    return frozenset(voices)

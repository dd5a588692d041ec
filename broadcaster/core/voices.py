"""The voices and engines a user can choose: the one list of their names and labels.

Voices are regional: ``"north"``, ``"central"`` (Huế) and ``"south"``; engines are
``"auto"`` (Google, then the local engines), ``"gtts"``, ``"espeak"`` and ``"piper"``.
The labels are the Vietnamese the web shows, marked for the web's catalog like the
reasons in ``broadcaster.onair.reasons`` (extracted with ``-k N_``). Standard library only:
the tables, the settings and the speech engines all name voices and engines.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a Vietnamese string for the web's catalog (extracted with `-k N_`)."""
    return message


VOICES: tuple[str, ...] = ("north", "central", "south")
# The voice of a new script, and of a lexicon try-out: Huế is the commune's own.
DEFAULT_VOICE = "central"
VOICE_LABELS: dict[str, str] = {
    "north": N_("Giọng miền Bắc"),
    "central": N_("Giọng miền Trung (Huế)"),
    "south": N_("Giọng miền Nam"),
}

ENGINE_NAMES: tuple[str, ...] = ("auto", "gtts", "espeak", "piper")
# The deployment's engine unless BROADCASTER_TTS_ENGINE says otherwise: offline, because
# most commune and many provincial machines cannot reach Google.
DEFAULT_ENGINE = "espeak"
ENGINE_LABELS: dict[str, str] = {
    "auto": N_("Google, dự phòng espeak-ng"),
    "gtts": N_("Google (cần Internet)"),
    "espeak": N_("espeak-ng (ngoại tuyến)"),
    "piper": N_("Piper (giọng cài trên máy)"),
}

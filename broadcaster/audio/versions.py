"""Rendering a script version as it goes on air, and estimating how long it will last.

A version's request (template filled for a station and a day, tags set), its profile and
engine (explicit choice, else the version's, else the deployment default) and
render_version, the one way the CLI, the web and the scheduler render a version.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from broadcaster.audio.profiles import Profile
from broadcaster.audio.store import AudioStore
from broadcaster.core.config import Settings
from broadcaster.core.models import Area, Script, ScriptVersion, Station
from broadcaster.newsroom.templating import (
    VARIABLES,
    check_template,
    context_for,
    expand,
    needs_station,
)

if TYPE_CHECKING:
    from broadcaster.audio.render import RenderRequest, RenderResult


def request_for_version(
    *,
    session: Session,
    script: Script,
    version: ScriptVersion,
    station: Station | None,
    profile: Profile,
    engine_name: str,
    on: date,
) -> RenderRequest:
    """What to render for `version` at `station` on day `on`: template filled, tags set.

    Tags only carry the commune and the day when the text depends on them, so a script
    without station variables renders once and is shared by every commune.
    """
    # Here, not at the top: render.py imports this module to offer its names.
    from broadcaster.audio.render import RenderRequest, Tags

    names = check_template(version.body)
    text = expand(version.body, context_for(session, station, on))
    per_station = any(VARIABLES[n].needs_station for n in names)
    per_day = any(not VARIABLES[n].needs_station for n in names)
    commune = ""
    if per_station and station is not None:
        area = session.get(Area, station.area_id)
        commune = area.name if area else ""
    return RenderRequest(
        text=text,
        voice=version.voice,
        speed=version.speed,
        repeat=version.repeat,
        profile=profile,
        engine_name=engine_name,
        tags=Tags(
            title=script.title,
            script=f"{script.slug} v{version.number}",
            commune=commune,
            date=on.isoformat() if per_day else version.created_at.date().isoformat(),
        ),
    )


def render_version(
    *,
    session: Session,
    settings: Settings,
    store: AudioStore,
    version: ScriptVersion,
    station: Station | None,
    on: date,
    profile_name: str | None = None,
    engine_name: str | None = None,
) -> RenderResult:
    """Render `version` exactly as it goes on air: the one way every part renders a version.

    Its own profile and engine unless the caller names others (version_settings), the
    template filled for `station` and day `on`, and the lexicon it was approved with, so
    what the CLI warms ahead is the very file the scheduler and the agents play.
    """
    from broadcaster.audio.render import render
    from broadcaster.speech import lexicon
    from broadcaster.speech.engines import engine_for

    script = session.get(Script, version.script_id)
    profile, chosen_engine = version_settings(
        settings, version, profile_name=profile_name, engine_name=engine_name
    )
    request = request_for_version(
        session=session,
        script=script,
        version=version,
        station=station if needs_station(version.body) else None,
        profile=profile,
        engine_name=chosen_engine,
        on=on,
    )
    return render(
        session=session,
        store=store,
        request=request,
        engine=engine_for(settings, chosen_engine),
        lexicon=lexicon.for_version(session, version),
    )


def version_settings(
    settings: Settings,
    version: ScriptVersion | None = None,
    *,
    profile_name: str | None = None,
    engine_name: str | None = None,
) -> tuple[Profile, str]:
    """The profile and engine for a render: explicit choice, else the version's, else default."""
    from broadcaster.audio.profiles import deployment_profile

    chosen_profile = profile_name or (version.profile if version else "") or settings.audio_profile
    chosen_engine = engine_name or (version.engine if version else "") or settings.tts_engine
    return deployment_profile(settings, chosen_profile), chosen_engine


# espeak-ng reads Vietnamese at about this many spoken words (syllables) a second at
# speed 1.0 (3.9-4.1 measured on the Bluezone scripts); enough for an estimate while typing.
WORDS_PER_SECOND = 4.0


def estimate_duration(spoken: str, *, speed: float, repeat: int, profile: Profile) -> float:
    """Seconds on air: chimes, gaps, each reading and the pauses between them."""
    reading = len(spoken.split()) / (WORDS_PER_SECOND * speed)
    chimes = sum(
        _chime_seconds(path) + profile.gap_s
        for path in (profile.chime_open, profile.chime_close)
        if path is not None
    )
    return round(chimes + repeat * reading + (repeat - 1) * profile.pause_s, 1)


@lru_cache(maxsize=16)
def _chime_seconds_cached(path: str, mtime_ns: int) -> float:
    import wave

    with wave.open(path) as handle:
        return handle.getnframes() / handle.getframerate()


def _chime_seconds(path: Path) -> float:
    return _chime_seconds_cached(str(path), path.stat().st_mtime_ns)

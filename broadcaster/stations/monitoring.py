"""Is each station online? From its agent's heartbeats, with hysteresis.

Agents send a heartbeat every minute. One or two lost on a slow commune link is normal,
so a station is "late" only after three intervals without one and "offline" only after
fifteen minutes; a single missed heartbeat never raises an alarm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from broadcaster.core.models import PlayoutMode, Station, StationBeat

LATE_AFTER = timedelta(minutes=3)
OFFLINE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Health:
    station: Station
    state: str  # online | late | offline | never | not_applicable
    beat: StationBeat | None
    silent_for: timedelta | None


def health_of(station: Station, beat: StationBeat | None, *, now: datetime) -> Health:
    if station.mode != PlayoutMode.AGENT:
        return Health(station, "not_applicable", beat, None)
    if beat is None:
        return Health(station, "never", None, None)
    silent = now - beat.seen_at
    if silent > OFFLINE_AFTER:
        state = "offline"
    elif silent > LATE_AFTER:
        state = "late"
    else:
        state = "online"
    return Health(station, state, beat, silent)


def health(session: Session, stations: list[Station], *, now: datetime) -> list[Health]:
    beats = {
        b.station_id: b
        for b in session.exec(
            select(StationBeat).where(StationBeat.station_id.in_([s.id for s in stations]))
        )
    }
    return [health_of(s, beats.get(s.id), now=now) for s in stations]

"""Stations: the commune radio systems and loudspeaker clusters that play our audio."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from broadcaster.core import audit
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import Area, AreaKind, PlayoutMode, Station, User

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")


class StationError(BroadcasterError):
    """A station request that cannot be done; the message is safe to show."""


def create_station(
    *,
    session: Session,
    code: str,
    commune: Area,
    mode: str,
    timezone: str,
    name: str | None = None,
    actor: User | None = None,
) -> Station:
    code = code.strip().upper()
    if not CODE_RE.match(code):
        raise StationError(
            "station code must be 2-32 characters: A-Z, 0-9 and '-'", code="bad_station_code"
        )
    if commune.kind != AreaKind.COMMUNE:
        raise StationError(
            f"{commune.name} is not a commune or ward", code="not_a_commune", area=commune.name
        )
    if mode not in {m.value for m in PlayoutMode}:
        raise StationError(
            f"unknown mode {mode!r}; choose agent, manual or local", code="unknown_mode", mode=mode
        )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise StationError(
            f"unknown time zone {timezone!r}", code="unknown_timezone", timezone=timezone
        ) from None
    if session.exec(select(Station).where(Station.code == code)).first():
        raise StationError(f"station {code} already exists", code="station_exists", station=code)
    station = Station(
        code=code,
        name=name or f"Đài truyền thanh {commune.name}",
        area_id=commune.id,
        mode=mode,
        timezone=timezone,
    )
    session.add(station)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="station",
        entity_id=station.code,
        after={"code": code, "name": station.name, "commune": commune.name, "mode": mode},
    )
    return station

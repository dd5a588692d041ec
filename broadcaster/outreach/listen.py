"""What residents may hear again: approved, public bulletins that actually aired.

An item is one rendered audio as it aired in one commune (the same version reads
{ten_xa} differently per commune). Its id is derived from the audio's content hash and
the commune code: opaque, stable across restarts (podcast GUIDs), and it cannot be
guessed or counted up. Items are only ever looked up among the published ones, so an
unpublished or unknown id is the same "not found".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from broadcaster.core.areas import communes_of
from broadcaster.core.models import (
    Area,
    AreaKind,
    AudioFile,
    Occurrence,
    OccurrenceStatus,
    Script,
    ScriptVersion,
    Station,
    VersionStatus,
)

WINDOW = timedelta(days=30)
# Enough for a month of a commune's distinct bulletins, and keeps a page small.
MAX_ITEMS = 40


@dataclass(frozen=True)
class AiredItem:
    id: str
    title: str
    commune: Area
    audio: AudioFile
    first_aired: datetime
    last_aired: datetime
    plays: int

    @property
    def transcript(self) -> str:
        return self.audio.spoken_text


def item_id(audio_sha256: str, commune_code: str) -> str:
    return hashlib.sha256(f"{audio_sha256}:{commune_code}".encode()).hexdigest()[:24]


def public_area(session: Session, code: str) -> Area | None:
    """A commune or province by its administrative code; None for anything else."""
    area = session.exec(select(Area).where(Area.code == code)).first()
    if area is None or area.kind not in (AreaKind.COMMUNE, AreaKind.PROVINCE):
        return None
    return area


def served_areas(session: Session, province: Area | None = None) -> list[Area]:
    """Provinces with a station (None), or a province's communes with one: what residents
    can choose from on the index and province pages."""
    communes = select(Area).join(Station, col(Station.area_id) == col(Area.id))
    communes = communes.where(col(Station.is_active).is_(True))
    if province is not None:
        query = communes.where(Area.parent_id == province.id).distinct().order_by(Area.name)
        return list(session.exec(query))
    parents = {a.parent_id for a in session.exec(communes.distinct())}
    query = select(Area).where(col(Area.id).in_(parents), Area.kind == AreaKind.PROVINCE)
    return list(session.exec(query.order_by(Area.name)))


def aired_items(
    session: Session, area: Area, *, now: datetime, limit: int = MAX_ITEMS
) -> list[AiredItem]:
    """The area's public bulletins that aired in the last 30 days, last aired first."""
    communes = {c.id: c for c in communes_of(session, area)}
    if not communes:
        return []
    aired = func.coalesce(Occurrence.started_at, Occurrence.at)
    recent = (
        select(
            Station.area_id,
            Occurrence.audio_id,
            func.max(aired).label("last"),
            func.count().label("plays"),
        )
        .join(Station, col(Station.id) == col(Occurrence.station_id))
        .join(ScriptVersion, col(ScriptVersion.id) == col(Occurrence.version_id))
        .where(
            col(Station.area_id).in_(list(communes)),
            Occurrence.status == OccurrenceStatus.PLAYED,
            col(Occurrence.audio_id).is_not(None),
            ScriptVersion.status == VersionStatus.APPROVED,
            col(ScriptVersion.public).is_(True),
            aired >= now - WINDOW,
            aired <= now,
        )
        .group_by(col(Station.area_id), col(Occurrence.audio_id))
        .order_by(func.max(aired).desc())
        .limit(limit)
    )
    rows = session.exec(recent).all()
    if not rows:
        return []
    audio_ids = [audio_id for _, audio_id, _, _ in rows]
    audios = {
        a.id: a for a in session.exec(select(AudioFile).where(col(AudioFile.id).in_(audio_ids)))
    }
    # A podcast episode's date must not move as the 30-day window slides: its first airing.
    firsts = {
        (area_id, audio_id): first
        for area_id, audio_id, first in session.exec(
            select(Station.area_id, Occurrence.audio_id, func.min(aired))
            .join(Station, col(Station.id) == col(Occurrence.station_id))
            .where(
                col(Occurrence.audio_id).in_(audio_ids),
                col(Station.area_id).in_(list(communes)),
                Occurrence.status == OccurrenceStatus.PLAYED,
            )
            .group_by(col(Station.area_id), col(Occurrence.audio_id))
        )
    }
    titles = dict(
        session.exec(
            select(Occurrence.audio_id, Script.title)
            .join(ScriptVersion, col(ScriptVersion.id) == col(Occurrence.version_id))
            .join(Script, col(Script.id) == col(ScriptVersion.script_id))
            .where(col(Occurrence.audio_id).in_(audio_ids))
        ).all()
    )
    items = []
    for area_id, audio_id, last, plays in rows:
        audio, commune = audios[audio_id], communes[area_id]
        items.append(
            AiredItem(
                id=item_id(audio.sha256, commune.code),
                title=titles.get(audio_id, ""),
                commune=commune,
                audio=audio,
                first_aired=firsts.get((area_id, audio_id), last),
                last_aired=last,
                plays=plays,
            )
        )
    return items


def find_item(session: Session, commune: Area, item: str, *, now: datetime) -> AiredItem | None:
    """One published item of a commune, or None (unknown, unpublished, too old: all alike)."""
    if commune.kind != AreaKind.COMMUNE:
        return None
    return next((i for i in aired_items(session, commune, now=now) if i.id == item), None)

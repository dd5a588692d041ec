"""The station's manifest: its plays of the next 48 h, built, memoized and ETagged.

Owns what an agent is told to play (the MANIFEST_STATUSES occurrences of approved
versions, with audio, and relays of approved streams, from the grace window just past to
MANIFEST_HOURS ahead), the manifest's JSON and ETag, and which audio a station may fetch.
The hottest request: one statement on SQLite and PostgreSQL, memoized on its result (see sqlread).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Text, and_, bindparam, cast, func, literal_column, or_, true
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from broadcaster.core.models import (
    AudioFile,
    Occurrence,
    OccurrenceStatus,
    Schedule,
    Script,
    ScriptVersion,
    Station,
    StreamSource,
    StreamStatus,
    VersionStatus,
)
from broadcaster.core.priority import Priority
from broadcaster.onair.collision import order_column
from broadcaster.onair.occurrences import GRACE
from broadcaster.onair.schedules import MAX_RELAY_MINUTES
from broadcaster.stations.schemas import API_VERSION, SHA256_RE
from broadcaster.stations.sqlread import instant, read_rows
from broadcaster.stations.tokens import STATION_BY_TOKEN, StationRef, hash_token, station_for_token

MANIFEST_HOURS = 48
# What the manifest offers: occurrences not yet started, with audio.
MANIFEST_STATUSES = (
    OccurrenceStatus.PLANNED,
    OccurrenceStatus.RENDERED,
    OccurrenceStatus.DISPATCHED,
)
PRIORITY_NAMES = {int(p): p.name.lower() for p in Priority}


@dataclass(frozen=True)
class Manifest:
    body: dict[str, Any]  # without server_time: the part the ETag covers
    canonical: str  # body as compact JSON with sorted keys
    etag: str
    station_id: int = 0

    def document(self, now: datetime) -> dict[str, Any]:
        return {**self.body, "server_time": now.astimezone(UTC).isoformat()}

    def json_bytes(self, now: datetime) -> bytes:
        """The document as JSON without serializing the body a second time."""
        moment = now.astimezone(UTC).isoformat()
        return f'{self.canonical[:-1]},"server_time":"{moment}"}}'.encode()


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_ITEM_COLUMNS = (
    Occurrence.id,
    Occurrence.at,
    Occurrence.priority,
    Occurrence.schedule_id,
    Script.title,
    ScriptVersion.number,
    AudioFile.sha256,
    AudioFile.size,
    AudioFile.duration_s,
    Schedule.repeat,
    # A relay: its stream, the slot's length; the row's audio is its fallback's.
    StreamSource.id,
    StreamSource.name,
    StreamSource.url,
    Schedule.duration_min,
    # Colliding priority items: the station's order of origin levels (onair.collision).
    order_column(Occurrence.station_id, Schedule.level),
    StreamSource.kind,  # a relay's format, so its player need not guess it
)


def _items_of(query, station_id):
    """The manifest's joins and conditions, for the station `station_id` (a column or bind).

    A file item needs its approved version's audio. A relay item needs its stream approved
    now (a stream retired or sent back to review after scheduling leaves the manifest at
    once); its fallback audio, joined the same way, is offered only when approved too.
    """
    return (
        query.select_from(Occurrence)
        .join(Schedule, Schedule.id == Occurrence.schedule_id)
        .outerjoin(AudioFile, AudioFile.id == Occurrence.audio_id)
        # Only an approved version joins: a row without one has no audio to offer.
        .outerjoin(
            ScriptVersion,
            and_(
                ScriptVersion.id == Occurrence.version_id,
                ScriptVersion.status == str(VersionStatus.APPROVED),
            ),
        )
        .outerjoin(Script, Script.id == ScriptVersion.script_id)
        .outerjoin(StreamSource, StreamSource.id == Schedule.stream_id)
        .where(
            Occurrence.station_id == station_id,
            # OR of equalities, not IN: an IN list is re-expanded on every execution.
            or_(*(Occurrence.status == str(status) for status in MANIFEST_STATUSES)),
            or_(
                and_(
                    Schedule.stream_id.is_(None),
                    ScriptVersion.id.is_not(None),
                    AudioFile.id.is_not(None),
                ),
                StreamSource.status == str(StreamStatus.APPROVED),
            ),
            Occurrence.at >= bindparam("start"),
            Occurrence.at < bindparam("end"),
        )
    )


_MANIFEST = _items_of(sa_select(*_ITEM_COLUMNS), bindparam("station_id")).order_by(
    Occurrence.at, Occurrence.priority.desc(), Occurrence.id
)
# SQLite only: the station and its items (as one JSON array) in one statement and one
# row. Each step of an SQLite statement releases the GIL, and under a busy multi-threaded
# server every release is a wait to get it back: one row instead of six doubles the
# manifests a waitress process serves. Same joins and conditions as _MANIFEST.
_SQLITE_MANIFEST_BY_TOKEN = sa_select(
    *STATION_BY_TOKEN.selected_columns,
    _items_of(
        sa_select(func.json_group_array(func.json_array(*_ITEM_COLUMNS))), Station.id
    ).scalar_subquery(),
).where(Station.token_hash == bindparam("digest"), Station.is_active == true())


# PostgreSQL: the same single statement, the items as JSON text memoized the same way;
# instants as naive UTC text like SQLite's, so both paths sort and parse them alike.
_PG_ITEMS = func.json_agg(
    func.json_build_array(
        Occurrence.id,
        func.to_char(func.timezone("UTC", Occurrence.at), "YYYY-MM-DD HH24:MI:SS.US"),
        *_ITEM_COLUMNS[2:],
    )
)
_PG_MANIFEST_BY_TOKEN = sa_select(
    *STATION_BY_TOKEN.selected_columns,
    _items_of(
        sa_select(cast(func.coalesce(_PG_ITEMS, literal_column("'[]'::json")), Text)),
        Station.id,
    ).scalar_subquery(),
).where(Station.token_hash == bindparam("digest"), Station.is_active == true())
_MANIFEST_BY_TOKEN = {"sqlite": _SQLITE_MANIFEST_BY_TOKEN, "postgresql": _PG_MANIFEST_BY_TOKEN}


def _window(now: datetime) -> dict[str, datetime]:
    return {"start": now - GRACE, "end": now + timedelta(hours=MANIFEST_HOURS)}


def audio_url(sha256: str) -> str:
    return f"/api/{API_VERSION}/audio/{sha256}.mp3"


def build_manifest(session: Session, station: StationRef, *, now: datetime) -> Manifest:
    """The station's plays of the next 48 h (and of the grace window just past)."""
    params = {"station_id": station.id, **_window(now)}
    return _manifest(station, read_rows(session, _MANIFEST, params))


def manifest_for_token(
    session: Session | Engine, token: str | None, *, now: datetime
) -> Manifest | None:
    """The manifest of the token's station, or None if the token is not valid.

    The same as station_for_token() then build_manifest(), in one statement on SQLite and
    PostgreSQL.
    Read-only: it also takes the engine itself, which spares a request its session.
    """
    if not token:
        return None
    bind = session if isinstance(session, Engine) else session.get_bind()
    statement = _MANIFEST_BY_TOKEN.get(bind.dialect.name)
    if statement is None:
        if isinstance(session, Engine):
            with Session(session) as own:
                return manifest_for_token(own, token, now=now)
        station = station_for_token(session, token)
        return None if station is None else build_manifest(session, station, now=now)
    digest = hash_token(token)
    rows = read_rows(session, statement, {"digest": digest, **_window(now)}, single_row=True)
    if not rows or not hmac.compare_digest(rows[0][4].encode(), digest.encode()):
        return None
    row = rows[0]
    return _manifest_from_json(
        StationRef(id=row[0], code=row[1], name=row[2], timezone=row[3]), row[5]
    )


@lru_cache(maxsize=4096)
def _manifest_from_json(station: StationRef, items_json: str) -> Manifest:
    # Memoized on its inputs: an unchanged manifest costs one query and a dict lookup.
    items = json.loads(items_json)
    items.sort(key=lambda item: (item[1], -item[2], item[0]))  # as _MANIFEST orders them
    return _manifest(station, items)


def _manifest(station: StationRef, rows) -> Manifest:
    zone = _zone(station.timezone)
    items = [
        _relay_item(row, zone) if row[10] is not None else _file_item(row, zone) for row in rows
    ]
    body = {
        "api_version": API_VERSION,
        "station": {"code": station.code, "name": station.name, "timezone": station.timezone},
        "grace_s": int(GRACE.total_seconds()),
        "items": items,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    etag = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    return Manifest(body=body, canonical=canonical, etag=etag, station_id=station.id)


def _file_item(row, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "occurrence_id": row[0],
        "at": instant(row[1]).astimezone(zone).isoformat(),
        "priority": PRIORITY_NAMES.get(row[2], "normal"),
        "schedule_id": row[3],
        "title": row[4],
        "kind": "audio",
        "version": row[5],
        "audio_url": audio_url(row[6]),
        "sha256": row[6],
        "size": row[7],
        "duration_s": round(row[8], 3),
        "repeat": max(1, row[9]),
        "order": row[14],
    }


def _relay_item(row, zone: ZoneInfo) -> dict[str, Any]:
    # row[5] (the version number) is set only when the fallback's version is approved
    # (_items_of joins no other).
    fallback = None
    if row[6] is not None and row[5] is not None:
        fallback = {
            "sha256": row[6],
            "size": row[7],
            "duration_s": round(row[8], 3),
            "audio_url": audio_url(row[6]),
        }
    return {
        "occurrence_id": row[0],
        "at": instant(row[1]).astimezone(zone).isoformat(),
        "priority": PRIORITY_NAMES.get(row[2], "normal"),
        "schedule_id": row[3],
        "title": row[11],
        "kind": "relay",
        "stream": {"id": row[10], "name": row[11], "url": row[12], "kind": row[15]},
        "duration_s": 60 * (row[13] or 0),
        "fallback": fallback,
        "order": row[14],
    }


def audio_for_station(
    session: Session, station: StationRef, sha256: str, *, now: datetime
) -> AudioFile | None:
    """The audio file with this hash if this station's manifest refers to it, else None."""
    if not SHA256_RE.match(sha256):
        return None
    query = (
        select(AudioFile)
        .join(Occurrence, Occurrence.audio_id == AudioFile.id)
        .join(ScriptVersion, ScriptVersion.id == Occurrence.version_id)
        .join(Schedule, Schedule.id == Occurrence.schedule_id)
        .outerjoin(StreamSource, StreamSource.id == Schedule.stream_id)
        .where(
            AudioFile.sha256 == sha256,
            # a relay's fallback only while its stream is approved
            or_(
                col(Schedule.stream_id).is_(None),
                StreamSource.status == StreamStatus.APPROVED,
            ),
            Occurrence.station_id == station.id,
            ScriptVersion.status == VersionStatus.APPROVED,
            or_(
                and_(
                    col(Occurrence.status).in_(MANIFEST_STATUSES),
                    Occurrence.at >= now - GRACE,
                    Occurrence.at < now + timedelta(hours=MANIFEST_HOURS),
                ),
                # A relay on air has left the manifest, but an agent whose fetch failed
                # before the start still needs its fallback for a drop during the slot.
                and_(
                    Occurrence.status == OccurrenceStatus.PLAYING,
                    col(Schedule.stream_id).is_not(None),
                    Occurrence.at >= now - timedelta(minutes=MAX_RELAY_MINUTES),
                    Occurrence.at <= now,
                ),
            ),
        )
        .limit(1)
    )
    return session.exec(query).first()

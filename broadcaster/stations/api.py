"""The station API's logic: tokens, the manifest, audio access, events and heartbeats.

Flask-free: web/api.py is a thin layer over these functions, which take the session
explicitly and never commit (the request owns the transaction).

Tokens are random (secrets.token_urlsafe(32)); only their sha256 is stored, so a copy of
the database gives nobody a working token. A station has at most one token: rotating it
replaces the old one at once, revoking it leaves none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Text, bindparam, cast, func, literal_column, or_, true
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from broadcaster.core import audit
from broadcaster.core.areas import get_area
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import (
    AudioFile,
    Occurrence,
    OccurrenceStatus,
    PlayEvent,
    Schedule,
    Script,
    ScriptVersion,
    Station,
    StationBeat,
    User,
    VersionStatus,
)
from broadcaster.onair.occurrences import GRACE, Outcome, apply_outcome, record_event
from broadcaster.onair.recurrence import Priority
from broadcaster.stations.registry import create_station

API_VERSION = "v1"
MANIFEST_HOURS = 48
MAX_EVENTS = 500
MAX_BODY_BYTES = 1024 * 1024
MAX_DETAIL = 1000
# INTEGER columns: 32 bits on PostgreSQL (SQLite would take 64).
MAX_ID = 2**31 - 1
# What the manifest offers: occurrences not yet started, with audio.
MANIFEST_STATUSES = (
    OccurrenceStatus.PLANNED,
    OccurrenceStatus.RENDERED,
    OccurrenceStatus.DISPATCHED,
)
EVENT_KINDS = ("started", "finished", "failed", "skipped", "interrupted")
# Once one of these is reached, a late "started" must not take the occurrence back.
PRIORITY_NAMES = {int(p): p.name.lower() for p in Priority}
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
UID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class ApiError(BroadcasterError):
    """A request the API refuses; `status` is the HTTP status, the message is safe to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- tokens ----------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    # One token in 64 would start with "-", which `--token TOKEN` reads as an option.
    while (token := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return token


def _set_token(session: Session, station: Station, actor: User | None, action: str) -> str:
    token = new_token()
    had = bool(station.token_hash)
    station.token_hash = hash_token(token)
    station.token_created_at = utcnow()
    session.add(station)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="station",
        entity_id=station.code,
        before={"token": "set" if had else "none"},
        after={"token": "set", "token_created_at": station.token_created_at.isoformat()},
    )
    return token


def rotate_token(session: Session, station: Station, actor: User | None = None) -> str:
    """Give the station a new token (the old one stops working); returns it, shown once."""
    return _set_token(session, station, actor, "rotate_token")


def revoke_token(session: Session, station: Station, actor: User | None = None) -> bool:
    """Leave the station without a token; returns whether it had one."""
    had = bool(station.token_hash)
    station.token_hash = ""
    station.token_created_at = None
    session.add(station)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="revoke_token",
        entity_type="station",
        entity_id=station.code,
        before={"token": "set" if had else "none"},
        after={"token": "none"},
    )
    return had


def create_station_with_token(
    session: Session,
    code: str,
    commune_name: str,
    mode: str,
    timezone: str,
    actor: User | None = None,
    name: str | None = None,
) -> tuple[Station, str]:
    """A new station and its first API token (returned once; only its hash is kept)."""
    commune = get_area(session, commune_name)
    station = create_station(
        session=session,
        code=code,
        commune=commune,
        mode=mode,
        timezone=timezone,
        name=name,
        actor=actor,
    )
    return station, _set_token(session, station, actor, "issue_token")


def parse_bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        return None
    return token


@dataclass(frozen=True)
class StationRef:
    """What a request needs of the station its token belongs to."""

    id: int
    code: str
    name: str
    timezone: str


# Built once: the manifest is the hottest request, and building a statement costs more
# than running it. Core, not ORM: no identity map to fill for read-only rows.
_STATION_BY_TOKEN = sa_select(
    Station.id, Station.code, Station.name, Station.timezone, Station.token_hash
).where(Station.token_hash == bindparam("digest"), Station.is_active == true())


def station_for_token(session: Session | Engine, token: str | None) -> StationRef | None:
    """The active station this token belongs to, or None (unknown, revoked, inactive)."""
    if not token:
        return None
    digest = hash_token(token)
    rows = _rows(session, _STATION_BY_TOKEN, {"digest": digest})
    row = rows[0] if rows else None
    # The lookup is by hash already; compare once more in constant time regardless.
    if row is None or not hmac.compare_digest(row[4].encode(), digest.encode()):
        return None
    return StationRef(id=row[0], code=row[1], name=row[2], timezone=row[3])


# --- manifest --------------------------------------------------------------------------


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
)


def _items_of(query, station_id):
    """The manifest's joins and conditions, for the station `station_id` (a column or bind)."""
    return (
        query.select_from(Occurrence)
        .join(AudioFile, AudioFile.id == Occurrence.audio_id)
        .join(ScriptVersion, ScriptVersion.id == Occurrence.version_id)
        .join(Script, Script.id == ScriptVersion.script_id)
        .join(Schedule, Schedule.id == Occurrence.schedule_id)
        .where(
            Occurrence.station_id == station_id,
            # OR of equalities, not IN: an IN list is re-expanded on every execution.
            or_(*(Occurrence.status == str(status) for status in MANIFEST_STATUSES)),
            ScriptVersion.status == str(VersionStatus.APPROVED),
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
    *_STATION_BY_TOKEN.selected_columns,
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
    *_STATION_BY_TOKEN.selected_columns,
    _items_of(
        sa_select(cast(func.coalesce(_PG_ITEMS, literal_column("'[]'::json")), Text)),
        Station.id,
    ).scalar_subquery(),
).where(Station.token_hash == bindparam("digest"), Station.is_active == true())
_MANIFEST_BY_TOKEN = {"sqlite": _SQLITE_MANIFEST_BY_TOKEN, "postgresql": _PG_MANIFEST_BY_TOKEN}


def _window(now: datetime) -> dict[str, datetime]:
    return {"start": now - GRACE, "end": now + timedelta(hours=MANIFEST_HOURS)}


class _SqliteStatement:
    """A Core statement compiled once for SQLite, run on the driver connection.

    SQLAlchemy's per-execution work (cache key, context, result processing) costs about
    20 times what SQLite takes to answer these two indexed queries, and the manifest is
    the request every agent makes every minute. The SQL is the Core statement's own, so
    the two paths cannot drift apart (a test runs both).
    """

    def __init__(self, statement, *, single_row: bool = False) -> None:
        from sqlalchemy.dialects import sqlite

        self.single_row = single_row
        compiled = statement.compile(dialect=sqlite.dialect())
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())
        self.defaults = dict(compiled.params)

    def params(self, values: dict[str, Any]) -> list[Any]:
        bound = []
        for name in self.names:
            value = values[name] if name in values else self.defaults[name]
            if isinstance(value, datetime):  # as UTCDateTime stores it on SQLite
                value = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            bound.append(value)
        return bound


_COMPILED: dict[int, _SqliteStatement] = {}


def _rows(source: Session | Engine, statement, params: dict[str, Any]) -> list[tuple]:
    """Rows of a read-only Core statement; SQLite through its driver, others through Core.

    On SQLite, a session that has not begun a transaction (a fresh request's), or the
    engine itself, borrows a pooled connection for the one read instead of beginning a
    session transaction: that halves the cost of a manifest request. A session inside
    a transaction reads through its own connection, so it sees its own changes.
    """
    session = None if isinstance(source, Engine) else source
    bind = source if session is None else session.get_bind()
    if bind.dialect.name != "sqlite":
        with bind.connect() if session is None else nullcontext(session.connection()) as reader:
            return [tuple(row) for row in reader.execute(statement, params)]
    fast = _COMPILED.get(id(statement))
    if fast is None:
        single = statement is _STATION_BY_TOKEN or statement is _SQLITE_MANIFEST_BY_TOKEN
        fast = _COMPILED[id(statement)] = _SqliteStatement(statement, single_row=single)
    if session is not None and session.in_transaction():
        return _fetch(session.connection().connection.driver_connection, fast, params)
    pooled = bind.raw_connection()
    try:
        return _fetch(pooled.driver_connection, fast, params)
    finally:
        pooled.close()  # back to the pool


def _fetch(driver_connection, fast: _SqliteStatement, params: dict[str, Any]) -> list[tuple]:
    cursor = driver_connection.execute(fast.sql, fast.params(params))
    try:
        if fast.single_row:
            row = cursor.fetchone()  # one step of the statement, not two
            return [] if row is None else [row]
        return cursor.fetchall()
    finally:
        cursor.close()


def _instant(value: datetime | str) -> datetime:
    """An aware UTC datetime from a Core row (datetime) or an SQLite row (text)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def audio_url(sha256: str) -> str:
    return f"/api/{API_VERSION}/audio/{sha256}.mp3"


def build_manifest(session: Session, station: StationRef, *, now: datetime) -> Manifest:
    """The station's plays of the next 48 h (and of the grace window just past)."""
    params = {"station_id": station.id, **_window(now)}
    return _manifest(station, _rows(session, _MANIFEST, params))


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
    rows = _rows(session, statement, {"digest": digest, **_window(now)})
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
        {
            "occurrence_id": row[0],
            "at": _instant(row[1]).astimezone(zone).isoformat(),
            "priority": PRIORITY_NAMES.get(row[2], "normal"),
            "schedule_id": row[3],
            "title": row[4],
            "version": row[5],
            "audio_url": audio_url(row[6]),
            "sha256": row[6],
            "size": row[7],
            "duration_s": round(row[8], 3),
            "repeat": max(1, row[9]),
        }
        for row in rows
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
        .where(
            AudioFile.sha256 == sha256,
            Occurrence.station_id == station.id,
            col(Occurrence.status).in_(MANIFEST_STATUSES),
            ScriptVersion.status == VersionStatus.APPROVED,
            Occurrence.at >= now - GRACE,
            Occurrence.at < now + timedelta(hours=MANIFEST_HOURS),
        )
        .limit(1)
    )
    return session.exec(query).first()


# --- input checking --------------------------------------------------------------------

_MISSING: Any = object()  # a field left out, as opposed to one sent as null


def parse_json(raw: bytes) -> Any:
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ApiError(400, "body is not valid JSON") from None


def _text(value: Any, name: str, *, limit: int, required: bool = False) -> str:
    if value is _MISSING and not required:
        return ""
    if not isinstance(value, str):
        raise ApiError(422, f"{name} must be a string")
    if len(value) > limit:
        raise ApiError(422, f"{name} is longer than {limit} characters")
    # PostgreSQL text cannot hold NUL (a player's error message might carry one).
    return value.replace("\x00", "\ufffd")


def _integer(value: Any, name: str, *, nullable: bool = False) -> int | None:
    """A whole number 0..MAX_ID (what an INTEGER column holds); a bool is not one."""
    if nullable and (value is _MISSING or value is None):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, f"{name} must be an integer")
    if not 0 <= value <= MAX_ID:
        raise ApiError(422, f"{name} is out of range")
    return value


def parse_instant(value: Any, name: str) -> datetime:
    """An ISO 8601 date-time with an offset, as an aware UTC datetime."""
    if not isinstance(value, str) or len(value) > 64:
        raise ApiError(422, f"{name} must be an ISO 8601 date-time string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError("no offset")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ApiError(422, f"{name} must be an ISO 8601 date-time with an offset") from None


@dataclass(frozen=True)
class EventIn:
    uid: str
    occurrence_id: int
    kind: str
    at: datetime
    detail: str


def parse_events(payload: Any) -> list[EventIn]:
    if not isinstance(payload, dict):
        raise ApiError(422, "body must be an object with an 'events' list")
    events = payload.get("events")
    if not isinstance(events, list):
        raise ApiError(422, "'events' must be a list")
    if len(events) > MAX_EVENTS:
        raise ApiError(422, f"at most {MAX_EVENTS} events per batch")
    parsed = []
    for index, event in enumerate(events):
        where = f"events[{index}]"
        if not isinstance(event, dict):
            raise ApiError(422, f"{where} must be an object")
        uid = _text(event.get("id", _MISSING), f"{where}.id", limit=64, required=True)
        if not UID_RE.match(uid):
            raise ApiError(422, f"{where}.id must be 1-64 characters: letters, digits, . _ : -")
        kind = event.get("kind")
        if kind not in EVENT_KINDS:
            raise ApiError(422, f"{where}.kind must be one of {', '.join(EVENT_KINDS)}")
        parsed.append(
            EventIn(
                uid=uid,
                occurrence_id=_integer(
                    event.get("occurrence_id", _MISSING), f"{where}.occurrence_id"
                ),
                kind=kind,
                at=parse_instant(event.get("at"), f"{where}.at"),
                detail=_text(event.get("detail", _MISSING), f"{where}.detail", limit=MAX_DETAIL),
            )
        )
    return parsed


# --- events ----------------------------------------------------------------------------


def _apply(session: Session, station: StationRef, occurrence: Occurrence | None, event: EventIn):
    """Move the occurrence along and log the event under the client's id."""
    actor = f"agent:{station.code}"
    if occurrence is None:
        # Played (or skipped) by the agent, then deleted here (e.g. its schedule changed):
        # the station's log keeps it all the same.
        detail = f"occurrence {event.occurrence_id} no longer exists; {event.detail}".strip("; ")
        record_event(
            session,
            occurrence=None,
            station_id=station.id,
            kind=event.kind,
            at=event.at,
            actor=actor,
            detail=detail,
            uid=event.uid,
        )
        return
    apply_outcome(
        session,
        occurrence,
        Outcome(event.kind, event.detail),
        at=event.at,
        actor=actor,
        uid=event.uid,
    )


def ingest_events(
    session: Session, station: StationRef, payload: Any, *, now: datetime
) -> dict[str, Any]:
    """Store a batch of the station's events, all or nothing; a retried event counts once.

    Raises ApiError 403 (and stores nothing) if any event is about another station's
    occurrence.
    """
    events = parse_events(payload)
    uids = list({e.uid for e in events})
    owners: dict[str, int] = {}
    if uids:
        owners = dict(
            session.exec(
                select(PlayEvent.uid, PlayEvent.station_id).where(col(PlayEvent.uid).in_(uids))
            ).all()
        )
    if any(owner != station.id for owner in owners.values()):
        raise ApiError(409, "an event id is already used by another station")
    ids = list({e.occurrence_id for e in events})
    occurrences: dict[int, Occurrence] = {}
    if ids:
        # Locked (in id order, so two batches cannot deadlock): the events move these
        # occurrences along from the state read here, which nobody may change meanwhile.
        locked = (
            select(Occurrence)
            .where(col(Occurrence.id).in_(ids))
            .order_by(Occurrence.id)
            .with_for_update()
        )
        for occurrence in session.exec(locked):
            if occurrence.station_id != station.id:
                raise ApiError(403, f"occurrence {occurrence.id} belongs to another station")
            occurrences[occurrence.id] = occurrence
    accepted = duplicate = 0
    seen = set(owners)
    for event in events:
        if event.uid in seen:
            duplicate += 1
            continue
        seen.add(event.uid)
        _apply(session, station, occurrences.get(event.occurrence_id), event)
        accepted += 1
    session.flush()
    return {
        "accepted": accepted,
        "duplicate": duplicate,
        "server_time": now.astimezone(UTC).isoformat(),
    }


# --- heartbeat -------------------------------------------------------------------------


def _dialect_insert(session: Session):
    """INSERT with ON CONFLICT for the session's database (SQLite or PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def heartbeat_values(payload: Any, *, now: datetime) -> dict[str, Any]:
    """A heartbeat's body checked, as the station's StationBeat columns."""
    if not isinstance(payload, dict):
        raise ApiError(422, "body must be an object")
    version = _text(payload.get("version", _MISSING), "version", limit=64)
    state = _text(payload.get("player_state", _MISSING), "player_state", limit=32)
    free = _integer(payload.get("free_disk_mb", _MISSING), "free_disk_mb", nullable=True)
    files = _integer(payload.get("cache_files", _MISSING), "cache_files", nullable=True)
    last_sync = payload.get("last_sync")
    synced = None if last_sync is None else parse_instant(last_sync, "last_sync")
    return {
        "seen_at": now,
        "version": version,
        "player_state": state,
        "free_disk_mb": free,
        "cache_files": files,
        "last_sync": synced,
    }


def store_heartbeats(session: Session, beats: dict[int, dict[str, Any]]) -> None:
    """Keep the latest heartbeat of each station (station id -> heartbeat_values())."""
    if not beats:
        return
    # One statement for them all, no read first: every agent beats every minute, and on
    # SQLite every write transaction holds the database's single write lock.
    insert = _dialect_insert(session)(StationBeat)
    names = next(iter(beats.values())).keys()
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[StationBeat.station_id],
            set_={name: insert.excluded[name] for name in names},
            # Two batches may commit out of order: a beat never replaces a newer one.
            where=insert.excluded.seen_at >= StationBeat.seen_at,
        ),
        [{"station_id": station_id, **values} for station_id, values in beats.items()],
    )


def record_heartbeat(
    session: Session, station: StationRef, payload: Any, *, now: datetime
) -> dict[str, Any]:
    store_heartbeats(session, {station.id: heartbeat_values(payload, now=now)})
    return {"server_time": now.astimezone(UTC).isoformat()}


# --- OpenAPI ---------------------------------------------------------------------------


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.0 description of the station API (served at /api/v1/openapi.json)."""
    instant = {"type": "string", "format": "date-time"}
    unauthorized = _error_response("Missing, unknown or revoked token")
    too_many = {
        **_error_response(
            "Too many requests from this token (or, for bad tokens, from this address); "
            "send nothing more before Retry-After seconds"
        ),
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Broadcaster station API",
            "version": API_VERSION,
            "description": (
                "What a station agent uses: its manifest of plays for the next "
                f"{MANIFEST_HOURS} h, the audio, and reports of what it played."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "status"],
                    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                },
                "ManifestItem": {
                    "type": "object",
                    "required": [
                        "occurrence_id",
                        "at",
                        "priority",
                        "schedule_id",
                        "title",
                        "version",
                        "audio_url",
                        "sha256",
                        "size",
                        "duration_s",
                        "repeat",
                    ],
                    "properties": {
                        "occurrence_id": {"type": "integer"},
                        "at": instant,
                        "priority": {"type": "string", "enum": list(PRIORITY_NAMES.values())},
                        "schedule_id": {"type": "integer"},
                        "title": {"type": "string"},
                        "version": {"type": "integer"},
                        "audio_url": {"type": "string"},
                        "sha256": {"type": "string", "pattern": SHA256_RE.pattern},
                        "size": {"type": "integer", "minimum": 0},
                        "duration_s": {"type": "number", "minimum": 0},
                        "repeat": {"type": "integer", "minimum": 1},
                    },
                },
                "Manifest": {
                    "type": "object",
                    "required": ["api_version", "station", "grace_s", "items", "server_time"],
                    "properties": {
                        "api_version": {"type": "string"},
                        "station": {
                            "type": "object",
                            "required": ["code", "name", "timezone"],
                            "properties": {
                                "code": {"type": "string"},
                                "name": {"type": "string"},
                                "timezone": {"type": "string"},
                            },
                        },
                        "grace_s": {"type": "integer"},
                        "items": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/ManifestItem"},
                        },
                        "server_time": instant,
                    },
                },
                "Event": {
                    "type": "object",
                    "required": ["id", "occurrence_id", "kind", "at"],
                    "properties": {
                        "id": {"type": "string", "pattern": UID_RE.pattern},
                        "occurrence_id": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                        "kind": {"type": "string", "enum": list(EVENT_KINDS)},
                        "at": instant,
                        "detail": {"type": "string", "maxLength": MAX_DETAIL},
                    },
                },
                "EventBatch": {
                    "type": "object",
                    "required": ["events"],
                    "properties": {
                        "events": {
                            "type": "array",
                            "maxItems": MAX_EVENTS,
                            "items": {"$ref": "#/components/schemas/Event"},
                        }
                    },
                },
                "EventResult": {
                    "type": "object",
                    "required": ["accepted", "duplicate", "server_time"],
                    "properties": {
                        "accepted": {"type": "integer"},
                        "duplicate": {"type": "integer"},
                        "server_time": instant,
                    },
                },
                "Heartbeat": {
                    "type": "object",
                    "properties": {
                        "version": {"type": "string", "maxLength": 64},
                        "free_disk_mb": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_ID,
                            "nullable": True,
                        },
                        "player_state": {"type": "string", "maxLength": 32},
                        "last_sync": {**instant, "nullable": True},
                        "cache_files": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_ID,
                            "nullable": True,
                        },
                    },
                },
                "ServerTime": {
                    "type": "object",
                    "required": ["server_time"],
                    "properties": {"server_time": instant},
                },
            },
        },
        "paths": {
            f"/api/{API_VERSION}/manifest": {
                "get": {
                    "operationId": "getManifest",
                    "summary": "The station's plays for the next 48 h",
                    "parameters": [
                        {
                            "name": "If-None-Match",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The manifest",
                            "headers": {"ETag": {"schema": {"type": "string"}}},
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Manifest"}
                                }
                            },
                        },
                        "304": {"description": "Unchanged since the ETag given"},
                        "401": unauthorized,
                        "429": too_many,
                    },
                }
            },
            f"/api/{API_VERSION}/audio/{{sha256}}.mp3": {
                "get": {
                    "operationId": "getAudio",
                    "summary": "An MP3 the station's manifest refers to",
                    "description": (
                        "Supports a single-range `Range: bytes=N-` request (resuming a "
                        "download): 206 with those bytes, or 416 past the end."
                    ),
                    "parameters": [
                        {
                            "name": "sha256",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The whole file",
                            "content": {
                                "audio/mpeg": {"schema": {"type": "string", "format": "binary"}}
                            },
                        },
                        "206": {
                            "description": "The requested bytes",
                            "content": {
                                "audio/mpeg": {"schema": {"type": "string", "format": "binary"}}
                            },
                        },
                        "304": {"description": "Unchanged"},
                        "401": unauthorized,
                        "429": too_many,
                        "404": _error_response("Not in this station's manifest"),
                        "416": {"description": "Range not satisfiable"},
                    },
                }
            },
            f"/api/{API_VERSION}/events": {
                "post": {
                    "operationId": "postEvents",
                    "summary": "Report what was played; a retried event is stored once",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/EventBatch"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Stored (all events of the batch, or none)",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/EventResult"}
                                }
                            },
                        },
                        "400": _error_response("Not JSON"),
                        "401": unauthorized,
                        "429": too_many,
                        "403": _error_response("An occurrence of another station"),
                        "409": _error_response("An event id used by another station"),
                        "413": _error_response("A body over 1 MB"),
                        "415": _error_response("Not application/json"),
                        "422": _error_response("Invalid events, or more than 500"),
                    },
                }
            },
            f"/api/{API_VERSION}/heartbeat": {
                "post": {
                    "operationId": "postHeartbeat",
                    "summary": "The agent is alive: version, free disk, player state",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Heartbeat"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Recorded",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ServerTime"}
                                }
                            },
                        },
                        "400": _error_response("Not JSON"),
                        "401": unauthorized,
                        "429": too_many,
                        "413": _error_response("Too large a body"),
                        "415": _error_response("Not application/json"),
                        "422": _error_response("Invalid fields"),
                    },
                }
            },
            f"/api/{API_VERSION}/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.0 document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
    }

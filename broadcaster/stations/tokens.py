"""Station API tokens: issuing, rotating and revoking them, and finding a token's station.

Tokens are random (secrets.token_urlsafe(32)); only their sha256 is stored, so a copy of
the database gives nobody a working token. A station has at most one token: rotating it
replaces the old one at once, revoking it leaves none.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, true
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from broadcaster.core import audit
from broadcaster.core.areas import get_area
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Station, User
from broadcaster.stations.registry import create_station
from broadcaster.stations.sqlread import read_rows


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
STATION_BY_TOKEN = sa_select(
    Station.id, Station.code, Station.name, Station.timezone, Station.token_hash
).where(Station.token_hash == bindparam("digest"), Station.is_active == true())


def station_for_token(session: Session | Engine, token: str | None) -> StationRef | None:
    """The active station this token belongs to, or None (unknown, revoked, inactive)."""
    if not token:
        return None
    digest = hash_token(token)
    rows = read_rows(session, STATION_BY_TOKEN, {"digest": digest}, single_row=True)
    row = rows[0] if rows else None
    # The lookup is by hash already; compare once more in constant time regardless.
    if row is None or not hmac.compare_digest(row[4].encode(), digest.encode()):
        return None
    return StationRef(id=row[0], code=row[1], name=row[2], timezone=row[3])

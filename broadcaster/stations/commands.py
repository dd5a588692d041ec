"""Commands from the province to a station's agent: queued, delivered, done once, audited.

An admin sends a station one of KINDS from its page; the agent picks pending commands up
at its next contact (the heartbeat's answer, or GET /api/v1/commands when something wakes
it), acts once (the command id is its idempotency key: the agent remembers the ids it
has handled) and reports the result, which the page shows. Every command and every
result goes to the audit log. Nothing a command carries can put content on air: the test
tone is the agent's own generated tone, and the other kinds take a number or a switch.

Delivery is a read first and a write only when something is queued: every agent's
heartbeat asks, and nearly always there is nothing. A command no agent picked up within
COMMAND_TTL expires: a test tone or a restart hours later would surprise everyone.
wake(station_id) tells listeners (helper "push"'s open connections) that a station has a
new command, so it can reach the agent within a second.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictStr, ValidationError
from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from broadcaster.core import audit
from broadcaster.core.db import saved_id, session_scope
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import (
    CommandState,
    PlayoutMode,
    Role,
    Station,
    StationCommand,
    User,
)
from broadcaster.stations import push
from broadcaster.stations.schemas import MAX_ID, ApiError, ServerTime
from broadcaster.stations.tokens import StationRef

log = logging.getLogger(__name__)

TEST_TONE, SET_VOLUME, AMPLIFIER, SYNC, RESTART = (
    "test_tone",
    "set_volume",
    "amplifier",
    "sync",
    "restart",
)
KINDS = (TEST_TONE, SET_VOLUME, AMPLIFIER, SYNC, RESTART)
COMMAND_TTL = timedelta(minutes=15)
REFRESH_S = 0.5  # how often a server process re-reads which stations have open commands
OPEN = (CommandState.QUEUED, CommandState.SENT)
FINAL = (CommandState.DONE, CommandState.FAILED)
MAX_RESULT = 500


class CommandError(BroadcasterError):
    code = "bad_command"


def command_args(kind: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The arguments a kind takes, checked; nothing else is ever stored or sent."""
    if kind not in KINDS:
        raise CommandError(f"unknown command {kind!r}", code="unknown_command", kind=kind)
    if kind == SET_VOLUME:
        percent = raw.get("percent")
        if isinstance(percent, str) and percent.strip().isdigit():
            percent = int(percent.strip())
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise CommandError("volume must be a whole number from 0 to 100", code="bad_volume")
        return {"percent": percent}
    if kind == AMPLIFIER:
        on = raw.get("on")
        if not isinstance(on, bool):
            raise CommandError("say whether to switch the amplifier on or off", code="bad_switch")
        return {"on": on}
    return {}


def send_command(
    session: Session,
    *,
    station: Station,
    kind: str,
    args: dict[str, Any] | None = None,
    actor: User | None,
    now: datetime,
) -> StationCommand:
    """Queue a command for the station's agent (admins only; agent stations only)."""
    if actor is None or actor.role != Role.ADMIN:
        raise CommandError("only an admin may send a station commands", code="not_allowed")
    if station.mode != PlayoutMode.AGENT or not station.is_active:
        raise CommandError(
            f"station {station.code} has no agent to command",
            code="no_agent",
            station=station.code,
        )
    checked = command_args(kind, args or {})
    command = StationCommand(
        station_id=station.id,
        kind=kind,
        args=json.dumps(checked, sort_keys=True),
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(command)
    session.flush()
    # In the same transaction: a held push connection hears of it within a second of the
    # commit, and not at all if the command is rolled back.
    push.wake(session, station_ids=[saved_id(station)], topic=push.COMMANDS)
    audit.record(
        session,
        actor=actor,
        action="send_command",
        entity_type="stationcommand",
        entity_id=command.id,
        after={"station": station.code, "kind": kind, "args": checked},
    )
    return command


def expire_stale(session: Session, *, now: datetime, station_id: int | None = None) -> int:
    """Queued commands older than COMMAND_TTL become expired (audited); returns how many."""
    query = select(StationCommand).where(
        StationCommand.state == CommandState.QUEUED,
        StationCommand.created_at < now - COMMAND_TTL,
    )
    if station_id is not None:
        query = query.where(StationCommand.station_id == station_id)
    expired = 0
    for command in session.exec(query).all():
        claimed = session.execute(
            update(StationCommand)
            .where(
                col(StationCommand.id) == command.id,
                col(StationCommand.state) == CommandState.QUEUED,
            )
            .values(state=CommandState.EXPIRED, done_at=now, result="not picked up in time")
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue  # delivered meanwhile
        expired += 1
        audit.record(
            session,
            actor=None,
            action="command_expired",
            entity_type="stationcommand",
            entity_id=command.id,
            before={"state": CommandState.QUEUED},
            after={"state": CommandState.EXPIRED},
        )
    session.expire_all()
    return expired


def _wire(command: StationCommand) -> dict[str, Any]:
    return {
        "id": command.id,
        "kind": command.kind,
        "args": json.loads(command.args or "{}"),
        "created_at": command.created_at.isoformat(),
    }


def pending_for(engine: Engine, station_id: int, *, now: datetime) -> list[dict[str, Any]]:
    """The commands the agent should act on, as sent to it; queued ones become sent.

    Sent ones are sent again until the agent reports: an answer lost on the way must not
    lose the command (the agent acts on an id once). Read first, write only if needed.
    """
    with session_scope(engine, write=False) as session:
        open_ = session.exec(
            select(StationCommand)
            .where(
                StationCommand.station_id == station_id,
                col(StationCommand.state).in_(OPEN),
            )
            .order_by(col(StationCommand.id))
        ).all()
    if not open_:
        return []
    if all(c.state == CommandState.SENT for c in open_):
        # Delivered before, result not in yet: nothing to expire or mark, so no write
        # (SQLite's one write lock) on every heartbeat until the agent reports.
        return [_wire(c) for c in open_]
    with session_scope(engine) as session:
        expire_stale(session, now=now, station_id=station_id)
        session.execute(
            update(StationCommand)
            .where(
                col(StationCommand.station_id) == station_id,
                col(StationCommand.state) == CommandState.QUEUED,
            )
            .values(state=CommandState.SENT, sent_at=now)
        )
        commands = session.exec(
            select(StationCommand)
            .where(
                StationCommand.station_id == station_id,
                StationCommand.state == CommandState.SENT,
            )
            .order_by(col(StationCommand.id))
        ).all()
        return [_wire(c) for c in commands]


class Command(BaseModel):
    """A command as the agent receives it (in the heartbeat's answer or GET /commands)."""

    id: int
    kind: Literal["test_tone", "set_volume", "amplifier", "sync", "restart"]
    args: dict[str, Any]
    created_at: Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class CommandList(ServerTime):
    commands: list[Command]


class CommandReport(BaseModel):
    """What the agent says it did with a command."""

    state: Literal["done", "failed"]
    result: Annotated[StrictStr, Field(max_length=MAX_RESULT)] = ""


def record_result(
    session: Session, station: StationRef, command_id: int, payload: Any, *, now: datetime
) -> dict[str, Any]:
    """Store the agent's result once; a repeated report changes nothing and says so."""
    try:
        report = CommandReport.model_validate(payload)
    except ValidationError:
        raise ApiError(422, "body must be {'state': 'done' or 'failed', 'result': text}") from None
    command = session.get(StationCommand, command_id) if 0 <= command_id <= MAX_ID else None
    if command is None or command.station_id != station.id:
        raise ApiError(404, "no such command for this station")
    text = report.result.replace("\x00", "\ufffd")
    changed = session.execute(
        update(StationCommand)
        .where(
            col(StationCommand.id) == command_id,
            col(StationCommand.state).not_in(FINAL),
        )
        .values(state=report.state, result=text, done_at=now)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(command)
        return {"id": command_id, "state": command.state, "duplicate": True}
    audit.record(
        session,
        actor=None,
        actor_label=f"agent:{station.code}"[:64],
        action="command_result",
        entity_type="stationcommand",
        entity_id=command_id,
        before={"state": command.state},
        after={"kind": command.kind, "state": report.state, "result": text},
    )
    return {"id": command_id, "state": report.state, "duplicate": False}


def recent(session: Session, station_id: int, *, now: datetime, limit: int = 20):
    """The station's latest commands for its page, stale queued ones shown as expired."""
    expire_stale(session, now=now, station_id=station_id)
    return session.exec(
        select(StationCommand)
        .where(StationCommand.station_id == station_id)
        .order_by(col(StationCommand.id).desc())
        .limit(limit)
    ).all()


class OpenCommands:
    """Which stations have commands open, re-read at most every `refresh_s` per process.

    Every agent's heartbeat asks whether it has commands, and nearly always none has:
    one query for all stations twice a second instead of one per heartbeat (a session
    and a query cost about a millisecond, and 100,000 agents beat 1,700 times a second).
    A new command reaches the agent at its first heartbeat after the next refresh.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._stations: frozenset[int] = frozenset()

    def _open_stations(self) -> frozenset[int]:
        with self._lock:
            if self._clock() - self._read_at >= self.refresh_s:
                with self.engine.connect() as connection:
                    rows = connection.execute(_OPEN_STATIONS).scalars().all()
                self._stations = frozenset(rows)
                self._read_at = self._clock()
            return self._stations

    def pending(self, station_id: int, *, now: datetime) -> list[dict[str, Any]]:
        """pending_for(), asked only of a station that has something open."""
        if station_id not in self._open_stations():
            return []
        return pending_for(self.engine, station_id, now=now)


_OPEN_STATIONS = (
    sa_select(StationCommand.station_id)  # type: ignore[call-overload]
    .where(col(StationCommand.state).in_(OPEN))
    .distinct()
)

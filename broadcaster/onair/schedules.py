"""Schedules: which approved script (or stream) plays where and when; the plan every part shares.

A schedule carries a script or, for a relay ("tiếp sóng"), an approved stream source with
a slot length and an optional fallback script whose audio plays while the stream is down.

`plan()` is the one way to compute plays for a period: the scheduler's materialization,
the web calendar, the CLI and (later) the station manifest all call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from broadcaster.core import audit
from broadcaster.core.areas import communes_of
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import (
    Area,
    Schedule,
    ScheduleTarget,
    Script,
    ScriptVersion,
    Station,
    StreamSource,
    StreamStatus,
    User,
    VersionStatus,
)
from broadcaster.newsroom.workflow import REVIEWERS, latest_approved
from broadcaster.onair.planner import occurrences
from broadcaster.onair.recurrence import (
    PlannedPlay,
    Priority,
    Recurrence,
    ScheduleSpec,
    StationTZ,
    TimeOfDayError,
    format_times,
    parse_times,
    stored_recurrence,
)
from broadcaster.onair.wording import describe

KINDS = ("weekly", "every_n_days", "once")
PRIORITY_NAMES = {
    "normal": Priority.NORMAL,
    "priority": Priority.PRIORITY,
    "emergency": Priority.EMERGENCY,
}


class ScheduleError(BroadcasterError):
    """A schedule that cannot be saved or imported; the message is safe to show."""


@dataclass
class ScheduleInput:
    name: str
    script: Script | None
    kind: str
    weekdays: list[int] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    every_days: int = 1
    anchor: date | None = None
    once_at: datetime | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    priority: int = Priority.NORMAL
    repeat: int = 1
    station_ids: list[int] = field(default_factory=list)
    area_ids: list[int] = field(default_factory=list)
    targets_all: bool = False
    pinned_version: ScriptVersion | None = None
    # A relay: the stream instead of a script, the slot in minutes, the fallback script.
    stream: StreamSource | None = None
    duration_min: int | None = None
    fallback_script: Script | None = None


MAX_RELAY_MINUTES = 24 * 60


def _stored_times(texts: Iterable[str]) -> str:
    """Times as staff typed them -> the stored "06:00,17:00" (sorted, unique)."""
    try:
        return format_times(parse_times(",".join(texts)))
    except TimeOfDayError as exc:
        raise ScheduleError(str(exc), code=exc.code, **exc.details) from None


def recurrence_of(schedule: Schedule) -> Recurrence:
    """When a stored schedule plays (its CSV columns decoded by `stored_recurrence`)."""
    if schedule.kind not in KINDS:
        raise ScheduleError(
            f"unknown recurrence {schedule.kind!r}; use weekly, every_n_days or once",
            code="unknown_recurrence",
            kind=schedule.kind,
        )
    try:
        return stored_recurrence(
            kind=schedule.kind,
            weekdays=schedule.weekdays,
            times=schedule.times,
            every_days=schedule.every_days,
            anchor=schedule.anchor,
            once_at=schedule.once_at,
        )
    except TimeOfDayError as exc:
        raise ScheduleError(str(exc), code=exc.code, **exc.details) from None
    except ValueError as exc:
        raise ScheduleError(str(exc), code="bad_recurrence") from exc


def summary(schedule: Schedule, *, today: date, lang: str = "vi") -> str:
    """In words, e.g. "Thứ 2 đến Chủ nhật, 06:00 và 17:00, từ 01/12 đến 31/12"."""
    return describe(
        recurrence_of(schedule), schedule.valid_from, schedule.valid_until, lang, today=today
    )


def target_station_ids(session: Session, schedule: Schedule) -> list[int]:
    """The active stations a schedule reaches, from its station and area targets."""
    active = select(Station.id, Station.area_id).where(Station.is_active.is_(True))
    if schedule.targets_all:
        return sorted(station_id for station_id, _ in session.exec(active))
    targets = session.exec(
        select(ScheduleTarget).where(ScheduleTarget.schedule_id == schedule.id)
    ).all()
    chosen = {t.station_id for t in targets if t.station_id}
    commune_ids: set[int] = set()
    for target in targets:
        if target.area_id:
            area = session.get(Area, target.area_id)
            if area is not None:
                commune_ids.update(c.id for c in communes_of(session, area))
    if commune_ids:
        chosen.update(
            station_id for station_id, area_id in session.exec(active) if area_id in commune_ids
        )
    active_ids = {station_id for station_id, _ in session.exec(active)}
    return sorted(chosen & active_ids)


def version_for(session: Session, schedule: Schedule) -> ScriptVersion | None:
    """The version that plays: the pinned one if approved, else the newest approved.

    For a relay, the version of its fallback script (None: no fallback, silence).
    """
    if schedule.stream_id is not None:
        fallback = (
            session.get(Script, schedule.fallback_script_id)
            if schedule.fallback_script_id
            else None
        )
        return latest_approved(session, fallback) if fallback else None
    if schedule.pinned_version_id:
        version = session.get(ScriptVersion, schedule.pinned_version_id)
        return version if version and version.status == VersionStatus.APPROVED else None
    script = session.get(Script, schedule.script_id) if schedule.script_id else None
    return latest_approved(session, script) if script else None


def approved_stream(session: Session, schedule: Schedule) -> StreamSource | None:
    """A relay's stream if it may go on air now (approved), else None."""
    if schedule.stream_id is None:
        return None
    stream = session.get(StreamSource, schedule.stream_id)
    return stream if stream is not None and stream.status == StreamStatus.APPROVED else None


def playable(session: Session, schedule: Schedule) -> bool:
    """Whether the schedule has anything approved to put on air: its script's approved
    version, or for a relay its approved stream (a missing fallback means silence)."""
    if schedule.stream_id is not None:
        return approved_stream(session, schedule) is not None
    return version_for(session, schedule) is not None


@dataclass(frozen=True)
class PlayListing:
    """A planned play with what the CLI, calendar and manifest show about it.

    A relay has its `stream`; its `script` and `version` are the fallback's (None: none).
    """

    at: datetime
    station: Station
    schedule: Schedule
    script: Script | None
    version: ScriptVersion | None
    priority: int
    stream: StreamSource | None = None

    @property
    def title(self) -> str:
        if self.stream is not None:
            return self.stream.name
        return self.script.title if self.script else "—"


def plan(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    station_ids: Iterable[int] | None = None,
    schedule_ids: Iterable[int] | None = None,
) -> list[PlayListing]:
    """Every play of every active schedule with an approved version, start <= at < end."""
    query = select(Schedule).where(Schedule.is_active.is_(True))
    if schedule_ids is not None:
        query = query.where(col(Schedule.id).in_(list(schedule_ids)))
    schedules = session.exec(query).all()
    wanted = set(station_ids) if station_ids is not None else None
    stations = {s.id: s for s in session.exec(select(Station).where(Station.is_active.is_(True)))}
    specs, versions, scripts, streams = [], {}, {}, {}
    for schedule in schedules:
        version = version_for(session, schedule)
        stream = approved_stream(session, schedule)
        if (stream is None) if schedule.stream_id is not None else (version is None):
            continue  # nothing unapproved ever reaches a loudspeaker
        targets = [i for i in target_station_ids(session, schedule) if i in stations]
        if wanted is not None:
            targets = [i for i in targets if i in wanted]
        if not targets:
            continue
        versions[schedule.id] = version
        scripts[schedule.id] = session.get(Script, version.script_id) if version else None
        streams[schedule.id] = stream
        specs.append(
            ScheduleSpec(
                id=schedule.id,
                recurrence=recurrence_of(schedule),
                valid_from=schedule.valid_from,
                valid_until=schedule.valid_until,
                priority=Priority(schedule.priority),
                station_ids=tuple(targets),
            )
        )
    by_id = {s.id: s for s in schedules}
    zones = [StationTZ(id=s.id, timezone=s.timezone) for s in stations.values()]
    plays: list[PlannedPlay] = occurrences(specs, zones, start, end) if specs else []
    return [
        PlayListing(
            at=p.at,
            station=stations[p.station_id],
            schedule=by_id[p.schedule_id],
            script=scripts[p.schedule_id],
            version=versions[p.schedule_id],
            priority=int(p.priority),
            stream=streams[p.schedule_id],
        )
        for p in plays
    ]


def _validate(session: Session, data: ScheduleInput) -> None:
    if not " ".join(data.name.split()):
        raise ScheduleError("the schedule needs a name", code="no_name")
    if data.kind not in KINDS:
        raise ScheduleError(
            f"unknown recurrence {data.kind!r}; use weekly, every_n_days or once",
            code="unknown_recurrence",
            kind=data.kind,
        )
    if data.priority not in (0, 1, 2):
        raise ScheduleError("priority must be normal, priority or emergency", code="bad_priority")
    if not 1 <= data.repeat <= 10:
        raise ScheduleError("repeat must be between 1 and 10", code="bad_repeat")
    if data.valid_from and data.valid_until and data.valid_until < data.valid_from:
        raise ScheduleError("the end date is before the start date", code="ends_before_start")
    if not (data.targets_all or data.station_ids or data.area_ids):
        raise ScheduleError(
            "choose at least one station, commune, group or province", code="no_targets"
        )
    if (data.script is None) == (data.stream is None):
        raise ScheduleError(
            "a schedule plays either a script or a stream (relay), exactly one of the two",
            code="script_or_stream",
        )
    if data.stream is not None:
        _validate_relay(session, data)
        return
    assert data.script is not None
    if data.fallback_script is not None or data.duration_min is not None:
        raise ScheduleError(
            "a fallback and a relay length belong to relay schedules only",
            code="relay_fields_without_stream",
        )
    if data.pinned_version is not None:
        if data.pinned_version.script_id != data.script.id:
            raise ScheduleError(
                "the pinned version belongs to another script", code="foreign_version"
            )
        if data.pinned_version.status != VersionStatus.APPROVED:
            raise ScheduleError("only an approved version can be pinned", code="unapproved_version")
    elif latest_approved(session, data.script) is None:
        raise ScheduleError(
            f"script {data.script.slug!r} has no approved version; only approved scripts "
            "can be scheduled",
            code="no_approved_version",
            script=data.script.slug,
        )


def _validate_relay(session: Session, data: ScheduleInput) -> None:
    assert data.stream is not None
    if data.stream.status != StreamStatus.APPROVED:
        raise ScheduleError(
            f"stream {data.stream.name!r} is not approved; only approved streams can be relayed",
            code="stream_not_approved",
            stream=data.stream.name,
        )
    if data.duration_min is None or not 1 <= data.duration_min <= MAX_RELAY_MINUTES:
        raise ScheduleError(
            f"a relay lasts between 1 and {MAX_RELAY_MINUTES} minutes",
            code="bad_relay_duration",
        )
    if data.pinned_version is not None:
        raise ScheduleError("a relay has no script version to pin", code="relay_pinned_version")
    if data.repeat != 1:
        raise ScheduleError("a relay plays once per slot", code="relay_repeat")
    fallback = data.fallback_script
    if fallback is not None and latest_approved(session, fallback) is None:
        raise ScheduleError(
            f"fallback script {fallback.slug!r} has no approved version",
            code="fallback_not_approved",
            script=fallback.slug,
        )


def _apply(schedule: Schedule, data: ScheduleInput) -> None:
    schedule.name = " ".join(data.name.split())[:200]
    schedule.script_id = data.script.id if data.script else None
    schedule.stream_id = data.stream.id if data.stream else None
    schedule.duration_min = data.duration_min if data.stream else None
    schedule.fallback_script_id = data.fallback_script.id if data.fallback_script else None
    schedule.pinned_version_id = data.pinned_version.id if data.pinned_version else None
    schedule.kind = data.kind
    schedule.weekdays = ",".join(str(d) for d in sorted(set(data.weekdays)))
    schedule.times = _stored_times(data.times)
    schedule.every_days = data.every_days
    schedule.anchor = data.anchor
    schedule.once_at = data.once_at.strftime("%Y-%m-%dT%H:%M") if data.once_at else ""
    schedule.valid_from = data.valid_from
    schedule.valid_until = data.valid_until
    schedule.priority = int(data.priority)
    schedule.repeat = data.repeat
    schedule.targets_all = data.targets_all
    schedule.updated_at = utcnow()


def snapshot(session: Session, schedule: Schedule) -> dict:
    targets = session.exec(
        select(ScheduleTarget).where(ScheduleTarget.schedule_id == schedule.id)
    ).all()
    return {
        **schedule.model_dump(exclude={"created_at", "updated_at", "created_by_id"}),
        "stations": sorted(t.station_id for t in targets if t.station_id),
        "areas": sorted(t.area_id for t in targets if t.area_id),
    }


def save_schedule(
    *, session: Session, data: ScheduleInput, actor: User | None, schedule: Schedule | None = None
) -> Schedule:
    """Create or change a schedule; refused unless the script has an approved version (or,
    for a relay, the stream is approved and the fallback, if any, has one)."""
    _validate(session, data)
    if Priority.EMERGENCY in (data.priority, schedule.priority if schedule else None):
        _may_set_emergency(actor)
    before = snapshot(session, schedule) if schedule else None
    schedule = schedule or Schedule(name="", kind=data.kind)
    if actor is not None and schedule.created_by_id is None:
        schedule.created_by_id = actor.id
    _apply(schedule, data)
    recurrence_of(schedule)  # raises ScheduleError for bad days, times or dates
    session.add(schedule)
    session.flush()
    for target in session.exec(
        select(ScheduleTarget).where(ScheduleTarget.schedule_id == schedule.id)
    ):
        session.delete(target)
    session.flush()
    for station_id in sorted(set(data.station_ids)):
        session.add(ScheduleTarget(schedule_id=schedule.id, station_id=station_id))
    for area_id in sorted(set(data.area_ids)):
        session.add(ScheduleTarget(schedule_id=schedule.id, area_id=area_id))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update" if before else "create",
        entity_type="schedule",
        entity_id=schedule.id,
        before=before,
        after=snapshot(session, schedule),
    )
    return schedule


def _may_set_emergency(actor: User | None) -> None:
    # An emergency interrupts whatever is playing; only those who approve content may
    # decide that. An editor may not create one, change one (its script, time or
    # targets), or switch one back on. `actor` None is the operator at the command line.
    if actor is not None and actor.role not in REVIEWERS:
        raise ScheduleError(
            "only an approver or an admin may create, change or switch on an emergency schedule",
            code="emergency_not_allowed",
        )


def set_active(*, session: Session, schedule: Schedule, active: bool, actor: User | None) -> None:
    if active and schedule.priority == Priority.EMERGENCY:
        _may_set_emergency(actor)
    schedule.is_active = active
    schedule.updated_at = utcnow()
    session.add(schedule)
    audit.record(
        session,
        actor=actor,
        action="activate" if active else "deactivate",
        entity_type="schedule",
        entity_id=schedule.id,
    )


def broadcast_now(
    *,
    session: Session,
    script: Script,
    actor: User,
    station_ids: list[int],
    area_ids: list[int],
    targets_all: bool,
    now: datetime,
    timezone: str,
) -> Schedule:
    """ "Phát ngay": an emergency one-off at this minute for the chosen targets."""
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0, tzinfo=None)
    data = ScheduleInput(
        name=f"Phát ngay: {script.title}",
        script=script,
        kind="once",
        once_at=local,
        priority=Priority.EMERGENCY,
        station_ids=station_ids,
        area_ids=area_ids,
        targets_all=targets_all,
    )
    return save_schedule(session=session, data=data, actor=actor)

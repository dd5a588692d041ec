"""Schedules: which approved script plays where and when; the plan every part shares.

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
    User,
    VersionStatus,
)
from broadcaster.newsroom.workflow import REVIEWERS, latest_approved
from broadcaster.onair.collision import level_of
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
    script: Script
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
    """The version that plays: the pinned one if approved, else the newest approved."""
    if schedule.pinned_version_id:
        version = session.get(ScriptVersion, schedule.pinned_version_id)
        return version if version and version.status == VersionStatus.APPROVED else None
    script = session.get(Script, schedule.script_id)
    return latest_approved(session, script) if script else None


@dataclass(frozen=True)
class PlayListing:
    """A planned play with what the CLI, calendar and manifest show about it."""

    at: datetime
    station: Station
    schedule: Schedule
    script: Script
    version: ScriptVersion
    priority: int


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
    specs, versions, scripts = [], {}, {}
    for schedule in schedules:
        version = version_for(session, schedule)
        if version is None:
            continue  # nothing unapproved ever reaches a loudspeaker
        targets = [i for i in target_station_ids(session, schedule) if i in stations]
        if wanted is not None:
            targets = [i for i in targets if i in wanted]
        if not targets:
            continue
        versions[schedule.id] = version
        scripts[schedule.id] = session.get(Script, schedule.script_id)
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


def _apply(schedule: Schedule, data: ScheduleInput) -> None:
    schedule.name = " ".join(data.name.split())[:200]
    schedule.script_id = data.script.id
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
    """Create or change a schedule; refused unless the script has an approved version."""
    _validate(session, data)
    if Priority.EMERGENCY in (data.priority, schedule.priority if schedule else None):
        _may_set_emergency(actor)
    before = snapshot(session, schedule) if schedule else None
    schedule = schedule or Schedule(name="", script_id=data.script.id, kind=data.kind)
    if actor is not None and schedule.created_by_id is None:
        schedule.created_by_id = actor.id
    _apply(schedule, data)
    schedule.level = level_of(session, targets_all=data.targets_all, area_ids=data.area_ids)
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

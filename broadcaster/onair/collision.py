"""The order of colliding priority items: by origin level, as the station or the province says.

Two priority items due at the same instant play one after the other; which goes first is
decided by where each comes from: the widest target of its schedule (the whole province,
a group such as a former district, or a commune or station: Schedule.level). A station
may have its own order (StationOrder rows, set on the station page by its operator or an
admin); without one, the province's default holds: province first, then group, then
commune. The result is a Cue's `order` (lower first, compared after priority), given to
agents as the manifest item's "order" and used the same way by local playout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from broadcaster.core import audit
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import Area, AreaKind, Schedule, Station, StationOrder, User

PROVINCE, GROUP, COMMUNE = 0, 1, 2
LEVELS = (PROVINCE, GROUP, COMMUNE)
LEVEL_NAMES = {PROVINCE: "province", GROUP: "group", COMMUNE: "commune"}
DEFAULT_ORDER = (PROVINCE, GROUP, COMMUNE)


def level_of(session: Session, *, targets_all: bool, area_ids: Iterable[int]) -> int:
    """A schedule's origin level: the widest of its targets (stations count as communes)."""
    if targets_all:
        return PROVINCE
    kinds = set(
        session.exec(select(Area.kind).where(Area.id.in_(list(area_ids)))).all()  # type: ignore[attr-defined]
    )
    if AreaKind.PROVINCE in kinds:
        return PROVINCE
    if AreaKind.GROUP in kinds:
        return GROUP
    return COMMUNE


def station_order(session: Session, station_id: int) -> tuple[int, ...]:
    """The station's levels, first to play first; the province's default if it set none."""
    rows = session.exec(
        select(StationOrder.level)
        .where(StationOrder.station_id == station_id)
        .order_by(StationOrder.position)  # type: ignore[arg-type]
    ).all()
    return tuple(rows) if sorted(rows) == list(LEVELS) else DEFAULT_ORDER


def set_station_order(
    session: Session, *, station: Station, order: Sequence[int], actor: User | None
) -> None:
    """Save the station's own order (every level once); the default order clears it."""
    if sorted(order) != list(LEVELS):
        raise BroadcasterError(
            "the order must name province, group and commune once each", code="bad_order"
        )
    assert station.id is not None
    before = station_order(session, station.id)
    for row in session.exec(select(StationOrder).where(StationOrder.station_id == station.id)):
        session.delete(row)
    session.flush()
    if tuple(order) != DEFAULT_ORDER:
        for position, level in enumerate(order):
            session.add(StationOrder(station_id=station.id, level=level, position=position))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="set_collision_order",
        entity_type="station",
        entity_id=station.code,
        before={"order": [LEVEL_NAMES[level] for level in before]},
        after={"order": [LEVEL_NAMES[level] for level in order]},
    )


def order_for(session: Session, station_id: int, schedule: Schedule | None) -> int:
    """The Cue order of a schedule's item at a station (lower first)."""
    level = schedule.level if schedule is not None else COMMUNE
    return station_order(session, station_id).index(level)


def order_column(occurrence_station_id, schedule_level):
    """The same as order_for() as an SQL expression, for the manifest's one statement.

    A station with its own order has a row per level; one without falls back to the
    default, where the position is the level itself.
    """
    own = (
        sa_select(StationOrder.position)
        .where(
            StationOrder.station_id == occurrence_station_id,
            StationOrder.level == schedule_level,
        )
        .scalar_subquery()
    )
    return func.coalesce(own, schedule_level)

"""Colliding priority items: ordered by origin level, the station's own order or the default.

Through the real station API (its manifest cache and the triggers that invalidate it on
SQLite) and the real queue of cues.
"""

from datetime import timedelta

import pytest
from sqlmodel import select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import Area, AreaKind, AudioFile, AuditEntry, Occurrence
from broadcaster.core.priority import Priority
from broadcaster.onair import collision
from broadcaster.onair.playout import Cue
from broadcaster.onair.schedules import ScheduleInput, save_schedule
from tests import stationapi_support as support
from tests.helpers import wait_until
from tests.web.test_api import (  # noqa: F401
    OWN,
    api,
    api_app,
    api_settings,
    bearer,
    db_session,
    on_air,
    tokens,
)


def schedule(session, name, **targets):
    return save_schedule(
        session=session,
        data=ScheduleInput(
            name=name,
            script=support.approved(session, support.HOW_TO),
            kind="weekly",
            weekdays=list(range(7)),
            times=["03:00"],
            priority=Priority.PRIORITY,
            **targets,
        ),
        actor=support.user(session, "editor"),
    )


def area(session, kind):
    return session.exec(select(Area).where(Area.kind == kind)).first()


def test_a_schedules_level_is_its_widest_target(db_session):  # noqa: F811
    station = support.station(db_session, OWN)
    commune = db_session.get(Area, station.area_id)
    cases = {
        "station": dict(station_ids=[station.id]),
        "commune": dict(area_ids=[commune.id]),
        "group and commune": dict(area_ids=[commune.id, area(db_session, AreaKind.GROUP).id]),
        "province": dict(area_ids=[area(db_session, AreaKind.PROVINCE).id, commune.id]),
        "everywhere": dict(targets_all=True),
    }
    levels = {name: schedule(db_session, name, **t).level for name, t in cases.items()}
    assert levels == {
        "station": collision.COMMUNE,
        "commune": collision.COMMUNE,
        "group and commune": collision.GROUP,
        "province": collision.PROVINCE,
        "everywhere": collision.PROVINCE,
    }


def test_the_manifest_orders_colliding_items_as_the_station_says(
    api,  # noqa: F811
    tokens,  # noqa: F811
    db_session,  # noqa: F811
    on_air,  # noqa: F811
):
    station = support.station(db_session, OWN)
    audio = db_session.get(AudioFile, db_session.get(Occurrence, on_air[1]["exclusive"]).audio_id)
    at = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    province = schedule(db_session, "tỉnh", area_ids=[area(db_session, AreaKind.PROVINCE).id])
    commune = schedule(db_session, "xã", station_ids=[station.id])
    db_session.commit()
    ids = {}
    for name, s in (("province", province), ("commune", commune)):
        occurrence = Occurrence(
            schedule_id=s.id,
            station_id=station.id,
            at=at,
            priority=s.priority,
            version_id=support.approved_version(db_session, s).id,
            audio_id=audio.id,
            status="rendered",
        )
        db_session.add(occurrence)
        db_session.commit()
        ids[occurrence.id] = name

    def orders():
        items = api.get("/api/v1/manifest", headers=bearer(tokens[OWN])).get_json()["items"]
        return {ids[i["occurrence_id"]]: i["order"] for i in items if i["occurrence_id"] in ids}

    assert orders() == {"province": 0, "commune": 2}  # the province's default
    collision.set_station_order(
        db_session,
        station=station,
        order=[collision.COMMUNE, collision.PROVINCE, collision.GROUP],
        actor=support.user(db_session, "operator"),
    )
    db_session.commit()
    # The manifest cache hears of the change through the triggers' log (within POLL_S).
    wait_until(lambda: orders() == {"province": 1, "commune": 0}, timeout=5)
    assert collision.order_for(db_session, station.id, commune) == 0
    entry = db_session.exec(
        select(AuditEntry).where(AuditEntry.action == "set_collision_order")
    ).one()
    assert '"commune", "province", "group"' in entry.after
    collision.set_station_order(
        db_session, station=station, order=list(collision.DEFAULT_ORDER), actor=None
    )
    db_session.commit()
    wait_until(lambda: orders() == {"province": 0, "commune": 2}, timeout=5)


def test_an_order_that_misses_a_level_is_refused(db_session):  # noqa: F811
    with pytest.raises(BroadcasterError) as refused:
        collision.set_station_order(
            db_session,
            station=support.station(db_session, OWN),
            order=[0, 0, 1],
            actor=None,
        )
    assert refused.value.code == "bad_order"


def test_a_cue_sorts_by_time_then_priority_then_order():
    at = utcnow()

    def cue(rank, order, schedule_id):
        return Cue(
            at=at,
            rank=rank,
            order=order,
            schedule_id=schedule_id,
            occurrence_id=schedule_id,
            path=None,
            duration_s=1,
        )

    cues = [cue(-1, 2, 1), cue(-1, 0, 2), cue(-2, 2, 3), cue(0, 0, 4)]
    assert [c.schedule_id for c in sorted(cues)] == [3, 2, 1, 4]

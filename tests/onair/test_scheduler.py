"""The scheduler's schedule jobs: one reading of the time rules, plain arguments, old rows."""

import pickle
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from broadcaster.core.models import Occurrence, OccurrenceStatus, PlayEvent
from broadcaster.onair import localplayout
from broadcaster.onair import occurrences as onair
from broadcaster.onair.planner import occurrences
from broadcaster.onair.playout import LEAD
from broadcaster.onair.recurrence import Recurrence, ScheduleSpec, StationTZ
from broadcaster.onair.trigger import RecurrenceTrigger
from tests.onair.test_occurrences import (
    _runtime,
    _wait_for,
    approved_script,
    weekly,
)


@pytest.fixture(autouse=True)
def _scheduler_engines_closed():
    from broadcaster.onair.scheduler import dispose_engines

    yield
    dispose_engines()


def fire_times(trigger, start, end):
    """The slots the trigger fires for (each fire comes LEAD before its slot)."""
    found, previous, now = [], None, start
    while (at := trigger.get_next_fire_time(previous, now)) is not None and at + LEAD < end:
        found.append(at + LEAD)
        previous, now = at, at + timedelta(seconds=1)
    return found


def planned(recurrence, zones, start, end, **window):
    stations = [StationTZ(i, zone) for i, zone in enumerate(zones, start=1)]
    spec = ScheduleSpec(
        id=1, recurrence=recurrence, station_ids=tuple(s.id for s in stations), **window
    )
    return sorted({p.at for p in occurrences([spec], stations, start, end)})


def test_it_fires_when_the_planner_says_across_a_dst_gap_and_zones():
    # 02:30 does not exist in Berlin on 29/03/2026: the planner plays it at 03:30 CEST.
    trigger = RecurrenceTrigger(
        kind="weekly", weekdays="0,6", times="02:30,17:00", zones=("Europe/Berlin", "Asia/Tokyo")
    )
    start, end = datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC)
    recurrence = Recurrence.weekly([0, 6], ["02:30", "17:00"])
    expected = planned(recurrence, ["Europe/Berlin", "Asia/Tokyo"], start, end)
    assert fire_times(trigger, start, end) == expected
    assert datetime(2026, 3, 29, 1, 30, tzinfo=UTC) in expected  # 03:30 CEST


def test_it_keeps_to_the_validity_window_and_then_ends():
    trigger = RecurrenceTrigger(
        kind="every_n_days",
        times="06:00",
        every_days=3,
        anchor=date(2026, 12, 1),
        valid_from=date(2026, 12, 4),
        valid_until=date(2026, 12, 10),
        zones=("Asia/Ho_Chi_Minh",),
    )
    start = datetime(2026, 11, 1, tzinfo=UTC)
    assert fire_times(trigger, start, start + timedelta(days=400)) == [
        datetime(2026, 12, 3, 23, tzinfo=UTC),
        datetime(2026, 12, 6, 23, tzinfo=UTC),
        datetime(2026, 12, 9, 23, tzinfo=UTC),
    ]
    assert trigger.get_next_fire_time(None, datetime(2026, 12, 10, tzinfo=UTC)) is None


def test_a_one_off_fires_once_in_each_zone():
    trigger = RecurrenceTrigger(
        kind="once", once_at="2026-12-24T20:00", zones=("Asia/Ho_Chi_Minh", "Asia/Bangkok")
    )
    start = datetime(2026, 12, 1, tzinfo=UTC)
    assert fire_times(trigger, start, start + timedelta(days=60)) == [
        datetime(2026, 12, 24, 13, tzinfo=UTC)
    ]


def test_it_pickles_as_plain_values():
    trigger = RecurrenceTrigger(
        kind="weekly", weekdays="0", times="06:00", zones=("Asia/Ho_Chi_Minh",)
    )
    state = trigger.__getstate__()
    assert all(isinstance(v, str | int | tuple | date | type(None)) for v in state.values()), state
    again = pickle.loads(pickle.dumps(trigger))
    now = datetime(2026, 11, 29, tzinfo=UTC)
    assert again.get_next_fire_time(None, now) == datetime(2026, 11, 29, 23, tzinfo=UTC) - LEAD


def test_it_fires_a_lead_time_before_each_slot_and_never_twice_for_one():
    """The job claims ahead; a slot whose lead has begun still fires, at once."""
    trigger = RecurrenceTrigger(
        kind="weekly", weekdays="0,1,2,3,4,5,6", times="06:00", zones=("Asia/Ho_Chi_Minh",)
    )
    slot = datetime(2026, 11, 29, 23, tzinfo=UTC)
    fire = trigger.get_next_fire_time(None, slot - timedelta(hours=1))
    assert fire == slot - LEAD
    assert trigger.get_next_fire_time(None, slot - LEAD / 2) == slot - LEAD  # due: at once
    after = trigger.get_next_fire_time(fire, fire + timedelta(milliseconds=10))
    assert after == slot + timedelta(days=1) - LEAD


def test_a_recurrence_that_cannot_be_read_is_refused_before_it_is_stored():
    with pytest.raises(ValueError, match="06h61"):
        RecurrenceTrigger(kind="weekly", weekdays="0", times="06h61", zones=("Asia/Bangkok",))


def _scheduler(settings):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from broadcaster.onair.scheduler import JOBS_TABLE, engine_for

    scheduler = BackgroundScheduler(timezone="UTC")
    store = SQLAlchemyJobStore(engine=engine_for(settings.database_url), tablename=JOBS_TABLE)
    scheduler.add_jobstore(store, "default")
    scheduler.start(paused=True)
    return scheduler


def _age_job_rows(settings, schedule_id):
    """Rewrite the stored job as the old flat layout wrote it: broadcaster.scheduling."""
    from broadcaster.onair.scheduler import JOBS_TABLE, engine_for

    with engine_for(settings.database_url).begin() as connection:
        row = connection.execute(
            text(f"SELECT job_state FROM {JOBS_TABLE} WHERE id = :id"),
            {"id": f"schedule-{schedule_id}"},
        ).one()
        state = pickle.loads(row.job_state)
        state["func"] = "broadcaster.scheduling:fire_schedule"
        state["args"] = (schedule_id,)
        connection.execute(
            text(f"UPDATE {JOBS_TABLE} SET job_state = :state WHERE id = :id"),
            {
                "state": pickle.dumps(state, pickle.HIGHEST_PROTOCOL),
                "id": f"schedule-{schedule_id}",
            },
        )


def test_a_job_row_of_the_old_layout_is_replaced_and_the_slot_still_plays(settings, session):
    from broadcaster.onair.scheduler import sync_jobs

    script = approved_script(session)
    schedule = weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    scheduler = _scheduler(settings)
    try:
        assert sync_jobs(scheduler, settings.database_url) == (1, 0)
    finally:
        scheduler.shutdown(wait=False)
    _age_job_rows(settings, schedule.id)

    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    session.commit()
    runtime = _runtime(settings, clock=lambda: slot + timedelta(seconds=1))
    localplayout.attach(runtime)
    scheduler = _scheduler(settings)  # as after an upgrade: a new process, the old rows
    try:
        # APScheduler cannot restore the old job, drops it, and the sync adds it again.
        assert sync_jobs(scheduler, settings.database_url) == (1, 0)
        job = scheduler.get_job(f"schedule-{schedule.id}")
        assert job.func_ref == "broadcaster.onair.jobs:fire_schedule"
        assert job.args == (localplayout.playout_key(settings.database_url), schedule.id)
        job.func(*job.args)  # what the scheduler runs at the slot
        occurrence_id = session.exec(select(Occurrence.id)).one()
        _wait_for(session, occurrence_id, OccurrenceStatus.PLAYED)
    finally:
        scheduler.shutdown(wait=False)
        localplayout.detach(runtime)
        runtime.close()
    kinds = [e.kind for e in session.exec(select(PlayEvent).order_by(PlayEvent.id))]
    assert kinds.count("started") == 1 and kinds.count("finished") == 1


def test_a_schedule_job_without_local_playout_in_this_process_plays_nothing(settings, session):
    from broadcaster.onair.jobs import fire_schedule

    script = approved_script(session)
    schedule = weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    session.commit()
    assert localplayout.attached(localplayout.playout_key(settings.database_url)) is None
    fire_schedule(localplayout.playout_key(settings.database_url), schedule.id)
    session.expire_all()
    assert session.exec(select(Occurrence.status)).one() == OccurrenceStatus.PLANNED


def test_a_schedule_job_stores_no_database_password():
    key = localplayout.playout_key("postgresql+psycopg://radio:s3cret@db:5432/broadcaster")
    assert "s3cret" not in key and key.endswith("@db:5432/broadcaster")


def test_a_phat_ngay_is_planned_and_rendered_within_seconds_not_at_the_next_plan_ahead(
    settings, session
):
    from broadcaster.core.dbtypes import utcnow
    from broadcaster.core.models import Station
    from broadcaster.onair.scheduler import build_scheduler
    from broadcaster.onair.schedules import broadcast_now
    from tests.helpers import wait_until
    from tests.onair.test_occurrences import user

    script = approved_script(session)
    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    session.commit()
    scheduler = build_scheduler(settings)
    scheduler.remove_job("plan-ahead")  # every 5 min: only the sync can explain what follows
    scheduler.start()
    try:
        time.sleep(1)  # the start-up jobs (heartbeat, first sync, sweep) have written
        schedule = broadcast_now(
            session=session,
            script=script,
            actor=user(session, "approver"),
            station_ids=[station.id],
            area_ids=[],
            targets_all=False,
            now=utcnow(),
            timezone=settings.timezone,
        )
        session.commit()

        def in_the_manifest():
            session.rollback()  # a fresh read: the scheduler writes in its own transactions
            found = session.exec(
                select(Occurrence).where(Occurrence.schedule_id == schedule.id)
            ).all()
            return len(found) == 1 and found[0].audio_id is not None

        wait_until(in_the_manifest, timeout=30)
    finally:
        scheduler.shutdown(wait=False)

"""Schedules on air with an injected clock: the plan, occurrences, claims, misses, playout."""

import threading
import time as walltime
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from broadcaster.core import db
from broadcaster.core.models import (
    Occurrence,
    OccurrenceStatus,
    PlayEvent,
    Script,
    ScriptVersion,
    Station,
    User,
    VersionStatus,
)
from broadcaster.core.priority import Priority
from broadcaster.newsroom.workflow import add_version, approve, submit
from broadcaster.onair import occurrences as onair
from broadcaster.onair.playout import LEAD
from broadcaster.onair.schedules import ScheduleError, ScheduleInput, plan, save_schedule

MONDAY = date(2026, 11, 30)


@pytest.fixture(autouse=True)
def _scheduler_engines_closed():
    from broadcaster.onair.scheduler import dispose_engines

    yield
    dispose_engines()  # the scheduler's jobs keep one engine per database URL


def user(session, name):
    return session.exec(select(User).where(User.username == name)).one()


def approved_script(session, slug="bluezone-nhac-nho-hang-ngay"):
    script = session.exec(select(Script).where(Script.slug == slug)).one()
    version = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script.id)).one()
    if version.status != VersionStatus.APPROVED:
        submit(session=session, version=version, actor=user(session, "editor"))
        approve(session=session, version=version, actor=user(session, "approver"))
    return script


def station(session, code):
    return session.exec(select(Station).where(Station.code == code)).one()


def weekly(session, script, codes, days, times, **extra):
    data = ScheduleInput(
        name=extra.pop("name", f"{script.slug} {days} {times}"),
        script=script,
        kind="weekly",
        weekdays=days,
        times=times,
        station_ids=[station(session, c).id for c in codes],
        **extra,
    )
    schedule = save_schedule(session=session, data=data, actor=user(session, "editor"))
    session.commit()
    return schedule


def test_a_monday_0600_slot_in_hue_is_sunday_2300_utc(session):
    script = approved_script(session)
    weekly(session, script, ["HUE-THUAN-AN"], [0], ["06:00"])
    sunday = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    plays = plan(session, sunday, sunday + timedelta(days=1))
    assert [p.at for p in plays] == [datetime(2026, 11, 29, 23, 0, tzinfo=UTC)]


def test_only_approved_scripts_can_be_scheduled(session):
    script = session.exec(select(Script).where(Script.slug == "bluezone-cach-cai-dat")).one()
    with pytest.raises(ScheduleError, match="no approved version"):
        weekly(session, script, ["HUE-THUAN-AN"], [0], ["06:00"])


def test_materializing_twice_creates_each_occurrence_once(session):
    script = approved_script(session)
    weekly(session, script, ["HUE-THUAN-AN", "HUE-PHU-XUAN"], list(range(7)), ["06:00", "17:00"])
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    first = onair.materialize(session, now=now, hours=48)
    again = onair.materialize(session, now=now, hours=48)
    session.commit()
    assert first == 8 and again == 0
    assert len(session.exec(select(Occurrence)).all()) == 8


def test_unstarted_plays_follow_a_newly_approved_version(session):
    script = approved_script(session)
    weekly(session, script, ["HUE-THUAN-AN"], list(range(7)), ["06:00"])
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    onair.materialize(session, now=now, hours=48)
    new = add_version(
        session=session,
        script=script,
        body="Bà con hãy cài Bluezone.",
        voice="central",
        actor=user(session, "editor"),
    )
    onair.materialize(session, now=now, hours=48)  # still the old approved version
    assert {o.version_id for o in session.exec(select(Occurrence))} != {new.id}
    submit(session=session, version=new, actor=user(session, "editor"))
    approve(session=session, version=new, actor=user(session, "approver"))
    onair.materialize(session, now=now, hours=48)
    assert {o.version_id for o in session.exec(select(Occurrence))} == {new.id}


def test_editing_a_schedule_removes_the_plays_it_no_longer_makes(session):
    script = approved_script(session)
    schedule = weekly(session, script, ["HUE-THUAN-AN"], list(range(7)), ["06:00", "17:00"])
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    onair.materialize(session, now=now, hours=24)
    data = ScheduleInput(
        name=schedule.name,
        script=script,
        kind="weekly",
        weekdays=list(range(7)),
        times=["06:00"],
        station_ids=[station(session, "HUE-THUAN-AN").id],
    )
    save_schedule(session=session, data=data, actor=None, schedule=schedule)
    onair.materialize(session, now=now, hours=24)
    hours = sorted(o.at.hour for o in session.exec(select(Occurrence)))
    assert hours == [23]  # 06:00 in Huế; the 17:00 (10:00 UTC) play is gone


def test_exactly_one_of_many_concurrent_claims_wins(engine, session):
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    onair.materialize(session, now=now, hours=24)
    session.commit()
    occurrence_id = session.exec(select(Occurrence.id)).first()
    results = []

    def try_claim():
        with Session(engine) as own:
            won = onair.claim(own, occurrence_id, now=now)
            own.commit()
            results.append(won)

    threads = [threading.Thread(target=try_claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1


def _racing_a_claim(engine, occurrence_id, now, work) -> None:
    """Run work() in another thread while a claim of the occurrence is not yet committed.

    The claim's transaction commits only once work() has had time to read the occurrence
    and block (PostgreSQL: on the row; SQLite: on the write lock).
    """
    claimer = Session(db.writer(engine))
    try:
        assert onair.claim(claimer, occurrence_id, now=now)
        failures = []

        def run():
            try:
                work()
            except Exception as exc:  # reported in the test's thread
                failures.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(0.5)
        claimer.commit()
    finally:
        claimer.close()
    thread.join(30)
    assert not thread.is_alive() and not failures, failures


def test_a_version_approved_as_a_play_is_claimed_does_not_reopen_it(engine, session):
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    occurrence = session.exec(select(Occurrence)).one()
    played_version = occurrence.version_id
    new = add_version(
        session=session,
        script=script,
        body="Bà con hãy cài Bluezone.",
        voice="central",
        actor=user(session, "editor"),
    )
    submit(session=session, version=new, actor=user(session, "editor"))
    approve(session=session, version=new, actor=user(session, "approver"))
    session.commit()

    def replan():
        with db.session_scope(engine) as other:
            onair.materialize(other, now=slot, hours=1)

    _racing_a_claim(engine, occurrence.id, slot, replan)
    session.close()  # forget what it read: load what the others committed
    occurrence = session.get(Occurrence, occurrence.id)
    assert occurrence.status == OccurrenceStatus.DISPATCHED  # not open again: plays once
    assert occurrence.version_id == played_version


def test_a_play_claimed_at_the_end_of_its_grace_window_is_not_marked_missed(engine, session):
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    session.commit()
    occurrence_id = session.exec(select(Occurrence.id)).one()
    swept = []

    def sweep():
        with db.session_scope(engine) as other:
            swept.append(onair.sweep(other, now=slot + onair.GRACE + timedelta(seconds=1)))

    _racing_a_claim(engine, occurrence_id, slot + onair.GRACE, sweep)
    assert swept == [0]
    session.close()  # forget what it read: load what the others committed
    assert session.get(Occurrence, occurrence_id).status == OccurrenceStatus.DISPATCHED


def test_audio_rendered_after_the_play_was_claimed_does_not_reopen_it(settings, engine, session):
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    session.commit()
    occurrence = session.exec(select(Occurrence)).one()  # read before the render starts
    session.commit()
    with db.session_scope(engine) as other:  # the slot fires while the audio renders
        assert onair.claim(other, occurrence.id, now=slot)
    assert onair.render_one(session, settings, occurrence, now=slot) is False
    session.commit()
    session.close()  # forget what it read: load what the others committed
    assert session.get(Occurrence, occurrence.id).status == OccurrenceStatus.DISPATCHED


def test_a_play_past_its_grace_window_is_missed_with_a_reason(session):
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN", "HUE-A-LUOI-1"], list(range(7)), ["06:00"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    assert onair.sweep(session, now=slot + onair.GRACE - timedelta(seconds=1)) == 0
    assert onair.sweep(session, now=slot + onair.GRACE + timedelta(seconds=1)) == 2
    reasons = {o.reason for o in session.exec(select(Occurrence))}
    assert any("scheduler" in r for r in reasons) and any("operator" in r for r in reasons)
    kinds = [e.kind for e in session.exec(select(PlayEvent))]
    assert kinds.count("missed") == 2


def _runtime(settings, clock=None):
    from broadcaster.onair.players import NullPlayer
    from broadcaster.onair.scheduler import Runtime

    return Runtime(settings, player_factory=lambda: NullPlayer(time_scale=0.01), clock=clock)


def _wait_for(session, occurrence_id, status, timeout=20):
    deadline = walltime.monotonic() + timeout
    while walltime.monotonic() < deadline:
        session.commit()  # end this session's snapshot to see what the playout thread wrote
        session.expire_all()
        occurrence = session.get(Occurrence, occurrence_id)
        if occurrence.status == status:
            return occurrence
        walltime.sleep(0.05)
    found = session.get(Occurrence, occurrence_id)
    raise AssertionError(f"occurrence {occurrence_id} never became {status}: {found}")


def test_after_a_restart_within_grace_it_plays_late_and_only_once(settings, session):
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    session.commit()
    restarted_at = slot + timedelta(minutes=3)
    runtime = _runtime(settings, clock=lambda: restarted_at)
    try:
        assert runtime.dispatch(now=restarted_at) == 1
        assert runtime.dispatch(now=restarted_at) == 0  # a second dispatcher finds it taken
        occurrence_id = session.exec(select(Occurrence.id)).one()
        occurrence = _wait_for(session, occurrence_id, OccurrenceStatus.PLAYED)
    finally:
        runtime.close()
    assert occurrence.late and occurrence.started_at is not None
    kinds = [e.kind for e in session.exec(select(PlayEvent).order_by(PlayEvent.id))]
    assert kinds.count("started") == 1 and kinds.count("finished") == 1


def test_beyond_grace_a_restart_logs_the_miss_and_plays_nothing(settings, session):
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    session.commit()
    runtime = _runtime(settings)
    try:
        late = slot + onair.GRACE + timedelta(minutes=1)
        assert runtime.dispatch(now=late) == 0
    finally:
        runtime.close()
    onair.sweep(session, now=late)
    assert session.exec(select(Occurrence)).one().status == OccurrenceStatus.MISSED


def test_an_unapproved_new_version_never_goes_on_air(session):
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    approved = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script.id)).one()
    add_version(
        session=session,
        script=script,
        body="Bản nháp chưa duyệt.",
        voice="central",
        actor=user(session, "editor"),
    )
    sunday = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    assert {p.version.id for p in plan(session, sunday, sunday + timedelta(days=2))} == {
        approved.id
    }


def test_schedule_changes_reach_the_running_scheduler(settings, session):
    from apscheduler.schedulers.background import BackgroundScheduler

    from broadcaster.onair.scheduler import JOBS_TABLE, sync_jobs

    script = approved_script(session)
    schedule = weekly(session, script, ["HUE-PHU-XUAN"], [0], ["06:00"])
    scheduler = BackgroundScheduler(timezone="UTC")
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from broadcaster.core.db import make_engine

    job_engine = make_engine(settings.database_url)
    scheduler.add_jobstore(SQLAlchemyJobStore(engine=job_engine, tablename=JOBS_TABLE), "default")
    scheduler.start(paused=True)
    try:
        assert sync_jobs(scheduler, settings.database_url) == (1, 0)
        job = scheduler.get_job(f"schedule-{schedule.id}")
        first = job.trigger.get_next_fire_time(None, datetime(2026, 11, 29, tzinfo=UTC))
        assert first == datetime(2026, 11, 29, 23, 0, tzinfo=UTC) - LEAD
        assert sync_jobs(scheduler, settings.database_url) == (0, 0)  # nothing changed
        data = ScheduleInput(
            name=schedule.name,
            script=script,
            kind="weekly",
            weekdays=[0],
            times=["17:00"],
            station_ids=[station(session, "HUE-PHU-XUAN").id],
        )
        save_schedule(session=session, data=data, actor=None, schedule=schedule)
        session.commit()
        assert sync_jobs(scheduler, settings.database_url) == (1, 0)
        job = scheduler.get_job(f"schedule-{schedule.id}")
        moved = job.trigger.get_next_fire_time(None, datetime(2026, 11, 29, tzinfo=UTC))
        assert moved == datetime(2026, 11, 30, 10, 0, tzinfo=UTC) - LEAD
        schedule.is_active = False
        session.add(schedule)
        session.commit()
        assert sync_jobs(scheduler, settings.database_url) == (0, 1)
        assert scheduler.get_job(f"schedule-{schedule.id}") is None
    finally:
        scheduler.shutdown(wait=False)
        job_engine.dispose()


def test_items_due_together_play_back_to_back_by_priority_and_emergency_interrupts(tmp_path):
    from broadcaster.onair.players import NullPlayer
    from broadcaster.onair.playout import Cue, PlayoutQueue

    path = tmp_path / "a.mp3"
    path.write_bytes(b"x")
    events = []
    done = threading.Event()

    def on_event(kind, item, detail):
        events.append((kind, item.schedule_id))
        if len([e for e in events if e[0] in ("finished", "interrupted")]) == 4:
            done.set()

    queue = PlayoutQueue(NullPlayer(), on_event)
    slot = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    blocker = Cue(
        at=slot - timedelta(minutes=1),
        rank=-Priority.NORMAL,
        schedule_id=1,
        occurrence_id=1,
        path=path,
        duration_s=5,
    )
    queue.submit(blocker)
    walltime.sleep(0.2)  # the long normal item is playing now
    for schedule_id, priority in ((2, Priority.NORMAL), (3, Priority.PRIORITY)):
        queue.submit(
            Cue(
                at=slot,
                rank=-priority,
                schedule_id=schedule_id,
                occurrence_id=schedule_id,
                path=path,
                duration_s=0.1,
            )
        )
    queue.submit(
        Cue(
            at=slot,
            rank=-Priority.EMERGENCY,
            schedule_id=4,
            occurrence_id=4,
            path=path,
            duration_s=0.1,
        )
    )
    assert done.wait(10)
    queue.close()
    assert ("interrupted", 1) in events
    order = [schedule_id for kind, schedule_id in events if kind == "started"]
    assert order == [1, 4, 3, 2]
    starts = [i for i, e in enumerate(events) if e[0] == "started"]
    ends = [i for i, e in enumerate(events) if e[0] in ("finished", "interrupted")]
    assert all(end < next_start for end, next_start in zip(ends, starts[1:], strict=False))


def test_a_restarted_scheduler_replays_what_a_dead_one_claimed_and_never_replays_a_cut_play(
    settings, session
):
    """Killed after claiming two plays: one was on air, the other still queued."""
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00", "06:01"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    on_air, queued = session.exec(select(Occurrence).order_by(Occurrence.at)).all()
    on_air.status, queued.status = OccurrenceStatus.PLAYING, OccurrenceStatus.DISPATCHED
    session.add_all([on_air, queued])
    session.commit()
    restarted_at = slot + timedelta(minutes=3)
    local = [station(session, "HUE-PHU-XUAN").id]

    assert onair.release_abandoned(session, now=restarted_at, station_ids=local) == (1, 1)
    session.commit()
    assert onair.release_abandoned(session, now=restarted_at, station_ids=local) == (0, 0)
    session.refresh(on_air)
    assert on_air.status == OccurrenceStatus.SKIPPED
    assert on_air.reason == onair.ABANDONED_PLAY
    runtime = _runtime(settings, clock=lambda: restarted_at)
    try:
        assert runtime.dispatch(now=restarted_at) == 1  # only the one that never went out
        played = _wait_for(session, queued.id, OccurrenceStatus.PLAYED)
    finally:
        runtime.close()
    assert played.late
    starts = session.exec(select(PlayEvent).where(PlayEvent.kind == "started")).all()
    assert [e.occurrence_id for e in starts] == [queued.id]


def test_a_play_held_for_air_but_never_released_plays_after_a_restart_and_a_released_one_not(
    settings, session
):
    """Killed within LEAD of two instants: the release journal names the one whose sound
    had left, not the one still waiting for its instant."""
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00", "06:01"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    sounded, silent = session.exec(select(Occurrence).order_by(Occurrence.at)).all()
    sounded.status = silent.status = OccurrenceStatus.PLAYING  # both held for air (READY)
    session.add_all([sounded, silent])
    session.commit()
    local = [station(session, "HUE-PHU-XUAN").id]
    restarted_at = slot + timedelta(minutes=2)

    assert onair.release_abandoned(
        session, now=restarted_at, station_ids=local, released={sounded.id}
    ) == (1, 1)
    session.commit()
    session.refresh(sounded)
    session.refresh(silent)
    assert sounded.status == OccurrenceStatus.SKIPPED and sounded.reason == onair.ABANDONED_PLAY
    assert silent.status == OccurrenceStatus.PLANNED  # open again (no audio here yet)
    reopened = session.exec(
        select(PlayEvent).where(PlayEvent.occurrence_id == silent.id, PlayEvent.kind == "released")
    ).one()
    assert "before its sound" in reopened.detail


def test_a_queued_play_whose_grace_window_passed_before_it_could_start_is_logged_not_played(
    settings, session, tmp_path
):
    """E.g. the database was unavailable until then: it must not go out late."""
    from broadcaster.onair.playout import Cue

    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    occurrence = session.exec(select(Occurrence)).one()
    occurrence.status = OccurrenceStatus.DISPATCHED
    session.add(occurrence)
    session.commit()
    audio = tmp_path / "a.mp3"
    audio.write_bytes(b"x")
    late = slot + onair.GRACE + timedelta(seconds=30)
    runtime = _runtime(settings, clock=lambda: late)
    try:
        runtime.queue_for(occurrence.station_id).submit(
            Cue(
                at=slot,
                rank=0,
                schedule_id=1,
                occurrence_id=occurrence.id,
                path=audio,
                duration_s=1,
            )
        )
        skipped = _wait_for(session, occurrence.id, OccurrenceStatus.SKIPPED)
    finally:
        runtime.close()
    assert skipped.reason.startswith("not started within the grace window")
    kinds = [e.kind for e in session.exec(select(PlayEvent).order_by(PlayEvent.id))]
    assert "started" not in kinds and "skipped" in kinds


def test_a_lexicon_edit_after_approval_does_not_change_what_goes_on_air(session, settings):
    from broadcaster.speech import lexicon

    script = approved_script(session)
    schedule = weekly(session, script, ["HUE-THUAN-AN"], [0], ["06:00"])
    approved = session.get(ScriptVersion, schedule_version_id(session, schedule))
    assert "Bluezone" in approved.body
    entry = lexicon.save_entry(
        session=session,
        term="Bluezone",
        reading="ứng dụng bị đổi tên",
        actor=user(session, "editor"),
        entry_id=lexicon_entry_id(session, "Bluezone"),
    )
    session.commit()
    occurrence = Occurrence(
        schedule_id=schedule.id,
        station_id=station(session, "HUE-THUAN-AN").id,
        at=datetime(2026, 11, 29, 23, 0, tzinfo=UTC),
        priority=schedule.priority,
        version_id=approved.id,
    )
    session.add(occurrence)
    session.flush()
    on_air = onair.render_occurrence(session, settings, occurrence)
    assert "blu dôn" in on_air.spoken_text.lower()
    assert "bị đổi tên" not in on_air.spoken_text
    # The edit is not lost: the next version approved reads with it.
    assert lexicon.for_version(session, ScriptVersion(body=""))[entry.term] == entry.reading


def schedule_version_id(session, schedule):
    return session.exec(
        select(ScriptVersion.id).where(
            ScriptVersion.script_id == schedule.script_id,
            ScriptVersion.status == VersionStatus.APPROVED,
        )
    ).one()


def lexicon_entry_id(session, term):
    from broadcaster.core.models import LexiconEntry

    return session.exec(select(LexiconEntry.id).where(LexiconEntry.term == term)).one()


def test_a_play_reported_after_it_was_swept_missed_is_played_without_the_miss_reason(session):
    script = approved_script(session)
    weekly(session, script, ["HUE-THUAN-AN"], [0], ["06:00"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    session.commit()
    assert onair.sweep(session, now=slot + onair.GRACE + timedelta(minutes=1)) == 1
    occurrence = session.exec(select(Occurrence)).one()
    assert occurrence.status == OccurrenceStatus.MISSED and occurrence.reason
    # The station's agent played it on time while offline; its reports arrive now.
    onair.apply_outcome(session, occurrence, onair.Outcome("started"), at=slot, actor="agent")
    onair.apply_outcome(
        session,
        occurrence,
        onair.Outcome("finished"),
        at=slot + timedelta(seconds=80),
        actor="agent",
    )
    session.commit()
    assert occurrence.status == OccurrenceStatus.PLAYED
    assert occurrence.reason == "" and not occurrence.late

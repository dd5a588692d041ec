"""Local playout: the stations the scheduler machine itself drives through its loudspeakers.

`Runtime` turns due occurrences of local stations into cues on one `PlayoutQueue` per
station and records what happens to them. `attach` makes a runtime the one the persistent
schedule jobs of its database use in this process (they can carry only plain arguments).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import make_url

from broadcaster.core.config import Settings
from broadcaster.core.db import session_scope
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.events import EventKind
from broadcaster.core.models import AudioFile, Occurrence, PlayoutMode, Schedule
from broadcaster.onair.collision import order_for
from broadcaster.onair.jobs import engine_for
from broadcaster.onair.occurrences import GRACE, materialize
from broadcaster.onair.playout import LEAD, READY, Cue, PlayoutQueue, near_an_instant
from broadcaster.onair.relaycues import relay_cue
from broadcaster.onair.releases import ReleaseJournal

log = logging.getLogger(__name__)

EVENT_RETRY_SECONDS = 2
DEFER_MAX_S = 2.0


class Runtime:
    """Local playout inside the scheduler process: settings, engine and station queues.

    Memory-store jobs receive it as an argument. The persistent schedule jobs must pickle,
    so they hold the database URL and find the runtime attached for it (`attached`).
    """

    def __init__(
        self, settings: Settings, player_name: str = "auto", player_factory=None, clock=None
    ) -> None:
        from broadcaster.onair.players import make_player

        self.settings = settings
        self.clock = clock or utcnow  # injected in tests to replay a day in seconds
        self.engine = engine_for(settings.database_url)
        self._make_player = player_factory or (lambda: make_player(player_name))
        self.queues: dict[int, PlayoutQueue] = {}
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.recorder = Recorder(self)
        # Beside the database's instance, not in the database: written in the instant
        # before each sound, where a transaction would cost the instant.
        self.journal = ReleaseJournal(settings.instance_dir / "released-plays.log")

    def queue_for(self, station_id: int) -> PlayoutQueue:
        with self.lock:
            if station_id not in self.queues:
                self.queues[station_id] = PlayoutQueue(
                    self._make_player(),
                    lambda kind, item, detail: self.on_event(kind, item, detail),
                    name=str(station_id),
                    clock=self.clock,
                    journal=self.journal,
                )
            return self.queues[station_id]

    def on_event(self, kind: str, item: Cue, detail: str) -> bool:
        """Record a play event; False (for READY) tells the queue not to play the item.

        READY comes before the instant and is durable before any sound, or a restart
        would play the item again; the queue waits for it. "started" (as the audio left
        the player, with its measured lateness) and the rest are written in order by the
        recorder while the play goes on.
        """
        return self.recorder.record(kind, item, detail)

    def dispatch(
        self,
        *,
        now: datetime | None = None,
        schedule_id: int | None = None,
        ahead: timedelta = LEAD,
    ) -> int:
        """Queue every occurrence of the local stations (of one schedule, or all) due by
        `ahead` from now: claimed and their audio found before the instant, each station's
        queue releases it at its time."""
        from broadcaster.audio.objectstore import RemoteError
        from broadcaster.audio.render import RenderError, store_for
        from broadcaster.onair.occurrences import claim, due, local_station_ids, render_occurrence

        now = now or self.clock()
        store = store_for(self.settings)
        claimed: list[tuple[int, Cue]] = []
        submitted = 0

        def hand_over() -> int:
            # One commit for every claim so far (a hundred stations share a slot), durable
            # before any of them can play.
            session.commit()
            for station_id, item in claimed:
                self.queue_for(station_id).submit(item)
            count = len(claimed)
            claimed.clear()
            return count

        with session_scope(self.engine) as session:
            stations = local_station_ids(session)
            if not stations:
                return 0
            if schedule_id is not None:
                materialize(session, now=now, hours=0.1, schedule_ids=[schedule_id])
            by = now + ahead
            for occurrence in due(session, now=by, station_ids=stations, schedule_id=schedule_id):
                if not claim(session, occurrence.id, now=now):
                    continue  # someone else (another job run) has it
                schedule = session.get(Schedule, occurrence.schedule_id)
                if schedule is not None and schedule.stream_id is not None:
                    cue = relay_cue(
                        session,
                        self.settings,
                        occurrence,
                        now=now,
                        order=order_for(session, occurrence.station_id, schedule),
                    )
                    if cue is not None:  # else why it will not play is logged
                        claimed.append((occurrence.station_id, cue))
                    continue
                if occurrence.audio_id is None:
                    submitted += hand_over()  # a render takes a while: the others go first
                try:
                    audio = (
                        session.get(AudioFile, occurrence.audio_id)
                        if occurrence.audio_id
                        else render_occurrence(session, self.settings, occurrence)
                    )
                    path = store.local(audio) or store.absolute(audio.path)
                except (RenderError, RemoteError) as exc:
                    from broadcaster.onair.occurrences import Outcome, apply_outcome

                    apply_outcome(
                        session,
                        occurrence,
                        Outcome(EventKind.FAILED, f"no audio: {exc}"),
                        at=now,
                        actor="scheduler",
                    )
                    continue
                occurrence.audio_id = audio.id
                session.add(occurrence)
                item = Cue(
                    at=occurrence.at,
                    rank=-occurrence.priority,
                    order=order_for(session, occurrence.station_id, schedule),
                    schedule_id=occurrence.schedule_id,
                    occurrence_id=occurrence.id,
                    path=path,
                    duration_s=audio.duration_s,
                    repeat=schedule.repeat if schedule else 1,
                )
                claimed.append((occurrence.station_id, item))
            submitted += hand_over()
        return submitted

    def close(self) -> None:
        self.closing.set()
        for station_queue in self.queues.values():
            station_queue.close()
        self.recorder.close()
        self.journal.close()


@dataclass
class _Event:
    kind: str
    item: Cue
    detail: str
    done: threading.Event = field(default_factory=threading.Event)
    played: bool = False  # for READY: whether the item may go on air


class Recorder:
    """One thread writes the play events of every local station, all that are waiting in
    one transaction.

    A hundred stations due at one slot would otherwise be a hundred writers taking turns
    for SQLite's lock (its busy handler sleeps up to 100 ms between tries) in the seconds
    before their instant, and a hundred threads holding the interpreter as their audio is
    released. While the database is unavailable the events wait here, and so does each
    station whose READY is among them; an item whose grace window passed meanwhile is
    logged not played instead of going out late.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._pending: queue.SimpleQueue[_Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="playout-recorder", daemon=True)
        self._thread.start()

    def record(self, kind: str, item: Cue, detail: str) -> bool:
        event = _Event(kind, item, detail)
        self._pending.put(event)
        if kind != READY:
            return True
        event.done.wait()
        return event.played

    def close(self) -> None:
        self._pending.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._pending.get()]
            waited = 0.0
            while True:
                try:
                    batch.append(self._pending.get_nowait())
                    continue
                except queue.Empty:
                    pass
                # What already happened can be written a moment later; a station waiting
                # on its READY cannot, nor can one about to release its audio, which would
                # wait for this thread's turn at the interpreter lock.
                urgent = any(e is None or e.kind == READY for e in batch)
                if urgent or not near_an_instant() or waited >= DEFER_MAX_S:
                    break
                time.sleep(0.01)
                waited += 0.01
            stopping = None in batch
            events = [event for event in batch if event is not None]
            try:
                if events:
                    self._write(events)
            except Exception:
                log.exception("playout: could not record %d play events", len(events))
            finally:
                for event in events:
                    event.done.set()

    def _write(self, events: list[_Event]) -> None:
        from sqlalchemy.exc import OperationalError

        from broadcaster.onair.occurrences import Outcome, apply_outcome, missed_reason
        from broadcaster.onair.playlog import hold_for_air

        runtime = self._runtime
        while True:
            written = []
            try:
                with session_scope(runtime.engine) as session:
                    for event in events:
                        now = runtime.clock()
                        item = event.item
                        occurrence = session.get(Occurrence, item.occurrence_id)
                        if occurrence is None:
                            continue
                        outcome = Outcome(event.kind, event.detail)
                        if event.kind == READY:
                            if now - item.at <= GRACE:
                                event.played = hold_for_air(session, occurrence.id)
                                continue
                            outcome = Outcome(EventKind.SKIPPED, missed_reason(PlayoutMode.LOCAL))
                        at = item.released_at if event.kind == EventKind.STARTED else None
                        apply_outcome(session, occurrence, outcome, at=at or now, actor="scheduler")
                        written.append((occurrence.station_id, item, outcome))
                break
            except OperationalError as exc:
                if runtime.closing.is_set():
                    raise
                log.error("playout: cannot record %d play events yet: %s", len(events), exc.orig)
                runtime.closing.wait(EVENT_RETRY_SECONDS)
        for station_id, item, outcome in written:
            log.info(
                "playout: occurrence %s %s %s",
                item.occurrence_id,
                outcome.kind,
                outcome.detail,
                extra={
                    "occurrence_id": item.occurrence_id,
                    "station_id": station_id,
                    "event": outcome.kind,
                },
            )


_attached: dict[str, Runtime] = {}


def playout_key(database_url: str) -> str:
    """What a schedule job stores to find its runtime: the database URL without a password
    (job rows are pickled into the database, and its backups)."""
    return make_url(database_url).render_as_string(hide_password=True)


def attach(runtime: Runtime) -> None:
    """Let the schedule jobs of `runtime`'s database play through it in this process."""
    _attached[playout_key(runtime.settings.database_url)] = runtime


def detach(runtime: Runtime) -> None:
    key = playout_key(runtime.settings.database_url)
    if _attached.get(key) is runtime:
        del _attached[key]


def attached(key: str) -> Runtime | None:
    """The runtime attached for a database (by `playout_key`), if this process plays its
    local stations."""
    return _attached.get(key)

"""Database tables (SQLModel). Datetimes are UTC-aware everywhere."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from broadcaster.core.dbtypes import UTCDateTime, utcnow
from broadcaster.core.priority import Priority
from broadcaster.core.voices import DEFAULT_VOICE


class Role(StrEnum):
    ADMIN = "admin"
    APPROVER = "approver"
    EDITOR = "editor"
    OPERATOR = "operator"


class AreaKind(StrEnum):
    PROVINCE = "province"
    COMMUNE = "commune"
    GROUP = "group"


class PlayoutMode(StrEnum):
    AGENT = "agent"
    MANUAL = "manual"
    LOCAL = "local"


class VersionStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str = Field(default="", max_length=128)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=256)
    is_active: bool = True
    created_at: datetime = _created()
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Area(SQLModel, table=True):
    """A province, a commune/ward, or a named group of communes (a former district, a cluster)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=128, index=True)
    kind: str = Field(max_length=16, index=True)
    division_type: str = Field(default="", max_length=32)
    parent_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("area.id", ondelete="CASCADE"), index=True),
    )


class AreaMember(SQLModel, table=True):
    """Membership of a commune in a group."""

    group_id: int = Field(
        sa_column=Column(Integer, ForeignKey("area.id", ondelete="CASCADE"), primary_key=True)
    )
    area_id: int = Field(
        sa_column=Column(Integer, ForeignKey("area.id", ondelete="CASCADE"), primary_key=True)
    )


class Station(SQLModel, table=True):
    """A commune radio system or loudspeaker cluster wired to one amplifier."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=128)
    area_id: int = Field(foreign_key="area.id", index=True)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    mode: str = Field(default=PlayoutMode.AGENT, max_length=16)
    is_active: bool = True
    created_at: datetime = _created()
    # The station agent's API token: only its sha256 is stored; "" means no token.
    token_hash: str = Field(default="", max_length=64, index=True)
    token_created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Campaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    description: str = ""
    starts_on: date | None = None
    ends_on: date | None = None


class Script(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=100, unique=True, index=True)
    title: str = Field(max_length=200)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    tags: str = Field(default="", max_length=400)
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created()
    updated_at: datetime = _created()


class ScriptVersion(SQLModel, table=True):
    """An immutable text of a script; versions are kept forever."""

    __table_args__ = (UniqueConstraint("script_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    script_id: int = Field(foreign_key="script.id", index=True)
    number: int
    body: str
    voice: str = Field(default=DEFAULT_VOICE, max_length=16)
    speed: float = 1.0
    repeat: int = 2
    # Empty means the deployment's default (BROADCASTER_TTS_ENGINE, BROADCASTER_AUDIO_PROFILE).
    engine: str = Field(default="", max_length=16)
    profile: str = Field(default="", max_length=64)
    status: str = Field(default=VersionStatus.DRAFT, max_length=16, index=True)
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created()
    submitted_by_id: int | None = Field(default=None, foreign_key="user.id")
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by_id: int | None = Field(default=None, foreign_key="user.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_comment: str = ""
    # The pronunciation lexicon as it stood at approval (JSON, term -> reading): renders
    # of an approved version read it exactly as the approver heard it, whatever anyone
    # edits in the lexicon later. Empty until approval.
    lexicon: str = ""
    # The approver lets residents hear it again on the public pages once it has aired.
    public: bool = False


class OperatorStation(SQLModel, table=True):
    """Which stations an operator looks after."""

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    )
    station_id: int = Field(
        sa_column=Column(Integer, ForeignKey("station.id", ondelete="CASCADE"), primary_key=True)
    )


class AuditEntry(SQLModel, table=True):
    """Who changed what, with the state before and after (JSON)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor_label: str = Field(default="", max_length=64)
    action: str = Field(max_length=32)
    entity_type: str = Field(max_length=32, index=True)
    entity_id: str = Field(default="", max_length=64)
    before: str | None = None
    after: str | None = None


class LoginAttempt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, index=True)
    remote_addr: str = Field(default="", max_length=64)
    succeeded: bool
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


class ServiceBeat(SQLModel, table=True):
    """Liveness of a long-running process (the scheduler), shown on the dashboard."""

    name: str = Field(primary_key=True, max_length=32)
    pid: int
    hostname: str = Field(default="", max_length=128)
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    seen_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class LexiconEntry(SQLModel, table=True):
    """A pronunciation staff chose for a word or abbreviation, applied before the rules."""

    id: int | None = Field(default=None, primary_key=True)
    term: str = Field(max_length=64, unique=True, index=True)
    reading: str = Field(max_length=200)
    note: str = Field(default="", max_length=200)
    updated_at: datetime = _created()
    updated_by_id: int | None = Field(default=None, foreign_key="user.id")


class AudioFile(SQLModel, table=True):
    """A rendered MP3 in the audio store, named by the hash of everything that made it."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True, index=True)
    sha256: str = Field(max_length=64, index=True)
    path: str = Field(max_length=200)
    size: int
    duration_s: float
    lufs: float
    true_peak_db: float
    engine: str = Field(max_length=32)
    voice: str = Field(max_length=64)
    fallback: bool = False
    profile: str = Field(max_length=64)
    spoken_text: str
    peaks: str = ""
    created_at: datetime = _created()
    last_used_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )


class AdoptionFigure(SQLModel, table=True):
    """Bluezone installs and population of a commune on a date (campaign statistics)."""

    __table_args__ = (UniqueConstraint("area_id", "on"),)

    id: int | None = Field(default=None, primary_key=True)
    area_id: int = Field(foreign_key="area.id", index=True)
    on: date = Field(index=True)
    installs: int
    population: int
    source: str = Field(default="", max_length=200)
    created_at: datetime = _created()


class Schedule(SQLModel, table=True):
    """When an approved script (or a relayed stream) plays, where, and how urgently."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    # Exactly one of script_id and stream_id (schedules.save_schedule refuses both or neither).
    script_id: int | None = Field(default=None, foreign_key="script.id", index=True)
    # None: follow the newest approved version; set: always this version.
    pinned_version_id: int | None = Field(default=None, foreign_key="scriptversion.id")
    kind: str = Field(max_length=16)  # weekly | every_n_days | once
    weekdays: str = Field(default="", max_length=20)  # "0,1,2" (0 = Monday)
    times: str = Field(default="", max_length=200)  # "06:00,17:00" local to each station
    every_days: int = 1
    anchor: date | None = None
    once_at: str = Field(default="", max_length=16)  # local wall time "2026-12-01T06:00"
    valid_from: date | None = None
    valid_until: date | None = None
    priority: int = Field(default=Priority.NORMAL)
    repeat: int = 1  # plays back-to-back in each slot
    targets_all: bool = False
    # Issue 15: its widest target (0 province, 1 group, 2 commune or station), which
    # orders colliding priority items (broadcaster.onair.collision).
    level: int = 2
    is_active: bool = True
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created()
    updated_at: datetime = _created()
    # A relay (issue 15): the stream, the slot's length, and the approved script whose
    # audio plays while the stream is down (None: silence, with the reason logged).
    stream_id: int | None = Field(default=None, foreign_key="streamsource.id", index=True)
    duration_min: int | None = None
    fallback_script_id: int | None = Field(default=None, foreign_key="script.id")


class ScheduleTarget(SQLModel, table=True):
    """A station, or an area (commune, group or province) a schedule reaches."""

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(
        sa_column=Column(Integer, ForeignKey("schedule.id", ondelete="CASCADE"), index=True)
    )
    station_id: int | None = Field(default=None, foreign_key="station.id")
    area_id: int | None = Field(default=None, foreign_key="area.id")


class OccurrenceStatus(StrEnum):
    PLANNED = "planned"
    RENDERED = "rendered"
    DISPATCHED = "dispatched"
    PLAYING = "playing"
    PLAYED = "played"
    FAILED = "failed"
    MISSED = "missed"
    SKIPPED = "skipped"


class Occurrence(SQLModel, table=True):
    """One play of one schedule at one station at one instant; the unit of accountability."""

    __table_args__ = (
        UniqueConstraint("schedule_id", "station_id", "at"),
        # A station's plays in a time window (every manifest, portal and calendar page):
        # with station_id alone, a station's whole history would be read each time.
        Index("ix_occurrence_station_at", "station_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(
        sa_column=Column(Integer, ForeignKey("schedule.id", ondelete="CASCADE"), index=True)
    )
    station_id: int = Field(foreign_key="station.id")
    at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    priority: int = Field(default=Priority.NORMAL)
    version_id: int | None = Field(default=None, foreign_key="scriptversion.id")
    audio_id: int | None = Field(default=None, foreign_key="audiofile.id")
    status: str = Field(default=OccurrenceStatus.PLANNED, max_length=16, index=True)
    late: bool = False
    reason: str = ""
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PlayEvent(SQLModel, table=True):
    """What happened to an occurrence, from the scheduler, an agent or an operator."""

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("occurrence.id", ondelete="SET NULL"), index=True),
    )
    station_id: int = Field(foreign_key="station.id", index=True)
    kind: str = Field(max_length=16, index=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    # Client-made id (agents retry uploads): the same event is never stored twice.
    uid: str | None = Field(default=None, max_length=64, unique=True)
    actor: str = Field(default="", max_length=64)
    detail: str = ""


class StationBeat(SQLModel, table=True):
    """The last heartbeat of a station's agent: when, which version, disk and player state."""

    station_id: int = Field(
        sa_column=Column(Integer, ForeignKey("station.id", ondelete="CASCADE"), primary_key=True)
    )
    seen_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    version: str = Field(default="", max_length=64)
    free_disk_mb: int | None = None
    player_state: str = Field(default="", max_length=32)
    last_sync: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cache_files: int | None = None
    # Issue 15: what the agent says of its amplifier, mixer and machine ("" / None: unknown).
    amplifier: str = Field(default="", max_length=16)
    amplifier_error: str = Field(default="", max_length=200)
    mixer: str = Field(default="", max_length=64)
    volume_percent: int | None = None
    temperature_c: float | None = None
    # Server time minus the agent's clock, as the agent measured it (issue 16).
    clock_offset_s: float | None = None


class ManifestChange(SQLModel, table=True):
    """Something that may change a station's manifest (written by SQLite triggers).

    The station, or NULL for every station (an approval, a title, an audio file). The
    station API keeps manifests in memory and reads these to drop exactly the stale ones;
    see broadcaster/stations/manifestcache.py and migration 0010.
    """

    id: int | None = Field(default=None, primary_key=True)
    station_id: int | None = None
    # NULL from the triggers (a manifest change); push.wake() names its topic (issue 16).
    topic: str | None = Field(default=None, max_length=16)


# --- stream relays (issue 15)
class StreamKind(StrEnum):
    MP3 = "mp3"
    AAC = "aac"
    HLS = "hls"


class StreamStatus(StrEnum):
    DRAFT = "draft"  # registered or its URL edited: waiting for an approver
    APPROVED = "approved"
    REJECTED = "rejected"
    RETIRED = "retired"


class StreamSource(SQLModel, table=True):
    """A radio stream stations may relay (VOV1, the provincial station), reviewed like a script."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    url: str = Field(max_length=1000)
    kind: str = Field(default=StreamKind.MP3, max_length=8)
    status: str = Field(default=StreamStatus.DRAFT, max_length=16, index=True)
    # The last check (connect and read a few seconds of audio): when, whether audio came,
    # what was heard or why not.
    checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    check_ok: bool = False
    check_detail: str = Field(default="", max_length=500)
    codec: str = Field(default="", max_length=32)
    bitrate_kbps: int | None = None
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    # Who registered it or last changed its address: never its approver (four eyes).
    submitted_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created()
    updated_at: datetime = _created()
    reviewed_by_id: int | None = Field(default=None, foreign_key="user.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_comment: str = ""


# --- public listen-again, podcast feeds and calendars (issue 17)


class CommuneCalendar(SQLModel, table=True):
    """How many times a commune's calendar URL was replaced (its secret derives from it).

    The URL's secret is an HMAC of the app's secret key, the commune and this generation:
    nothing secret is stored, and showing the URL never writes. No row: generation 0.
    """

    area_id: int = Field(
        sa_column=Column(Integer, ForeignKey("area.id", ondelete="CASCADE"), primary_key=True)
    )
    generation: int = 0
    rotated_at: datetime = _created()


# --- station control: commands, amplifier and volume, collision order (issue 15)


class CommandState(StrEnum):
    QUEUED = "queued"  # waiting for the agent's next contact
    SENT = "sent"  # handed to the agent, no result yet
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"  # the agent did not pick it up in time


class StationCommand(SQLModel, table=True):
    """An order from the province to one station's agent; its id makes it idempotent."""

    __table_args__ = (Index("ix_stationcommand_station_state", "station_id", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(
        sa_column=Column(Integer, ForeignKey("station.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(max_length=16)
    args: str = Field(default="{}", max_length=200)  # JSON object, checked per kind
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created()
    state: str = Field(default=CommandState.QUEUED, max_length=16)
    result: str = Field(default="", max_length=500)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StationOrder(SQLModel, table=True):
    """A station's own order for colliding priority items by their origin level.

    No rows: the province's default (province, then group, then commune first).
    """

    station_id: int = Field(
        sa_column=Column(Integer, ForeignKey("station.id", ondelete="CASCADE"), primary_key=True)
    )
    level: int = Field(primary_key=True)  # broadcaster.onair.collision.LEVELS
    position: int

"""The report upward (Circular 39/2020): what the communes of an area aired, for the province.

Two tables over a period of local days: per bulletin (a script, by its TT39 type) how many
communes it was sent to, how many received it and how many aired it, when and how often;
per commune, what it aired and what it did not, with the reasons. Every commune of the
area is listed, a silent one with zeros: the province has to see it. Counted in one
grouped query over occurrences, whatever the number of communes (formats: upward_export).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, or_
from sqlmodel import Session, col, select

from broadcaster.core.areas import communes_of, get_area
from broadcaster.core.db import saved_id
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.events import EventKind
from broadcaster.core.models import (
    Area,
    Campaign,
    Occurrence,
    OccurrenceStatus,
    PlayEvent,
    PlayoutMode,
    Schedule,
    Script,
    ScriptVersion,
    Station,
)
from broadcaster.core.priority import Priority
from broadcaster.core.text import ascii_fold

MAX_DAYS = 400
# The three kinds of information of Circular 39/2020, in its order.
TYPES = (Priority.NORMAL, Priority.PRIORITY, Priority.EMERGENCY)
TYPE_NAMES = {kind: kind.name.lower() for kind in TYPES}  # normal, priority, emergency
TYPE_VI = {
    Priority.NORMAL: "Thông thường",
    Priority.PRIORITY: "Ưu tiên",
    Priority.EMERGENCY: "Khẩn cấp",
}
NOT_AIRED = (OccurrenceStatus.MISSED, OccurrenceStatus.FAILED, OccurrenceStatus.SKIPPED)
# A station that reached any of these states had the bulletin in hand.
AT_STATION = (
    OccurrenceStatus.DISPATCHED,
    OccurrenceStatus.PLAYING,
    OccurrenceStatus.PLAYED,
    OccurrenceStatus.FAILED,
    OccurrenceStatus.SKIPPED,
)
# Events that show the station had the audio, whatever became of the play afterwards
# (a "started" on an occurrence the sweep later called missed still proves delivery).
DELIVERY_EVENTS = (
    EventKind.DISPATCHED,
    EventKind.DOWNLOADED,
    EventKind.STARTED,
    EventKind.FINISHED,
    EventKind.FAILED,
    EventKind.SKIPPED,
    EventKind.INTERRUPTED,
    EventKind.CONFIRMED,
)
_PREFIXES = ("tinh ", "thanh pho ", "phuong ", "xa ", "dac khu ")
# Provinces renamed in 2025 whose old name people still use (the 2020 Bluezone letters say
# "tỉnh Thừa Thiên Huế"). Merged provinces are not here: an old name there is part of an area.
FORMER_NAMES = {"thua thien hue": "thanh pho hue", "tinh thua thien hue": "thanh pho hue"}


class UpwardError(BroadcasterError):
    """A report request that cannot be answered; the message is safe to show."""


def parse_period(first: str, last: str) -> tuple[date, date]:
    """The period from what a person typed (13/8/2020 or 2020-08-13), checked."""
    from broadcaster.accountability.adoption import parse_day

    days = []
    for text in (first, last):
        try:
            days.append(parse_day(text))
        except ValueError:
            raise UpwardError(
                f"{text.strip()!r} is not a date like 13/8/2020 or 2020-08-13",
                code="bad_date",
                text=text.strip()[:40],
            ) from None
    return check_period(days[0], days[1])


def check_period(first: date, last: date) -> tuple[date, date]:
    if last < first:
        raise UpwardError(
            f"the period ends ({last.isoformat()}) before it begins ({first.isoformat()})",
            code="period_reversed",
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise UpwardError(
            f"a report covers at most {MAX_DAYS} days", code="period_too_long", n=MAX_DAYS
        )
    return first, last


def _fold(text: str) -> str:
    return " ".join(ascii_fold(text).casefold().split())


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())


def _forms(name: str, normal) -> set[str]:
    """The name whole and without its prefix ("Xã Phú Lộc" and "Phú Lộc"), normalized."""
    whole = normal(name)
    prefix = next((p for p in _PREFIXES if _fold(whole).startswith(p)), "")
    return {whole, whole[len(prefix) :]}


def find_area(session: Session, text: str) -> Area:
    """An area by code, or by name with or without accents and prefix ("hue", "Phú Vang").

    A name several areas answer to is refused with their codes, never guessed: accents,
    when typed, tell apart names that differ only by them.
    """
    wanted = text.strip()
    if not wanted:
        raise UpwardError("name an area (province, group or commune)", code="unknown_area", name="")
    by_code = session.exec(select(Area).where(col(Area.code).in_([wanted, wanted.upper()]))).first()
    if by_code is not None:
        return by_code
    areas = session.exec(select(Area)).all()
    matches = [a for a in areas if _plain(wanted) in _forms(a.name, _plain)]
    if not matches:
        folded = FORMER_NAMES.get(_fold(wanted), _fold(wanted))
        matches = [a for a in areas if folded in _forms(a.name, _fold)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        parents = {a.id: a.name for a in areas if a.id in {m.parent_id for m in matches}}
        listed = ", ".join(
            f"{a.name} ({a.code}{', ' + parents[a.parent_id] if a.parent_id in parents else ''})"
            for a in sorted(matches, key=lambda a: a.code)
        )
        raise UpwardError(
            f"{wanted!r} names several areas: {listed}; use its code",
            code="ambiguous_area",
            name=wanted,
            candidates=listed,
        )
    try:
        return get_area(session, wanted)  # a province not imported says so
    except BroadcasterError as exc:
        if exc.code != "unknown_area":
            raise
    raise UpwardError(f"no area named {wanted!r}", code="unknown_area", name=wanted)


def find_campaign(session: Session, slug: str) -> Campaign:
    campaign = session.exec(select(Campaign).where(Campaign.slug == slug.strip())).first()
    if campaign is None:
        raise UpwardError(f"no campaign with slug {slug!r}", code="unknown_campaign", slug=slug)
    return campaign


@dataclass(frozen=True)
class Bulletin:
    """A script aired as one TT39 type; the same script as another type is another row."""

    type: Priority
    slug: str
    title: str


@dataclass
class Tally:
    """Occurrences of a bulletin (at one commune, or over the area) and what became of them."""

    planned: int = 0
    received: int = 0
    aired: int = 0
    plays: int = 0  # aired slots x the schedule's back-to-back plays
    not_aired: int = 0
    versions: set[int] = field(default_factory=set)
    first_aired: datetime | None = None
    last_aired: datetime | None = None

    @property
    def pending(self) -> int:
        """Not due yet, or due and not reported yet."""
        return self.planned - self.aired - self.not_aired

    def add(self, other: Tally) -> None:
        self.planned += other.planned
        self.received += other.received
        self.aired += other.aired
        self.plays += other.plays
        self.not_aired += other.not_aired
        self.versions |= other.versions
        for moment in (other.first_aired, other.last_aired):
            if moment is not None:
                self.first_aired = min(self.first_aired or moment, moment)
                self.last_aired = max(self.last_aired or moment, moment)


@dataclass
class BulletinRow(Tally):
    bulletin: Bulletin = Bulletin(Priority.NORMAL, "", "")
    communes_sent: int = 0
    communes_received: int = 0
    communes_aired: int = 0


@dataclass
class CommuneLine(Tally):
    """One bulletin at one commune; `reasons` counts the plays that did not go out."""

    bulletin: Bulletin = Bulletin(Priority.NORMAL, "", "")
    reasons: dict[tuple[str, str], int] = field(default_factory=dict)  # (status, reason)


@dataclass
class CommuneRow:
    code: str
    name: str
    stations: list[str]
    lines: list[CommuneLine]

    @property
    def total(self) -> Tally:
        total = Tally()
        for line in self.lines:
            total.add(line)
        return total


@dataclass
class UpwardReport:
    area: Area
    first: date
    last: date
    timezone: str
    campaign: Campaign | None
    generated_at: datetime
    bulletins: list[BulletinRow]
    communes: list[CommuneRow]

    def by_type(self) -> dict[Priority, BulletinRow]:
        """The area's totals per TT39 type (communes counted once per type)."""
        totals = {kind: BulletinRow(bulletin=Bulletin(kind, "", TYPE_VI[kind])) for kind in TYPES}
        aired: dict[Priority, set[str]] = {kind: set() for kind in TYPES}
        for row in self.bulletins:
            totals[row.bulletin.type].add(row)
        for commune in self.communes:
            for line in commune.lines:
                if line.aired:
                    aired[line.bulletin.type].add(commune.code)
        for kind in TYPES:
            totals[kind].communes_aired = len(aired[kind])
        return totals


def _window(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(), zone)
    return start, datetime.combine(last + timedelta(days=1), time(), zone)


def _grouped(session: Session, station_ids: list[int], start: datetime, end: datetime, campaign):
    """One row per (station, script, type, version, status, reason): counts and instants."""
    delivered = exists().where(
        col(PlayEvent.occurrence_id) == col(Occurrence.id), col(PlayEvent.kind).in_(DELIVERY_EVENTS)
    )
    received = case(
        (
            or_(
                col(Occurrence.status).in_(AT_STATION),
                # The server plays a local station itself: rendered audio is in its hands.
                and_(col(Station.mode) == PlayoutMode.LOCAL, col(Occurrence.audio_id).is_not(None)),
                delivered,
            ),
            1,
        ),
        else_=0,
    )
    aired_at = func.coalesce(Occurrence.started_at, Occurrence.finished_at, Occurrence.at)
    keys = (
        Occurrence.station_id,
        Script.slug,
        Script.title,
        Occurrence.priority,
        ScriptVersion.number,
        Occurrence.status,
        Occurrence.reason,
    )
    query = (
        select(  # type: ignore[call-overload]
            *keys,
            func.count(),
            func.sum(received),
            func.sum(Schedule.repeat),
            func.min(aired_at),
            func.max(aired_at),
        )
        .select_from(Occurrence)
        .join(Station, Station.id == Occurrence.station_id)
        .join(Schedule, Schedule.id == Occurrence.schedule_id)
        .join(ScriptVersion, ScriptVersion.id == Occurrence.version_id)
        .join(Script, Script.id == ScriptVersion.script_id)
        .where(
            col(Occurrence.station_id).in_(station_ids),
            Occurrence.at >= start,
            Occurrence.at < end,
        )
        .group_by(*keys)
    )
    if campaign is not None:
        query = query.where(Script.campaign_id == campaign.id)
    return session.exec(query).all()


def upward_report(
    session: Session,
    *,
    area: Area,
    first: date,
    last: date,
    timezone: str,
    campaign: Campaign | None = None,
    now: datetime | None = None,
) -> UpwardReport:
    """The report for the communes of `area` over the local days first..last in `timezone`."""
    check_period(first, last)
    zone = ZoneInfo(timezone)
    communes = communes_of(session, area)
    stations = session.exec(
        select(Station.id, Station.code, Station.area_id)
        .where(col(Station.area_id).in_([c.id for c in communes]))
        .order_by(Station.code)
    ).all()
    commune_of = {sid: area_id for sid, _, area_id in stations if sid is not None}
    codes: dict[int, list[str]] = {}
    for _, code, area_id in stations:
        codes.setdefault(area_id, []).append(code)
    start, end = _window(first, last, timezone)
    lines: dict[tuple[int, Bulletin], CommuneLine] = {}
    rows = _grouped(session, list(commune_of), start, end, campaign) if commune_of else []
    for station_id, slug, title, priority, number, status, reason, n, got, plays, low, high in rows:
        bulletin = Bulletin(Priority(priority), slug, title)
        key = (commune_of[station_id], bulletin)
        line = lines.get(key) or CommuneLine(bulletin=bulletin)
        lines[key] = line
        part = Tally(planned=n, received=int(got or 0), versions={number})
        if status == OccurrenceStatus.PLAYED:
            part.aired, part.plays = n, int(plays or 0)
            part.first_aired, part.last_aired = low.astimezone(zone), high.astimezone(zone)
        elif status in NOT_AIRED:
            part.not_aired = n
            line.reasons[(status, reason)] = line.reasons.get((status, reason), 0) + n
        line.add(part)
    bulletins: dict[Bulletin, BulletinRow] = {}
    per_commune: dict[int, list[CommuneLine]] = {}
    for (commune_id, bulletin), line in lines.items():
        per_commune.setdefault(commune_id, []).append(line)
        row = bulletins.setdefault(bulletin, BulletinRow(bulletin=bulletin))
        row.add(line)
        row.communes_sent += 1
        row.communes_received += line.received > 0
        row.communes_aired += line.aired > 0
    order = {kind: index for index, kind in enumerate(TYPES)}
    return UpwardReport(
        area=area,
        first=first,
        last=last,
        timezone=timezone,
        campaign=campaign,
        generated_at=(now or datetime.now(zone)).astimezone(zone),
        bulletins=sorted(
            bulletins.values(), key=lambda r: (order[r.bulletin.type], r.bulletin.title)
        ),
        communes=[
            CommuneRow(
                code=commune.code,
                name=commune.name,
                stations=codes.get(saved_id(commune), []),
                lines=sorted(
                    per_commune.get(saved_id(commune), []),
                    key=lambda li: (order[li.bulletin.type], li.bulletin.title),
                ),
            )
            for commune in communes
        ],
    )

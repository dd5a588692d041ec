"""Accountability: the broadcast log and the compliance report ("báo cáo kết quả phát").

Counts come from occurrences (what was planned and what became of it); the log lists
every play event. Days are the station's own local days.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from broadcaster.core.areas import communes_of
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import (
    Area,
    Occurrence,
    OccurrenceStatus,
    PlayEvent,
    Schedule,
    Script,
    ScriptVersion,
    Station,
    StreamSource,
)
from broadcaster.onair.reasons import reason_vi, relay_detail_vi

PLAYED = (OccurrenceStatus.PLAYED,)
STATUS_VI = {
    OccurrenceStatus.MISSED: "Bỏ lỡ",
    OccurrenceStatus.FAILED: "Phát lỗi",
    OccurrenceStatus.SKIPPED: "Bị bỏ qua",
}
NOT_PLAYED = (OccurrenceStatus.MISSED, OccurrenceStatus.FAILED, OccurrenceStatus.SKIPPED)


@dataclass
class Counts:
    """Plays of one station over some days: planned, and what became of them."""

    station: Station
    commune: str
    planned: int = 0
    played: int = 0
    late: int = 0
    missed: int = 0
    pending: int = 0
    misses: list[tuple[datetime, str, str]] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """Share of the plays due so far that were played (pending ones are not due yet)."""
        due = self.planned - self.pending
        return self.played / due if due else None


@dataclass
class StationDay(Counts):
    day: date = date.min


@dataclass
class StationTotal(Counts):
    rank: int = 0


def stations_in(session: Session, area: Area | None) -> list[Station]:
    query = select(Station).order_by(Station.code)
    if area is not None:
        commune_ids = [c.id for c in communes_of(session, area)]
        query = query.where(col(Station.area_id).in_(commune_ids))
    return list(session.exec(query))


def _window(first: date, last: date) -> tuple[datetime, datetime]:
    """A UTC window wide enough for every time zone's local days from first to last."""
    start = datetime.combine(first, time(), ZoneInfo("UTC")) - timedelta(hours=14)
    end = datetime.combine(last + timedelta(days=1), time(), ZoneInfo("UTC")) + timedelta(hours=14)
    return start, end


def compliance(
    session: Session, *, first: date, last: date, area: Area | None = None
) -> list[StationDay]:
    """Per station and local day: planned, played, late, missed, and each miss's reason."""
    stations = {s.id: s for s in stations_in(session, area)}
    communes = {a.id: a.name for a in session.exec(select(Area))}
    start, end = _window(first, last)
    titles = dict(
        session.exec(
            select(ScriptVersion.id, Script.title).join(
                Script, Script.id == ScriptVersion.script_id
            )
        ).all()
    )
    # A relay's miss is named by its stream, not by its fallback bulletin.
    relays = dict(
        session.exec(
            select(Schedule.id, StreamSource.name).join(
                StreamSource, StreamSource.id == Schedule.stream_id
            )
        ).all()
    )
    rows: dict[tuple[int, date], StationDay] = {}
    occurrences = session.exec(
        select(Occurrence).where(
            Occurrence.at >= start,
            Occurrence.at < end,
            col(Occurrence.station_id).in_(list(stations)),
        )
    )
    for occurrence in occurrences:
        station = stations[occurrence.station_id]
        local = occurrence.at.astimezone(ZoneInfo(station.timezone))
        if not first <= local.date() <= last:
            continue
        key = (station.id, local.date())
        row = rows.get(key) or StationDay(
            station, communes.get(station.area_id, ""), day=local.date()
        )
        rows[key] = row
        row.planned += 1
        if occurrence.status in PLAYED:
            row.played += 1
            row.late += occurrence.late
        elif occurrence.status in NOT_PLAYED:
            row.missed += 1
            row.misses.append(
                (
                    local,
                    relays.get(occurrence.schedule_id) or titles.get(occurrence.version_id, ""),
                    reason_vi(occurrence.reason)
                    if occurrence.reason
                    else STATUS_VI[occurrence.status],
                )
            )
        else:
            row.pending += 1
    return sorted(rows.values(), key=lambda r: (r.day, r.station.code))


def totals(days: list[StationDay]) -> list[StationTotal]:
    """Per station over the period, ranked by rate (best first), as the 2020 letter ranked."""
    by_station: dict[int, StationTotal] = {}
    for row in days:
        total = by_station.setdefault(row.station.id, StationTotal(row.station, row.commune))
        total.planned += row.planned
        total.played += row.played
        total.late += row.late
        total.missed += row.missed
        total.pending += row.pending
        total.misses += row.misses
    ranked = sorted(
        by_station.values(),
        key=lambda t: (-(t.rate if t.rate is not None else -1), t.station.code),
    )
    for index, total in enumerate(ranked, start=1):
        total.rank = index
    return ranked


def trend(days: list[StationDay]) -> list[tuple[date, int, int]]:
    """(day, played, due) over all stations, for the trend chart."""
    per_day: dict[date, list[int]] = {}
    for row in days:
        played_due = per_day.setdefault(row.day, [0, 0])
        played_due[0] += row.played
        played_due[1] += row.planned - row.pending
    return [(d, v[0], v[1]) for d, v in sorted(per_day.items())]


# --- exports -------------------------------------------------------------------------------

COMPLIANCE_HEADERS = [
    "Hạng",
    "Mã đài",
    "Xã, phường",
    "Kế hoạch",
    "Đã phát",
    "Phát muộn",
    "Bỏ lỡ",
    "Chưa đến giờ",
    "Tỷ lệ (%)",
    "Các lượt bỏ lỡ",
]


def _rate_text(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}"


def compliance_rows(ranked: list[StationTotal]) -> Iterator[list]:
    for t in ranked:
        misses = "; ".join(f"{at:%d/%m %H:%M} {title}: {reason}" for at, title, reason in t.misses)
        yield [
            t.rank,
            t.station.code,
            t.commune,
            t.planned,
            t.played,
            t.late,
            t.missed,
            t.pending,
            _rate_text(t.rate),
            misses,
        ]


def compliance_records(ranked: list[StationTotal]) -> list[dict]:
    """The report as JSON-ready records (the CLI's --format json), one per station."""
    return [
        {
            "rank": t.rank,
            "station": t.station.code,
            "commune": t.commune,
            "planned": t.planned,
            "played": t.played,
            "late": t.late,
            "missed": t.missed,
            "pending": t.pending,
            "rate": round(t.rate, 4) if t.rate is not None else None,
            "misses": [
                {"at": at.isoformat(), "script": title, "reason": reason}
                for at, title, reason in t.misses
            ],
        }
        for t in ranked
    ]


def csv_line(row: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    return buffer.getvalue()


def to_csv(headers: list[str], rows) -> str:
    # A BOM so Excel opens the Vietnamese text as UTF-8.
    return "\ufeff" + csv_line(headers) + "".join(csv_line(row) for row in rows)


def to_xlsx(headers: list[str], rows, *, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for column in sheet.columns:
        width = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(60, max(10, width + 2))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- the broadcast log -----------------------------------------------------------------------

LOG_HEADERS = [
    "Thời gian",
    "Mã đài",
    "Xã, phường",
    "Sự kiện",
    "Kịch bản",
    "Phiên bản",
    "Giờ phát dự kiến",
    "Người/nguồn",
    "Chi tiết",
]
EVENT_LABELS = {
    "rendered": "Đã tạo âm thanh",
    "render_failed": "Lỗi tạo âm thanh",
    "dispatched": "Đã gửi",
    "downloaded": "Đã tải",
    "started": "Bắt đầu phát",
    "finished": "Phát xong",
    "failed": "Phát lỗi",
    "skipped": "Bỏ qua",
    "interrupted": "Bị ngắt",
    "missed": "Bỏ lỡ",
    "released": "Chưa phát, xếp lại",
    "confirmed": "Xác nhận đã phát",
    "relay_connected": "Tiếp sóng: đã kết nối",
    "relay_dropped": "Tiếp sóng: mất sóng",
    "relay_fallback": "Tiếp sóng: phát dự phòng",
    "relay_restored": "Tiếp sóng: có sóng trở lại",
    "relay_paused": "Tiếp sóng: tạm dừng",
    "relay_resumed": "Tiếp sóng: tiếp tục",
}


@dataclass(frozen=True)
class LogFilter:
    first: date
    last: date
    area: Area | None = None
    station_id: int | None = None
    script_id: int | None = None
    campaign_id: int | None = None
    kind: str | None = None


def log_query(session: Session, f: LogFilter, timezone: str):
    zone = ZoneInfo(timezone)
    start = datetime.combine(f.first, time(), zone)
    end = datetime.combine(f.last + timedelta(days=1), time(), zone)
    query = (
        select(PlayEvent, Station, Occurrence, ScriptVersion, Script)
        .join(Station, Station.id == PlayEvent.station_id)
        .outerjoin(Occurrence, Occurrence.id == PlayEvent.occurrence_id)
        .outerjoin(ScriptVersion, ScriptVersion.id == Occurrence.version_id)
        .outerjoin(Script, Script.id == ScriptVersion.script_id)
        .where(PlayEvent.at >= start, PlayEvent.at < end)
    )
    if f.area is not None:
        query = query.where(col(Station.id).in_([s.id for s in stations_in(session, f.area)]))
    if f.station_id:
        query = query.where(Station.id == f.station_id)
    if f.script_id:
        query = query.where(Script.id == f.script_id)
    if f.campaign_id:
        query = query.where(Script.campaign_id == f.campaign_id)
    if f.kind:
        query = query.where(PlayEvent.kind == f.kind)
    return query.order_by(PlayEvent.at.desc(), PlayEvent.id.desc())


def log_rows(session: Session, query, communes: dict[int, str]) -> Iterator[list]:
    """Rows for export, in each station's local time; streamed, never all in memory."""
    for event, station, occurrence, version, script in session.exec(
        query.execution_options(yield_per=500)
    ):
        zone = ZoneInfo(station.timezone)
        yield [
            event.at.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S"),
            station.code,
            communes.get(station.area_id, ""),
            EVENT_LABELS.get(event.kind, event.kind),
            script.title if script else "",
            version.number if version else "",
            occurrence.at.astimezone(zone).strftime("%d/%m/%Y %H:%M") if occurrence else "",
            event.actor,
            relay_detail_vi(event.detail) or event.detail,
        ]


class RetentionError(BroadcasterError):
    """A purge that would delete logs still inside the retention period."""


def purge(
    session: Session, *, before: date, today: date, retention_days: int, actor_label: str
) -> tuple[int, int]:
    """Delete play events and settled occurrences older than `before`; audited.

    Refused when `before` is inside the retention period: a province must be able to
    answer for any day of the last `retention_days`.
    """
    from sqlalchemy import delete

    from broadcaster.core import audit

    oldest_allowed = today - timedelta(days=retention_days)
    if before > oldest_allowed:
        raise RetentionError(
            f"logs are kept {retention_days} days: purge only before {oldest_allowed.isoformat()}"
        )
    cutoff = datetime.combine(before, time(), ZoneInfo("UTC"))
    settled = (*PLAYED, *NOT_PLAYED)
    events = session.execute(delete(PlayEvent).where(PlayEvent.at < cutoff)).rowcount
    occurrences = session.execute(
        delete(Occurrence).where(Occurrence.at < cutoff, col(Occurrence.status).in_(settled))
    ).rowcount
    audit.record(
        session,
        actor=None,
        actor_label=actor_label,
        action="purge",
        entity_type="logs",
        entity_id=before.isoformat(),
        after={"events": events, "occurrences": occurrences},
    )
    return events, occurrences

"""The operator portal: a commune's playlist, its audio, and confirming plays by hand.

Many communes still run analog systems: the operator downloads the day's audio, plays it
at the listed times and clicks "Đã phát", which lands in the same log as agent events.
Only approved audio is ever offered: occurrences exist only for approved versions.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlmodel import col, select
from wtforms import StringField
from wtforms.validators import DataRequired, Regexp

from broadcaster.audio.render import RenderError, store_for
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import (
    AudioFile,
    Occurrence,
    OccurrenceStatus,
    OperatorStation,
    Role,
    Schedule,
    Script,
    ScriptVersion,
    Station,
)
from broadcaster.core.text import ascii_fold
from broadcaster.onair.occurrences import Outcome, apply_outcome, materialize, render_occurrence
from web.audiofiles import audio_response
from web.auth import acting_user, roles_required
from web.db import get_session, writes_on_get

bp = Blueprint("portal", __name__, url_prefix="/portal")
VIEWERS = (Role.OPERATOR, Role.ADMIN)
CONFIRMABLE = (
    OccurrenceStatus.PLANNED,
    OccurrenceStatus.RENDERED,
    OccurrenceStatus.DISPATCHED,
    OccurrenceStatus.MISSED,
)


class ConfirmForm(FlaskForm):
    played_at = StringField(
        "played_at", validators=[DataRequired(), Regexp(r"^([01]?\d|2[0-3])[:h][0-5]\d$")]
    )


def _my_stations() -> list[Station]:
    session = get_session()
    user = acting_user()
    query = select(Station).where(Station.is_active.is_(True)).order_by(Station.code)
    if user.role != Role.ADMIN:
        query = query.join(OperatorStation, OperatorStation.station_id == Station.id).where(
            OperatorStation.user_id == user.id
        )
    return list(session.exec(query))


def _station(code: str) -> Station:
    for station in _my_stations():
        if station.code == code.upper():
            return station
    abort(404)  # not "forbidden": another commune's station does not exist for this operator


def _day_bounds(station: Station, day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), ZoneInfo(station.timezone))
    return start, start + timedelta(days=1)


def _local_today(station: Station) -> date:
    return utcnow().astimezone(ZoneInfo(station.timezone)).date()


def _ensure_planned(station: Station, until: date) -> None:
    """Make sure the station's plays up to the end of `until` exist as occurrences.

    The views that call this (and `_audio_for`) write on GET on purpose: the scheduler
    plans 48 h and renders ahead, but an operator browsing next week or downloading a play
    the scheduler has not reached yet expects a list and a link that work, not "come back
    later". Those views are marked `writes_on_get`, so they wait for the write lock.

    Idempotent (the scheduler does the same 48 h ahead); once per request, so a week view
    plans once, not once per day.
    """
    _start, end = _day_bounds(station, until)
    now = utcnow()
    hours = (end - now).total_seconds() / 3600
    if hours > 0:
        session = get_session()
        materialize(session, now=now, hours=min(hours, 24 * 8), station_ids=[station.id])
        session.commit()


def _playlist(station: Station, day: date) -> list[dict]:
    """The day's plays at a station in play order, with what is known about each."""
    session = get_session()
    start, end = _day_bounds(station, day)
    rows = session.exec(
        select(Occurrence, Schedule, ScriptVersion, Script)
        .join(Schedule, Schedule.id == Occurrence.schedule_id)
        .join(ScriptVersion, ScriptVersion.id == Occurrence.version_id)
        .join(Script, Script.id == ScriptVersion.script_id)
        .where(Occurrence.station_id == station.id, Occurrence.at >= start, Occurrence.at < end)
        # A relay is tuned in on the station's receiver, not played from the day's files:
        # its fallback bulletin must not appear as a play of its own.
        .where(col(Schedule.stream_id).is_(None))
        .order_by(Occurrence.at, col(Occurrence.priority).desc(), Occurrence.schedule_id)
    ).all()
    audio_ids = [o.audio_id for o, *_ in rows if o.audio_id]
    audio = {
        a.id: a for a in session.exec(select(AudioFile).where(col(AudioFile.id).in_(audio_ids)))
    }
    zone = ZoneInfo(station.timezone)
    return [
        {
            "occurrence": occurrence,
            "schedule": schedule,
            "version": version,
            "script": script,
            "local": occurrence.at.astimezone(zone),
            "audio": audio.get(occurrence.audio_id),
        }
        for occurrence, schedule, version, script in rows
    ]


@bp.get("")
@roles_required(*VIEWERS)
def index():
    stations = _my_stations()
    if len(stations) == 1:
        return redirect(url_for("portal.station", code=stations[0].code))
    return render_template("portal/index.html", stations=stations)


@bp.get("/<code>")
@roles_required(*VIEWERS)
@writes_on_get
def station(code: str):
    station = _station(code)
    today = _local_today(station)
    try:
        day = date.fromisoformat(request.args.get("day", today.isoformat()))
    except ValueError:
        day = today
    week_start = day - timedelta(days=day.weekday())
    week = [(week_start + timedelta(days=i)) for i in range(7)]
    _ensure_planned(station, week[-1])
    week_counts = {d: len(_playlist(station, d)) for d in week}
    return render_template(
        "portal/station.html",
        station=station,
        day=day,
        today=today,
        items=_playlist(station, day),
        week=week,
        week_counts=week_counts,
        confirm_form=ConfirmForm(),
        confirmable=CONFIRMABLE,
        now_local=utcnow().astimezone(ZoneInfo(station.timezone)),
    )


def _file_name(item: dict, index: int | None = None) -> str:
    stamp = item["local"].strftime("%Hh%M")
    title = " ".join(item["script"].title.split())[:80].replace("/", "-")
    prefix = f"{index:02d} - " if index is not None else ""
    return f"{prefix}{stamp} - {title}.mp3"


def _audio_for(item: dict) -> AudioFile:
    """The occurrence's audio, rendered now if the scheduler has not got to it yet."""
    if item["audio"] is not None:
        return item["audio"]
    session = get_session()
    occurrence = item["occurrence"]
    try:
        audio = render_occurrence(session, current_app.config["SETTINGS"], occurrence)
    except RenderError:
        session.rollback()
        current_app.logger.exception("portal render failed")
        abort(503)
    occurrence.audio_id = audio.id
    if occurrence.status == OccurrenceStatus.PLANNED:
        occurrence.status = OccurrenceStatus.RENDERED
    session.add(occurrence)
    session.commit()
    return audio


def _item(station: Station, occurrence_id: int) -> dict:
    occurrence = get_session().get(Occurrence, occurrence_id)
    if occurrence is None or occurrence.station_id != station.id:
        abort(404)
    day = occurrence.at.astimezone(ZoneInfo(station.timezone)).date()
    for item in _playlist(station, day):  # it exists, so no planning is needed
        if item["occurrence"].id == occurrence_id:
            return item
    abort(404)


@bp.get("/<code>/<int:occurrence_id>.mp3")
@roles_required(*VIEWERS)
@writes_on_get
def audio(code: str, occurrence_id: int):
    station = _station(code)
    item = _item(station, occurrence_id)
    audio = _audio_for(item)
    response = audio_response(
        audio,
        as_attachment=request.args.get("download") == "1",
        download_name=_file_name(item),
    )
    return response or abort(404)


@bp.get("/<code>/day/<day>.zip")
@roles_required(*VIEWERS)
@writes_on_get
def day_zip(code: str, day: str):
    """The whole day: one MP3 per play, numbered in play order, plus an M3U playlist."""
    station = _station(code)
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        abort(404)
    _ensure_planned(station, wanted)
    items = _playlist(station, wanted)
    store = store_for(current_app.config["SETTINGS"])
    buffer = io.BytesIO()
    playlist = ["#EXTM3U"]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, item in enumerate(items, start=1):
            audio = _audio_for(item)
            name = _file_name(item, index)
            path = store.local(audio)
            if path is None:
                abort(404)
            archive.write(path, arcname=name)
            playlist.append(f"#EXTINF:{round(audio.duration_s)},{item['script'].title}")
            playlist.append(name)
        archive.writestr("danh-sach-phat.m3u", "\n".join(playlist) + "\n")
    name = f"{station.code}-{wanted.isoformat()}.zip"
    return Response(
        buffer.getvalue(),
        mimetype="application/zip",
        headers={
            "Content-Disposition": f"attachment; filename={ascii_fold(name)}; "
            f"filename*=UTF-8''{quote(name)}"
        },
    )


@bp.post("/<code>/<int:occurrence_id>/confirm")
@roles_required(*VIEWERS)
def confirm(code: str, occurrence_id: int):
    """ "Đã phát": the operator played it by hand, at the time they give."""
    station = _station(code)
    item = _item(station, occurrence_id)
    occurrence = item["occurrence"]
    back = redirect(url_for("portal.station", code=station.code, day=item["local"].date()))
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("Vui lòng nhập giờ đã phát, ví dụ 06:05."), "error")
        return back
    if occurrence.status not in CONFIRMABLE:
        flash(_("Lượt phát này đã được ghi nhận trước đó."), "info")
        return back
    hour, minute = form.played_at.data.replace("h", ":").split(":")
    played = item["local"].replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)
    if played > utcnow() + timedelta(minutes=1):
        flash(_("Giờ đã phát không thể ở tương lai."), "error")
        return back
    session = get_session()
    who = acting_user().username
    apply_outcome(session, occurrence, Outcome("confirmed"), at=played, actor=who)
    session.commit()
    flash(
        _(
            "Đã ghi nhận: %(title)s phát lúc %(time)s.",
            title=item["script"].title,
            time=played.strftime("%H:%M"),
        ),
        "success",
    )
    return back

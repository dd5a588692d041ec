"""Schedules as YAML files (schedules/): `import_yaml` and `export_yaml`, one shape both ways.

Files name scripts, stations and areas by slug and code; rows are matched by schedule name,
so importing a file again updates its schedules instead of adding copies. A relay names its
stream source instead of a script (`relay: VOV1`, by name), its length (`minutes: 30`) and
optionally the script whose audio plays while the stream is down (`fallback: <slug>`).
"""

from __future__ import annotations

from datetime import date, datetime

import yaml
from sqlmodel import Session, select

from broadcaster.core.areas import AreaError, get_area
from broadcaster.core.models import (
    Area,
    Schedule,
    ScheduleTarget,
    Script,
    Station,
    StreamSource,
    User,
)
from broadcaster.core.priority import Priority
from broadcaster.onair.schedules import (
    PRIORITY_NAMES,
    ScheduleError,
    ScheduleInput,
    recurrence_of,
    save_schedule,
)

WEEKDAY_NAMES = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _days(value) -> list[int]:
    if value in (None, "daily", "all"):
        return list(range(7))
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    days = []
    for item in value:
        key = str(item).strip().lower()[:3]
        if key not in WEEKDAY_NAMES:
            raise ScheduleError(f"unknown day {item!r}; use mon, tue, ..., sun or daily")
        days.append(WEEKDAY_NAMES[key])
    return days


def _areas(session: Session, names: list, kind: str) -> list[int]:
    ids = []
    for name in names or []:
        try:
            ids.append(get_area(session, str(name)).id)
        except AreaError as exc:
            raise ScheduleError(f"{kind}: {exc}") from exc
    return ids


def import_yaml(session: Session, text: str, *, actor: User | None = None) -> list[Schedule]:
    """Create or update (by name) every schedule in a YAML document; all or nothing."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScheduleError(f"not valid YAML: {exc}") from exc
    items = document.get("schedules", [document]) if isinstance(document, dict) else document
    if not isinstance(items, list) or not items:
        raise ScheduleError("expected a schedule or a list under 'schedules:'")
    saved = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ScheduleError(f"schedule {index}: must be a mapping")
        name = str(item.get("name") or "").strip()
        try:
            saved.append(_import_one(session, item, name, actor))
        except ScheduleError as exc:
            raise ScheduleError(f"schedule {index} ({name or 'no name'}): {exc}") from exc
    return saved


def _script(session: Session, slug: str) -> Script:
    script = session.exec(select(Script).where(Script.slug == slug)).first()
    if script is None:
        raise ScheduleError(f"unknown script {slug!r} (see `broadcaster scripts list`)")
    return script


def _source(session: Session, item: dict) -> dict:
    """The ScheduleInput fields of what plays: a script, or a relay of a stream."""
    if item.get("relay") is None:
        if item.get("fallback") or item.get("minutes"):
            raise ScheduleError("'fallback' and 'minutes' belong to a relay ('relay: <stream>')")
        return {"script": _script(session, str(item.get("script") or ""))}
    if item.get("script"):
        raise ScheduleError("a schedule plays a script or a relay, not both")
    stream_name = str(item["relay"])
    stream = session.exec(select(StreamSource).where(StreamSource.name == stream_name)).first()
    if stream is None:
        raise ScheduleError(f"unknown stream {stream_name!r} (register it on the Streams page)")
    try:
        minutes = int(item.get("minutes") or 0)
    except (TypeError, ValueError):
        raise ScheduleError("minutes must be a whole number of minutes") from None
    fallback = item.get("fallback")
    return {
        "script": None,
        "stream": stream,
        "duration_min": minutes or None,
        "fallback_script": _script(session, str(fallback)) if fallback else None,
    }


def _import_one(session: Session, item: dict, name: str, actor: User | None) -> Schedule:
    source = _source(session, item)
    targets = item.get("targets") or {}
    if targets == "all":
        targets = {"all": True}
    if not isinstance(targets, dict):
        raise ScheduleError("targets must be a mapping or 'all'")
    stations = []
    for code in targets.get("stations") or []:
        station = session.exec(select(Station).where(Station.code == str(code).upper())).first()
        if station is None:
            raise ScheduleError(f"unknown station {code!r}")
        stations.append(station.id)
    area_ids = (
        _areas(session, targets.get("communes"), "communes")
        + _areas(session, targets.get("groups"), "groups")
        + _areas(session, targets.get("provinces"), "provinces")
    )
    priority = str(item.get("priority", "normal")).lower()
    if priority not in PRIORITY_NAMES:
        raise ScheduleError(f"unknown priority {priority!r}; use normal, priority or emergency")
    times = item.get("times") or []
    if isinstance(times, str):
        times = [times]  # "06:00, 17:00": save_schedule reads it with parse_times
    kind = "once" if item.get("at") else ("every_n_days" if item.get("every_days") else "weekly")
    try:
        once_at = datetime.fromisoformat(str(item["at"])) if item.get("at") else None
        valid_from = _date(item.get("from"))
        valid_until = _date(item.get("until"))
    except ValueError as exc:
        raise ScheduleError(str(exc)) from exc
    data = ScheduleInput(
        name=name,
        **source,
        kind=kind,
        weekdays=_days(item.get("days")),
        times=[str(t) for t in times],
        every_days=int(item.get("every_days") or 1),
        anchor=valid_from if kind == "every_n_days" else None,
        once_at=once_at,
        valid_from=valid_from,
        valid_until=valid_until,
        priority=PRIORITY_NAMES[priority],
        repeat=int(item.get("repeat") or 1),
        station_ids=stations,
        area_ids=area_ids,
        targets_all=bool(targets.get("all")),
    )
    existing = session.exec(select(Schedule).where(Schedule.name == name)).first()
    return save_schedule(session=session, data=data, actor=actor, schedule=existing)


def _date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def export_yaml(session: Session) -> str:
    """All schedules in the same shape `import_yaml` reads."""
    names = {v: k for k, v in WEEKDAY_NAMES.items()}
    out = []
    for schedule in session.exec(select(Schedule).order_by(Schedule.id)):
        script = session.get(Script, schedule.script_id) if schedule.script_id else None
        targets = session.exec(
            select(ScheduleTarget).where(ScheduleTarget.schedule_id == schedule.id)
        ).all()
        target_map: dict = {}
        if schedule.targets_all:
            target_map["all"] = True
        codes = [session.get(Station, t.station_id).code for t in targets if t.station_id]
        if codes:
            target_map["stations"] = codes
        for target in targets:
            if target.area_id:
                area = session.get(Area, target.area_id)
                key = {"commune": "communes", "group": "groups", "province": "provinces"}[area.kind]
                target_map.setdefault(key, []).append(area.code)
        item: dict = {"name": schedule.name}
        if schedule.stream_id is not None:
            stream = session.get(StreamSource, schedule.stream_id)
            fallback = (
                session.get(Script, schedule.fallback_script_id)
                if schedule.fallback_script_id
                else None
            )
            item["relay"] = stream.name if stream else None
            item["minutes"] = schedule.duration_min
            if fallback is not None:
                item["fallback"] = fallback.slug
        else:
            item["script"] = script.slug if script else None
        if schedule.kind == "once":
            item["at"] = schedule.once_at
        else:
            if schedule.kind == "every_n_days":
                item["every_days"] = schedule.every_days
            recurrence = recurrence_of(schedule)
            if schedule.kind == "weekly":
                item["days"] = [names[d] for d in sorted(recurrence.weekdays)]
            item["times"] = [f"{t:%H:%M}" for t in recurrence.times]
        if schedule.valid_from:
            item["from"] = schedule.valid_from.isoformat()
        if schedule.valid_until:
            item["until"] = schedule.valid_until.isoformat()
        item["priority"] = {v: k for k, v in PRIORITY_NAMES.items()}[Priority(schedule.priority)]
        item["repeat"] = schedule.repeat
        item["targets"] = target_map
        if not schedule.is_active:
            item["active"] = False
        out.append(item)
    return yaml.safe_dump({"schedules": out}, allow_unicode=True, sort_keys=False)

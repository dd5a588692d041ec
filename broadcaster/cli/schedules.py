"""Schedules as YAML (`schedules import/export`) and the planned plays (`plan`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from broadcaster.cli.context import (
    UserFacingError,
    find_station,
    get_settings,
    open_session,
)


@click.group("schedules")
def schedules_group() -> None:
    """Schedules as YAML files."""


@schedules_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def schedules_import(ctx: click.Context, file: Path) -> None:
    """Create or update (by name) the schedules in FILE; all or nothing."""
    from broadcaster.onair.schedulefiles import import_yaml

    with open_session(ctx) as session:
        saved = import_yaml(session, file.read_text(encoding="utf-8"))
    click.echo(f"{len(saved)} schedules imported")


@schedules_group.command("export")
@click.pass_context
def schedules_export(ctx: click.Context) -> None:
    """Print every schedule as YAML (the shape `schedules import` reads)."""
    from broadcaster.onair.schedulefiles import export_yaml

    with open_session(ctx) as session:
        click.echo(export_yaml(session), nl=False)


@click.command("plan")
@click.option("--station", "station_code", help="Only this station (code).")
@click.option("--area", "area_name", help="Only stations in this area (province, group, commune).")
@click.option(
    "--from", "start", required=True, help="Start, ISO 8601 (e.g. 2026-11-30 or with time)."
)
@click.option("--hours", type=click.FloatRange(0, 24 * 31), default=24, show_default=True)
@click.pass_context
def plan_cmd(
    ctx: click.Context, station_code: str | None, area_name: str | None, start: str, hours: float
) -> None:
    """Print the planned plays, one JSON object per line, times in each station's zone.

    A --from without a time zone is taken in BROADCASTER_TIMEZONE.
    """
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from sqlmodel import select

    from broadcaster.core.areas import communes_of, get_area
    from broadcaster.core.models import Station
    from broadcaster.core.priority import Priority
    from broadcaster.onair.schedules import plan

    settings = get_settings(ctx)
    try:
        begin = datetime.fromisoformat(start)
    except ValueError:
        raise UserFacingError(f"--from {start!r} is not an ISO 8601 date or time") from None
    if begin.tzinfo is None:
        begin = begin.replace(tzinfo=ZoneInfo(settings.timezone))
    with open_session(ctx) as session:
        station_ids = None
        if station_code:
            station_ids = [find_station(session, station_code).id]
        elif area_name:
            commune_ids = {c.id for c in communes_of(session, get_area(session, area_name))}
            station_ids = [s.id for s in session.exec(select(Station)) if s.area_id in commune_ids]
        plays = plan(session, begin, begin + timedelta(hours=hours), station_ids=station_ids)
        for play in plays:
            row = {
                "station": play.station.code,
                "at": play.at.astimezone(ZoneInfo(play.station.timezone)).isoformat(),
                "script": play.script.slug if play.script else None,
                "version": play.version.number if play.version else None,
                "stream": play.stream.name if play.stream else None,
                "priority": Priority(play.priority).name.lower(),
                "schedule": play.schedule.name,
            }
            click.echo(json.dumps(row, ensure_ascii=False))


COMMANDS = [schedules_group, plan_cmd]

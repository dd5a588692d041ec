"""The `broadcaster` command."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlmodel import Session

from broadcaster.core import db
from broadcaster.core.config import ConfigError, Settings, load_settings, local_today


class UserFacingError(click.ClickException):
    """Printed as 'Error: ...' with exit code 1, never as a traceback."""


def _settings(ctx: click.Context) -> Settings:
    if ctx.obj is None:
        try:
            ctx.obj = load_settings()
        except ConfigError as exc:
            raise UserFacingError(f"configuration: {exc}") from exc
    return ctx.obj


@contextmanager
def _session(ctx: click.Context) -> Iterator[Session]:
    """A committed-on-success session; domain errors become clean CLI errors."""
    settings = _settings(ctx)
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(engine) as session:
            yield session
    except ValueError as exc:  # every domain error class derives from ValueError
        raise UserFacingError(str(exc)) from exc
    finally:
        engine.dispose()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """Broadcaster: write, approve, schedule and play announcements on commune loudspeakers."""
    from broadcaster.core import logs
    from broadcaster.core.config import log_format

    try:
        fmt = log_format(dict(os.environ))
    except ConfigError as exc:
        raise UserFacingError(f"configuration: {exc}") from exc
    logs.configure(fmt, level=logging.DEBUG if verbose else logging.INFO)


# --- database -------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply database migrations."""
    settings = _settings(ctx)
    db.upgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}")


@main.group("seed")
def seed_group() -> None:
    """Load sample data."""


@seed_group.command("demo")
@click.pass_context
def seed_demo_cmd(ctx: click.Context) -> None:
    """Load the Thành phố Huế demo (communes, stations, groups, Bluezone scripts)."""
    from broadcaster.ops.demo import seed_demo

    settings = _settings(ctx)
    with _session(ctx) as session:
        report = seed_demo(session, timezone=settings.timezone)
    click.echo(
        f"demo: {report.communes} communes, {report.stations_created} new stations, "
        f"{report.groups} groups, {report.scripts} scripts"
    )


@main.command("init")
@click.pass_context
def init_cmd(ctx: click.Context) -> None:
    """First-run setup: migrate, load the demo if the database is empty, create the first admin.

    The admin's generated password is printed once; it is never stored in clear.
    """
    from broadcaster.core.models import Role
    from broadcaster.newsroom.users import create_user, generate_password, has_admin
    from broadcaster.ops.demo import (
        approve_demo_campaign,
        create_demo_users,
        import_demo_adoption,
        import_demo_schedules,
        needs_demo,
        seed_demo,
    )

    settings = _settings(ctx)
    db.upgrade(settings.database_url)
    with _session(ctx) as session:
        demo_passwords: dict[str, str] = {}
        if needs_demo(session):
            report = seed_demo(session, timezone=settings.timezone)
            demo_passwords = create_demo_users(session)
            approved = approve_demo_campaign(session)
            schedules = import_demo_schedules(session)
            import_demo_adoption(session)
            click.echo(
                f"demo loaded: {report.communes} communes of Thành phố Huế, "
                f"{approved} approved scripts, {schedules} schedules"
            )
        password = None
        if not has_admin(session):
            password = generate_password()
            create_user(
                session=session,
                username="admin",
                role=Role.ADMIN,
                password=password,
                full_name="Quản trị hệ thống",
            )
    if password or demo_passwords:
        banner = "=" * 64
        click.echo(f"\n{banner}")
        if password:
            click.echo(f"First admin created.\n  username: admin\n  password: {password}")
        if demo_passwords:
            click.echo("Demo users (editor bientap, approver lanhdao, operator vanhanh):")
            for username, demo_password in demo_passwords.items():
                click.echo(f"  {username:10} password: {demo_password}")
        click.echo(f"Passwords are shown only once. Change them after logging in.\n{banner}\n")


# --- processes ------------------------------------------------------------------------


@main.command("web")
@click.option("--host", default=None, help="Address to listen on (default BROADCASTER_HOST).")
@click.option("--port", type=int, default=None, help="Port (default BROADCASTER_PORT, 8000).")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True)
@click.pass_context
def web_cmd(ctx: click.Context, host: str | None, port: int | None, threads: int) -> None:
    """Serve the web UI and the station API with waitress."""
    settings = _settings(ctx)
    # The core never imports the web package: waitress loads it by name.
    argv = [
        sys.executable,
        "-m",
        "waitress",
        f"--host={host or settings.host}",
        f"--port={port or settings.port}",
        f"--threads={threads}",
        "web.wsgi:app",  # configures logging, then builds the app
    ]
    os.execv(sys.executable, argv)


@main.command("scheduler")
@click.option(
    "--player",
    type=click.Choice(["auto", "ffplay", "aplay", "null"]),
    default="auto",
    show_default=True,
    help="How local stations play (auto: ffplay if there is a sound card).",
)
@click.pass_context
def scheduler_cmd(ctx: click.Context, player: str) -> None:
    """Run the scheduler process (APScheduler, jobs stored in the database).

    It plans and renders ahead, plays due items at stations in local mode, and logs
    every play and every miss.
    """
    from broadcaster.onair.scheduler import run_scheduler

    run_scheduler(_settings(ctx), player=player)


@main.command("health")
@click.option(
    "--component",
    type=click.Choice(["all", "database", "scheduler"]),
    default="all",
    show_default=True,
    help="database: answers and is migrated; scheduler: its heartbeat is fresh.",
)
@click.pass_context
def health_cmd(ctx: click.Context, component: str) -> None:
    """Check health for systemd or monitoring: one JSON line per component, exit 0 or 1."""
    from broadcaster.core.dbtypes import utcnow
    from broadcaster.ops.health import database_status, scheduler_status

    settings = _settings(ctx)
    engine = db.make_engine(settings.database_url)
    try:
        database = database_status(engine)
        results = []
        if component in ("all", "database"):
            results.append(("database", database))
        if component in ("all", "scheduler"):
            if database.ok:
                with Session(engine) as session:
                    scheduler = scheduler_status(
                        session, now=utcnow(), heartbeat_seconds=settings.heartbeat_seconds
                    )
            else:
                scheduler = database
            results.append(("scheduler", scheduler))
    finally:
        engine.dispose()
    for name, status in results:
        click.echo(json.dumps(status.as_dict(name), ensure_ascii=False))
    sys.exit(0 if all(status.ok for _, status in results) else 1)


@main.command("up")
@click.pass_context
def up_cmd(ctx: click.Context) -> None:
    """Run the whole system on this machine: web and scheduler. Ctrl-C stops everything."""
    from broadcaster.ops.supervisor import Child, broadcaster_command, supervise

    settings = _settings(ctx)
    click.echo(f"Broadcaster on http://{settings.host}:{settings.port}  (Ctrl-C to stop)")
    children = [
        Child("web", broadcaster_command("web")),
        Child("scheduler", broadcaster_command("scheduler")),
    ]
    sys.exit(supervise(children))


# --- backup ---------------------------------------------------------------------------


@main.command("backup")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive to write (e.g. broadcaster-2026-11-28.tar.gz); must not exist yet.",
)
@click.pass_context
def backup_cmd(ctx: click.Context, output: Path) -> None:
    """Back up the database (a consistent snapshot), the audio store and the instance files.

    Safe while the web and the scheduler run. The archive carries a manifest with the
    sha256 of every file; `broadcaster restore` checks them all.
    """
    from broadcaster.ops.backup import BackupError, backup

    settings = _settings(ctx)
    try:
        summary = backup(settings, output)
    except BackupError as exc:
        raise UserFacingError(str(exc)) from exc
    click.echo(f"backup written to {output}: {summary.files} files, {summary.audio} audio")
    if summary.missing_audio:
        click.echo(
            f"warning: {len(summary.missing_audio)} recorded audio files were missing and are "
            "not in the backup (they are rendered again when needed)",
            err=True,
        )


@main.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace a non-empty instance (a SQLite database is kept as *.before-restore).",
)
@click.pass_context
def restore_cmd(ctx: click.Context, archive: Path, force: bool) -> None:
    """Restore a backup into this (empty) instance; all or nothing.

    Stop the web and the scheduler first. Every file is checked against the manifest's
    sha256 before anything is changed.
    """
    from broadcaster.ops.backup import BackupError, restore

    settings = _settings(ctx)
    try:
        summary = restore(settings, archive, force=force)
    except BackupError as exc:
        raise UserFacingError(str(exc)) from exc
    click.echo(
        f"restored {archive}: {summary.users} users, {summary.stations} stations, "
        f"{summary.scripts} scripts, {summary.audio} audio files"
    )
    click.echo("next: `broadcaster db upgrade` (if this Broadcaster is newer), then start it")


# --- users ----------------------------------------------------------------------------


@main.group("user")
def user_group() -> None:
    """Manage users."""


@user_group.command("create")
@click.option("--username", required=True, help="Login name (lowercase).")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "approver", "editor", "operator"]),
    help="What the user may do.",
)
@click.option("--full-name", default="", help="Name shown in the UI.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of generating one.",
)
@click.pass_context
def user_create(
    ctx: click.Context, username: str, role: str, full_name: str, password_stdin: bool
) -> None:
    """Create a user; prints a generated password once unless --password-stdin is given."""
    from broadcaster.newsroom.users import create_user, generate_password

    password = sys.stdin.readline().rstrip("\n") if password_stdin else generate_password()
    with _session(ctx) as session:
        user = create_user(
            session=session, username=username, role=role, password=password, full_name=full_name
        )
    click.echo(f"created {user.role} {user.username}")
    if not password_stdin:
        click.echo(f"password: {password}")


# --- areas and scripts ----------------------------------------------------------------


@main.group("areas")
def areas_group() -> None:
    """Administrative areas (provinces, communes, groups)."""


@areas_group.command("import")
@click.option(
    "--province",
    "provinces",
    multiple=True,
    help="Only this province (repeatable); default: all 34.",
)
@click.pass_context
def areas_import(ctx: click.Context, provinces: tuple[str, ...]) -> None:
    """Import provinces and communes from the vietnam-provinces package."""
    from broadcaster.core.areas import import_divisions

    with _session(ctx) as session:
        result = import_divisions(session, province_names=list(provinces) or None)
    click.echo(
        f"{result.provinces} provinces, {result.communes} communes ({result.created} new areas)"
    )


@main.group("scripts")
def scripts_group() -> None:
    """Broadcast scripts."""


@scripts_group.command("import")
@click.argument(
    "folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default="scripts"
)
@click.pass_context
def scripts_import(ctx: click.Context, folder: Path) -> None:
    """Import scripts (*.md with YAML front matter) and campaigns (campaign.yml) from FOLDER."""
    from broadcaster.newsroom.scriptfiles import import_scripts

    with _session(ctx) as session:
        report = import_scripts(session, folder)
    click.echo(
        f"{report.campaigns} campaigns; scripts: {len(report.created)} new, "
        f"{len(report.updated)} with a new draft version, {len(report.unchanged)} unchanged"
    )


@scripts_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def scripts_list(ctx: click.Context, as_json: bool) -> None:
    """List scripts with their slugs and latest version."""
    from sqlmodel import select

    from broadcaster.core.models import Campaign, Script
    from broadcaster.newsroom.workflow import latest_version

    with _session(ctx) as session:
        campaigns = {c.id: c.slug for c in session.exec(select(Campaign))}
        for script in session.exec(select(Script).order_by(Script.slug)):
            version = latest_version(session, script)
            row = {
                "slug": script.slug,
                "title": script.title,
                "campaign": campaigns.get(script.campaign_id),
                "version": version.number if version else None,
                "status": version.status if version else None,
            }
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                click.echo(f"{row['slug']:40} v{row['version']} {row['status']:9} {row['title']}")


@main.group("adoption")
def adoption_group() -> None:
    """Bluezone adoption figures per commune."""


@adoption_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--province", required=True, help="Province whose commune names the file uses, e.g. Huế."
)
@click.pass_context
def adoption_import(ctx: click.Context, file: Path, province: str) -> None:
    """Import a CSV of commune (code or name), date, installs, population; all rows or none.

    Headers may be Vietnamese (ma_xa, ngay, so_cai_dat, dan_so) or English
    (commune, date, installs, population).
    """
    from broadcaster.accountability.adoption import import_csv
    from broadcaster.core.areas import get_area

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserFacingError(f"{file}: cannot read as UTF-8 text: {exc}") from exc
    try:
        with _session(ctx) as session:
            result = import_csv(
                session, text, province=get_area(session, province), source=file.name
            )
    except UserFacingError as exc:
        errors = getattr(exc.__cause__, "errors", None)
        if errors:
            for row, message in errors:
                click.echo(f"row {row}: {message}", err=True)
        raise
    click.echo(f"{result.created} new figures, {result.updated} updated")


@main.group("schedules")
def schedules_group() -> None:
    """Schedules as YAML files."""


@schedules_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def schedules_import(ctx: click.Context, file: Path) -> None:
    """Create or update (by name) the schedules in FILE; all or nothing."""
    from broadcaster.onair.schedules import import_yaml

    with _session(ctx) as session:
        saved = import_yaml(session, file.read_text(encoding="utf-8"))
    click.echo(f"{len(saved)} schedules imported")


@schedules_group.command("export")
@click.pass_context
def schedules_export(ctx: click.Context) -> None:
    """Print every schedule as YAML (the shape `schedules import` reads)."""
    from broadcaster.onair.schedules import export_yaml

    with _session(ctx) as session:
        click.echo(export_yaml(session), nl=False)


@main.command("plan")
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
    from broadcaster.onair.recurrence import Priority
    from broadcaster.onair.schedules import plan

    settings = _settings(ctx)
    try:
        begin = datetime.fromisoformat(start)
    except ValueError:
        raise UserFacingError(f"--from {start!r} is not an ISO 8601 date or time") from None
    if begin.tzinfo is None:
        begin = begin.replace(tzinfo=ZoneInfo(settings.timezone))
    with _session(ctx) as session:
        station_ids = None
        if station_code:
            station_ids = [_find_station(session, station_code).id]
        elif area_name:
            commune_ids = {c.id for c in communes_of(session, get_area(session, area_name))}
            station_ids = [s.id for s in session.exec(select(Station)) if s.area_id in commune_ids]
        plays = plan(session, begin, begin + timedelta(hours=hours), station_ids=station_ids)
        for play in plays:
            row = {
                "station": play.station.code,
                "at": play.at.astimezone(ZoneInfo(play.station.timezone)).isoformat(),
                "script": play.script.slug,
                "version": play.version.number,
                "priority": Priority(play.priority).name.lower(),
                "schedule": play.schedule.name,
            }
            click.echo(json.dumps(row, ensure_ascii=False))


@main.group("report")
def report_group() -> None:
    """Reports on what was broadcast."""


@report_group.command("compliance")
@click.option("--from", "first", required=True, help="First day (YYYY-MM-DD or dd/mm/yyyy).")
@click.option("--to", "last", required=True, help="Last day, inclusive.")
@click.option("--area", "area_name", help="Only stations in this area (province, group, commune).")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="csv", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (required for xlsx); default standard output.",
)
@click.pass_context
def report_compliance(
    ctx: click.Context,
    first: str,
    last: str,
    area_name: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Planned vs played vs late vs missed per station, ranked (báo cáo kết quả phát)."""
    from broadcaster.accountability.adoption import parse_day
    from broadcaster.accountability.reports import (
        COMPLIANCE_HEADERS,
        compliance,
        compliance_rows,
        to_csv,
        to_xlsx,
        totals,
    )
    from broadcaster.core.areas import get_area

    try:
        start, end = parse_day(first), parse_day(last)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    if end < start:
        raise UserFacingError("--to is before --from")
    if fmt == "xlsx" and output is None:
        raise UserFacingError("--format xlsx needs --output FILE")
    with _session(ctx) as session:
        area = get_area(session, area_name) if area_name else None
        ranked = totals(compliance(session, first=start, last=end, area=area))
        if fmt == "json":
            payload = [
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
            data: str | bytes = "\n".join(json.dumps(row, ensure_ascii=False) for row in payload)
            data += "\n" if payload else ""
        elif fmt == "csv":
            data = to_csv(COMPLIANCE_HEADERS, compliance_rows(ranked))
        else:
            data = to_xlsx(COMPLIANCE_HEADERS, compliance_rows(ranked), title="Kết quả phát")
    if output is None:
        click.echo(data, nl=False)
        return
    from broadcaster.speech.engines import write_atomically

    try:
        write_atomically(output, data if isinstance(data, bytes) else data.encode("utf-8"))
    except OSError as exc:
        raise UserFacingError(f"cannot write {output}: {exc}") from exc
    click.echo(f"wrote {output} ({len(ranked)} stations)")


@report_group.command("summary")
@click.option("--day", help="The day (default yesterday, local time).")
@click.option("--send", "send_mail", is_flag=True, help="Also e-mail it (BROADCASTER_SMTP_*).")
@click.pass_context
def report_summary(ctx: click.Context, day: str | None, send_mail: bool) -> None:
    """Print the daily summary: plays, misses with reasons, stations offline now."""
    from datetime import timedelta

    from broadcaster.accountability.adoption import parse_day
    from broadcaster.accountability.alerts import AlertError, daily_summary, send

    settings = _settings(ctx)
    try:
        wanted = parse_day(day) if day else local_today(settings) - timedelta(days=1)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    with _session(ctx) as session:
        summary = daily_summary(session, day=wanted)
    click.echo(summary.text(), nl=False)
    if send_mail:
        try:
            sent = send(settings, summary)
        except AlertError as exc:
            raise UserFacingError(str(exc)) from exc
        if not sent:
            raise UserFacingError("set BROADCASTER_SMTP_HOST and BROADCASTER_ALERT_EMAILS to send")
        click.echo(f"sent to {', '.join(settings.alert_emails)}", err=True)


@main.group("logs")
def logs_group() -> None:
    """The broadcast log."""


@logs_group.command("purge")
@click.option("--before", required=True, help="Delete log entries of days before this date.")
@click.option("--yes", is_flag=True, help="Do it; without this flag nothing is deleted.")
@click.pass_context
def logs_purge(ctx: click.Context, before: str, yes: bool) -> None:
    """Delete play events and settled plays before a date (never inside the retention period)."""
    import getpass

    from broadcaster.accountability.adoption import parse_day
    from broadcaster.accountability.reports import purge

    settings = _settings(ctx)
    try:
        day = parse_day(before)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    if not yes:
        raise UserFacingError("purging deletes records for good; add --yes to confirm")
    with _session(ctx) as session:
        events, occurrences = purge(
            session,
            before=day,
            today=local_today(settings),
            retention_days=settings.log_retention_days,
            actor_label=f"cli:{getpass.getuser()}"[:64],
        )
    click.echo(f"deleted {events} events and {occurrences} plays before {day.isoformat()}")


@main.group("stations")
def stations_group() -> None:
    """Stations and their agent tokens."""


@stations_group.command("create")
@click.option("--code", required=True, help="Station code, e.g. HUE-THUAN-AN.")
@click.option("--commune", required=True, help="Commune or ward name (or its code, e.g. X19753).")
@click.option(
    "--mode", type=click.Choice(["agent", "manual", "local"]), default="agent", show_default=True
)
@click.option("--timezone", default=None, help="Default BROADCASTER_TIMEZONE.")
@click.pass_context
def stations_create(
    ctx: click.Context, code: str, commune: str, mode: str, timezone: str | None
) -> None:
    """Create a station; prints its agent token once (only a hash is stored)."""
    from broadcaster.stations.api import create_station_with_token

    settings = _settings(ctx)
    with _session(ctx) as session:
        station, token = create_station_with_token(
            session, code, commune, mode, timezone or settings.timezone, None
        )
        code = station.code
    click.echo(f"created station {code}")
    click.echo(f"token: {token}")
    click.echo(
        "The token is shown only once. Save it alone in a file only the agent's user can "
        "read (mode 600), then run the agent with:"
    )
    # Not --token: a command line is visible to every user of the station machine (ps).
    click.echo(
        f"  broadcaster agent --server http://{settings.host}:{settings.port} "
        "--token-file /etc/broadcaster/agent-token --cache /var/cache/broadcaster"
    )


@stations_group.command("rotate-token")
@click.argument("code")
@click.pass_context
def stations_rotate(ctx: click.Context, code: str) -> None:
    """Give a station a new token (the old one stops working); prints it once."""
    from broadcaster.stations.api import rotate_token

    with _session(ctx) as session:
        token = rotate_token(session, _find_station(session, code), None)
    click.echo(f"token: {token}")


@main.command("agent", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def agent_cmd(ctx: click.Context) -> None:
    """Run the station agent: --server URL --token TOKEN --cache DIR [--player ...].

    Pulls the station's playlist, caches the audio, plays on time even offline and
    reports every play. See `broadcaster agent --help-agent` for all options.
    """
    from broadcaster.stations.agent import main as agent_main

    args = ["--help" if a == "--help-agent" else a for a in ctx.args]
    sys.exit(agent_main(args))


# --- speech ---------------------------------------------------------------------------


def _lexicon_or_none(ctx: click.Context) -> dict[str, str] | None:
    """The staff lexicon from the database; without a database, the built-in rules alone."""
    from sqlalchemy.exc import SQLAlchemyError

    from broadcaster.speech.lexicon import as_mapping

    settings = _settings(ctx)
    engine = db.make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return as_mapping(session)
    except SQLAlchemyError:
        click.echo(
            "warning: lexicon unavailable (run `broadcaster db upgrade`); "
            "using the built-in rules only",
            err=True,
        )
        return None
    finally:
        engine.dispose()


@main.command("normalize")
@click.argument("text", required=False)
@click.option("--no-lexicon", is_flag=True, help="Ignore the staff lexicon in the database.")
@click.pass_context
def normalize_cmd(ctx: click.Context, text: str | None, no_lexicon: bool) -> None:
    """Print TEXT as it will be read aloud (numbers, dates, abbreviations spelled out).

    Without TEXT, reads standard input and writes exactly one line per input line.
    """
    from broadcaster.speech.normalize import normalize

    lexicon = None if no_lexicon else _lexicon_or_none(ctx)
    if text is not None:
        lines = text.splitlines() or [""]
    else:
        lines = (line.rstrip("\r\n") for line in sys.stdin)
    for line in lines:
        click.echo(normalize(line, lexicon=lexicon))


@main.command("speak")
@click.argument("text")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Audio file to write (.wav or .mp3).",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "gtts", "espeak", "piper"]),
    default=None,
    help="TTS engine (default BROADCASTER_TTS_ENGINE); auto tries gTTS, then espeak-ng.",
)
@click.option(
    "--voice",
    type=click.Choice(["north", "central", "south"]),
    default="central",
    show_default=True,
    help="Regional voice.",
)
@click.option("--speed", type=click.FloatRange(0.5, 2.0), default=1.0, show_default=True)
@click.pass_context
def speak_cmd(
    ctx: click.Context, text: str, output: Path, engine: str | None, voice: str, speed: float
) -> None:
    """Normalize TEXT and write it as speech to OUTPUT; prints one JSON object."""
    from broadcaster.speech import engine_for
    from broadcaster.speech.engines import EngineError, speak_to_file
    from broadcaster.speech.normalize import normalize

    settings = _settings(ctx)
    spoken = normalize(text, lexicon=_lexicon_or_none(ctx))
    try:
        speech = speak_to_file(
            spoken, output, engine=engine_for(settings, engine), voice=voice, speed=speed
        )
    except (EngineError, ValueError, OSError) as exc:
        raise UserFacingError(str(exc)) from exc
    click.echo(
        json.dumps(
            {
                "path": str(output),
                "engine": speech.engine,
                "voice": speech.voice,
                "fallback": speech.fallback,
                "bytes": speech.size,
                "spoken": spoken,
            },
            ensure_ascii=False,
        )
    )


# --- rendering ------------------------------------------------------------------------


def _render_json(result, output: Path | None) -> str:
    audio = result.audio
    return json.dumps(
        {
            "path": str(output) if output else str(result.path),
            "store_path": str(result.path),
            "duration_s": audio.duration_s,
            "lufs": audio.lufs,
            "true_peak_db": audio.true_peak_db,
            "engine": audio.engine,
            "voice": audio.voice,
            "fallback": audio.fallback,
            "sha256": audio.sha256,
            "cached": result.cached,
        },
        ensure_ascii=False,
    )


def _find_script(session: Session, ref: str):
    from sqlmodel import select

    from broadcaster.core.models import Script

    is_id = ref.isascii() and ref.isdigit() and len(ref) <= 9
    query = select(Script).where(Script.id == int(ref)) if is_id else None
    script = session.exec(query).first() if query is not None else None
    script = script or session.exec(select(Script).where(Script.slug == ref)).first()
    if script is None:
        raise UserFacingError(f"no script with id or slug {ref!r} (see `broadcaster scripts list`)")
    return script


def _find_station(session: Session, code: str):
    from sqlmodel import select

    from broadcaster.core.models import Station

    station = session.exec(select(Station).where(Station.code == code.upper())).first()
    if station is None:
        raise UserFacingError(f"no station with code {code!r}")
    return station


@main.command("render")
@click.option("--text", help="Render this text (template variables allowed with --station).")
@click.option("--script", "script_ref", help="Render a script (id or slug): its approved version.")
@click.option(
    "--draft", is_flag=True, help="With --script: render the latest version, approved or not."
)
@click.option(
    "--all-approved", is_flag=True, help="Render every approved script for every station."
)
@click.option("--station", "station_code", help="Fill template variables for this station.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Copy the finished MP3 here.",
)
@click.option(
    "--profile", "profile_name", help="Broadcast profile (default BROADCASTER_AUDIO_PROFILE)."
)
@click.option(
    "--voice",
    type=click.Choice(["north", "central", "south"]),
    default="central",
    show_default=True,
    help="With --text: regional voice.",
)
@click.option(
    "--speed",
    type=click.FloatRange(0.5, 2.0),
    default=1.0,
    show_default=True,
    help="With --text: speaking speed.",
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 5),
    default=2,
    show_default=True,
    help="With --text: how many times the body is read.",
)
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["auto", "gtts", "espeak", "piper"]),
    default=None,
    help="TTS engine (default BROADCASTER_TTS_ENGINE).",
)
@click.pass_context
def render_cmd(
    ctx: click.Context,
    text: str | None,
    script_ref: str | None,
    draft: bool,
    all_approved: bool,
    station_code: str | None,
    output: Path | None,
    profile_name: str | None,
    voice: str,
    speed: float,
    repeat: int,
    engine_name: str | None,
) -> None:
    """Render broadcast-ready MP3 into the audio store; prints one JSON object.

    Identical input is rendered once: a second call prints "cached": true.
    """
    from broadcaster.audio.profiles import ProfileError, deployment_profile
    from broadcaster.audio.render import (
        RenderError,
        RenderRequest,
        render,
        render_version,
        store_for,
    )
    from broadcaster.newsroom.templating import TemplateError, context_for, expand
    from broadcaster.newsroom.workflow import latest_approved, latest_version
    from broadcaster.speech import engine_for
    from broadcaster.speech.engines import write_atomically
    from broadcaster.speech.lexicon import as_mapping

    if sum(bool(x) for x in (text, script_ref, all_approved)) != 1:
        raise UserFacingError("give exactly one of --text, --script or --all-approved")
    if not all_approved and output is None:
        raise UserFacingError("--output (-o) is required with --text or --script")
    settings = _settings(ctx)
    try:
        profile = deployment_profile(settings, profile_name)
    except ProfileError as exc:
        raise UserFacingError(str(exc)) from exc
    engine_choice = engine_name or settings.tts_engine
    engine = engine_for(settings, engine_choice)
    store = store_for(settings)
    today = local_today(settings)
    if output is not None and not output.parent.is_dir():
        # Say so before spending a render on a file that cannot be written.
        raise UserFacingError(f"folder {str(output.parent)!r} does not exist")
    with _session(ctx) as session:
        lexicon = as_mapping(session)
        station = _find_station(session, station_code) if station_code else None
        try:
            if all_approved:
                _render_all_approved(session, settings, store, profile_name, engine_name, today)
                return
            if text is not None:
                request = RenderRequest(
                    text=expand(text, context_for(session, station, today)),
                    voice=voice,
                    speed=speed,
                    repeat=repeat,
                    profile=profile,
                    engine_name=engine_choice,
                )
                result = render(
                    session=session, store=store, request=request, engine=engine, lexicon=lexicon
                )
            else:
                script = _find_script(session, script_ref)
                version = (
                    latest_version(session, script) if draft else latest_approved(session, script)
                )
                if version is None:
                    raise UserFacingError(
                        f"script {script.slug!r} has no approved version; "
                        "use --draft to render its latest draft for listening"
                    )
                # As on air: the version's own profile, engine and frozen lexicon,
                # unless --profile or --engine name others.
                result = render_version(
                    session=session,
                    settings=settings,
                    store=store,
                    version=version,
                    station=station,
                    on=today,
                    profile_name=profile_name,
                    engine_name=engine_name,
                )
        except (RenderError, TemplateError) as exc:
            raise UserFacingError(str(exc)) from exc
        if output is not None:
            try:
                write_atomically(output, result.path.read_bytes())
            except OSError as exc:
                raise UserFacingError(f"cannot write {output}: {exc}") from exc
        click.echo(_render_json(result, output))


@main.group("audio")
def audio_group() -> None:
    """The audio store."""


@audio_group.command("gc")
@click.option(
    "--days",
    type=click.IntRange(1),
    default=None,
    help="Delete audio unused for this many days (default BROADCASTER_AUDIO_RETENTION_DAYS).",
)
@click.pass_context
def audio_gc(ctx: click.Context, days: int | None) -> None:
    """Delete rendered audio nobody has used for the retention period, and stray files."""
    from datetime import timedelta

    from broadcaster.audio.render import collect_garbage, store_for

    settings = _settings(ctx)
    with _session(ctx) as session:
        removed = collect_garbage(
            session=session,
            store=store_for(settings),
            retention=timedelta(days=days or settings.audio_retention_days),
        )
    click.echo(f"removed {removed} files")


def _render_all_approved(session, settings, store, profile_name, engine_name, today) -> None:
    """Every approved script × every station whose commune it names (or once if shared).

    Each renders as it will go on air (render_version), so this warms exactly the files
    the scheduler and the agents will ask for.
    """
    from sqlmodel import select

    from broadcaster.audio.render import RenderError, render_version
    from broadcaster.core.models import Script, Station
    from broadcaster.newsroom.templating import needs_station
    from broadcaster.newsroom.workflow import latest_approved

    jobs = []
    stations = session.exec(select(Station).where(Station.is_active.is_(True))).all()
    for script in session.exec(select(Script).order_by(Script.slug)):
        version = latest_approved(session, script)
        if version is None:
            continue
        targets = stations if needs_station(version.body) else [None]
        jobs += [(script, version, station) for station in targets]
    made = cached = failed = 0
    with click.progressbar(jobs, label="Rendering", file=sys.stderr) as bar:
        for script, version, station in bar:
            try:
                result = render_version(
                    session=session,
                    settings=settings,
                    store=store,
                    version=version,
                    station=station,
                    on=today,
                    profile_name=profile_name,
                    engine_name=engine_name,
                )
            except RenderError as exc:
                failed += 1
                click.echo(f"\n{script.slug}: {exc}", err=True)
                continue
            session.commit()
            cached += result.cached
            made += not result.cached
    click.echo(
        json.dumps({"rendered": made, "cached": cached, "failed": failed, "total": len(jobs)})
    )
    if failed:
        raise UserFacingError(f"{failed} of {len(jobs)} renders failed")


if __name__ == "__main__":
    main()

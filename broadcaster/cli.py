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

from broadcaster import db
from broadcaster.config import ConfigError, Settings, load_settings


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
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


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
    from broadcaster.demo import seed_demo

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
    from broadcaster.demo import needs_demo, seed_demo
    from broadcaster.models import Role
    from broadcaster.users import create_user, generate_password, has_admin

    settings = _settings(ctx)
    db.upgrade(settings.database_url)
    with _session(ctx) as session:
        if needs_demo(session):
            report = seed_demo(session, timezone=settings.timezone)
            click.echo(f"demo loaded: {report.communes} communes of Thành phố Huế")
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
    if password:
        banner = "=" * 64
        click.echo(f"\n{banner}\nFirst admin created.\n  username: admin\n  password: {password}")
        click.echo(f"This password is shown only once. Change it after logging in.\n{banner}\n")


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
        "--call",
        "web:create_app",
    ]
    os.execv(sys.executable, argv)


@main.command("scheduler")
@click.pass_context
def scheduler_cmd(ctx: click.Context) -> None:
    """Run the scheduler process (APScheduler, jobs stored in the database)."""
    from broadcaster.scheduling import run_scheduler

    run_scheduler(_settings(ctx))


@main.command("up")
@click.pass_context
def up_cmd(ctx: click.Context) -> None:
    """Run the whole system on this machine: web and scheduler. Ctrl-C stops everything."""
    from broadcaster.supervisor import Child, broadcaster_command, supervise

    settings = _settings(ctx)
    click.echo(f"Broadcaster on http://{settings.host}:{settings.port}  (Ctrl-C to stop)")
    children = [
        Child("web", broadcaster_command("web")),
        Child("scheduler", broadcaster_command("scheduler")),
    ]
    sys.exit(supervise(children))


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
    from broadcaster.users import create_user, generate_password

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
    from broadcaster.areas import import_divisions

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
    from broadcaster.scriptfiles import import_scripts

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

    from broadcaster.models import Campaign, Script
    from broadcaster.workflow import latest_version

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


if __name__ == "__main__":
    main()

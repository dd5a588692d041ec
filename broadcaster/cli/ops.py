"""Running and keeping the system: `web`, `scheduler`, `up`, `health`, `backup`, `restore`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from sqlmodel import Session

from broadcaster.cli.context import (
    UserFacingError,
    get_settings,
)
from broadcaster.core import db


@click.command("web")
@click.option("--host", default=None, help="Address to listen on (default BROADCASTER_HOST).")
@click.option("--port", type=int, default=None, help="Port (default BROADCASTER_PORT, 8000).")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True)
@click.pass_context
def web_cmd(ctx: click.Context, host: str | None, port: int | None, threads: int) -> None:
    """Serve the web UI and the station API with waitress."""
    settings = get_settings(ctx)
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


@click.command("scheduler")
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

    run_scheduler(get_settings(ctx), player=player)


@click.command("health")
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

    settings = get_settings(ctx)
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


@click.command("up")
@click.pass_context
def up_cmd(ctx: click.Context) -> None:
    """Run the whole system on this machine: web and scheduler. Ctrl-C stops everything."""
    from broadcaster.ops.supervisor import Child, broadcaster_command, supervise

    settings = get_settings(ctx)
    click.echo(f"Broadcaster on http://{settings.host}:{settings.port}  (Ctrl-C to stop)")
    children = [
        Child("web", broadcaster_command("web")),
        Child("scheduler", broadcaster_command("scheduler")),
    ]
    sys.exit(supervise(children))


@click.command("backup")
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

    settings = get_settings(ctx)
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


@click.command("restore")
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
    from broadcaster.ops.backup import BackupError
    from broadcaster.ops.restore import restore

    settings = get_settings(ctx)
    try:
        summary = restore(settings, archive, force=force)
    except BackupError as exc:
        raise UserFacingError(str(exc)) from exc
    click.echo(
        f"restored {archive}: {summary.users} users, {summary.stations} stations, "
        f"{summary.scripts} scripts, {summary.audio} audio files"
    )
    click.echo("next: `broadcaster db upgrade` (if this Broadcaster is newer), then start it")


COMMANDS = [web_cmd, scheduler_cmd, health_cmd, up_cmd, backup_cmd, restore_cmd]

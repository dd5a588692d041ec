"""The newsroom's inputs: `user`, `areas`, `scripts` and `adoption` figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from broadcaster.cli.context import (
    UserFacingError,
    open_session,
)


@click.group("user")
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
    with open_session(ctx) as session:
        user = create_user(
            session=session, username=username, role=role, password=password, full_name=full_name
        )
    click.echo(f"created {user.role} {user.username}")
    if not password_stdin:
        click.echo(f"password: {password}")


@click.group("areas")
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

    with open_session(ctx) as session:
        result = import_divisions(session, province_names=list(provinces) or None)
    click.echo(
        f"{result.provinces} provinces, {result.communes} communes ({result.created} new areas)"
    )


@click.group("scripts")
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

    with open_session(ctx) as session:
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

    with open_session(ctx) as session:
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


@click.group("adoption")
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
        with open_session(ctx) as session:
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


COMMANDS = [user_group, areas_group, scripts_group, adoption_group]

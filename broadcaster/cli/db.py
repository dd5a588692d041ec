"""Database commands: `db upgrade`, `seed demo` and first-run `init`."""

from __future__ import annotations

import click

from broadcaster.cli.context import (
    get_settings,
    open_session,
)
from broadcaster.core import db


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply database migrations."""
    settings = get_settings(ctx)
    db.upgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}")


@click.group("seed")
def seed_group() -> None:
    """Load sample data."""


@seed_group.command("demo")
@click.pass_context
def seed_demo_cmd(ctx: click.Context) -> None:
    """Load the Thành phố Huế demo (communes, stations, groups, Bluezone scripts)."""
    from broadcaster.ops.demo import seed_demo

    settings = get_settings(ctx)
    with open_session(ctx) as session:
        report = seed_demo(session, timezone=settings.timezone)
    click.echo(
        f"demo: {report.communes} communes, {report.stations_created} new stations, "
        f"{report.groups} groups, {report.scripts} scripts"
    )


@click.command("init")
@click.pass_context
def init_cmd(ctx: click.Context) -> None:
    """First-run setup: migrate, load the demo if the database is empty, create the first admin.

    The admin's generated password is printed once; it is never stored in clear.
    """
    from broadcaster.core.dbtypes import utcnow
    from broadcaster.core.models import Role
    from broadcaster.newsroom.users import create_user, generate_password, has_admin
    from broadcaster.ops.demo import (
        air_demo_yesterday,
        approve_demo_campaign,
        create_demo_users,
        import_demo_adoption,
        import_demo_schedules,
        needs_demo,
        seed_demo,
    )

    settings = get_settings(ctx)
    db.upgrade(settings.database_url)
    with open_session(ctx) as session:
        demo_passwords: dict[str, str] = {}
        if needs_demo(session):
            report = seed_demo(session, timezone=settings.timezone)
            demo_passwords = create_demo_users(session)
            approved = approve_demo_campaign(session)
            schedules = import_demo_schedules(session)
            import_demo_adoption(session)
            aired = air_demo_yesterday(session, settings, now=utcnow())
            click.echo(
                f"demo loaded: {report.communes} communes of Thành phố Huế, "
                f"{approved} approved scripts, {schedules} schedules, "
                f"{aired} of yesterday's bulletins to hear again"
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


COMMANDS = [db_group, seed_group, init_cmd]

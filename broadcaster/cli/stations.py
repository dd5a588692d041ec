"""Stations and their tokens (`stations create/rotate-token`) and the station `agent`."""

from __future__ import annotations

import sys

import click

from broadcaster.cli.context import (
    find_station,
    get_settings,
    open_session,
)


@click.group("stations")
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

    settings = get_settings(ctx)
    with open_session(ctx) as session:
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

    with open_session(ctx) as session:
        token = rotate_token(session, find_station(session, code), None)
    click.echo(f"token: {token}")


@click.command("agent", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def agent_cmd(ctx: click.Context) -> None:
    """Run the station agent: --server URL --token TOKEN --cache DIR [--player ...].

    Pulls the station's playlist, caches the audio, plays on time even offline and
    reports every play. See `broadcaster agent --help-agent` for all options.
    """
    from broadcaster.stations.agent.runner import main as agent_main

    args = ["--help" if a == "--help-agent" else a for a in ctx.args]
    sys.exit(agent_main(args))


COMMANDS = [stations_group, agent_cmd]

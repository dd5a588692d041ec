"""The `broadcaster` command: the click group; each command group lives in its own module.

Each module is thin (parse, call the core, print) and lists its top-level commands in
COMMANDS; this one only configures logging and adds them.
"""

from __future__ import annotations

import logging
import os

import click

from broadcaster.cli import db, newsroom, ops, render, report, schedules, speech, stations
from broadcaster.cli.context import UserFacingError
from broadcaster.core.config import ConfigError


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


for _module in (db, ops, newsroom, schedules, report, stations, speech, render):
    for _command in _module.COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":
    main()

"""What every command shares: the settings, a session that turns refusals into clean
one-line errors, and finding a script or a station by what a user types.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlmodel import Session

from broadcaster.core import db
from broadcaster.core.config import ConfigError, Settings, load_settings
from broadcaster.core.errors import BroadcasterError


class UserFacingError(click.ClickException):
    """Printed as 'Error: ...' with exit code 1, never as a traceback."""


def get_settings(ctx: click.Context) -> Settings:
    if ctx.obj is None:
        try:
            ctx.obj = load_settings()
        except ConfigError as exc:
            raise UserFacingError(f"configuration: {exc}") from exc
    return ctx.obj


@contextmanager
def open_session(ctx: click.Context) -> Iterator[Session]:
    """A committed-on-success session; refusals (BroadcasterError) become clean CLI errors.

    Any other exception is a bug: it propagates, so click prints its traceback and exits 1.
    """
    settings = get_settings(ctx)
    engine = db.make_engine(settings.database_url)
    try:
        with db.session_scope(engine) as session:
            yield session
    except BroadcasterError as exc:
        raise UserFacingError(str(exc)) from exc
    finally:
        engine.dispose()


def find_script(session: Session, ref: str):
    from sqlmodel import select

    from broadcaster.core.models import Script

    is_id = ref.isascii() and ref.isdigit() and len(ref) <= 9
    query = select(Script).where(Script.id == int(ref)) if is_id else None
    script = session.exec(query).first() if query is not None else None
    script = script or session.exec(select(Script).where(Script.slug == ref)).first()
    if script is None:
        raise UserFacingError(f"no script with id or slug {ref!r} (see `broadcaster scripts list`)")
    return script


def find_station(session: Session, code: str):
    from sqlmodel import select

    from broadcaster.core.models import Station

    station = session.exec(select(Station).where(Station.code == code.upper())).first()
    if station is None:
        raise UserFacingError(f"no station with code {code!r}")
    return station

"""Speech without the audio store: `normalize` text and `speak` it to a file."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

import click
from sqlmodel import Session

from broadcaster.cli.context import (
    UserFacingError,
    get_settings,
)
from broadcaster.core import db
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.voices import DEFAULT_VOICE, ENGINE_NAMES, VOICES


def _lexicon_or_none(ctx: click.Context) -> dict[str, str] | None:
    """The staff lexicon from the database; without a database, the built-in rules alone."""
    from sqlalchemy.exc import SQLAlchemyError

    from broadcaster.speech.lexicon import as_mapping

    settings = get_settings(ctx)
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


@click.command("normalize")
@click.argument("text", required=False)
@click.option("--no-lexicon", is_flag=True, help="Ignore the staff lexicon in the database.")
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 if anything cannot be read, naming each such token on stderr.",
)
@click.pass_context
def normalize_cmd(ctx: click.Context, text: str | None, no_lexicon: bool, strict: bool) -> None:
    """Print TEXT as it will be read aloud (numbers, dates, abbreviations spelled out).

    Without TEXT, reads standard input and writes exactly one line per input line.
    A token nothing can read (a stray symbol, emoji, a word in another script, a control
    character) is left out and named on stderr as LINE:COLUMN (1-based); with --strict
    the command then exits 1.
    """
    from broadcaster.speech.normalize import normalize_report

    lexicon = None if no_lexicon else _lexicon_or_none(ctx)
    lines: Iterable[str]
    if text is not None:
        lines = text.splitlines() or [""]
    else:
        lines = (line.rstrip("\r\n") for line in sys.stdin)
    unreadable = []
    for number, line in enumerate(lines, start=1):
        report = normalize_report(line, lexicon=lexicon)
        click.echo(report.spoken)
        unreadable += [(number, token) for token in report.unreadable]
    if not unreadable:
        return
    prefix = "error" if strict else "warning"
    for number, token in unreadable:
        click.echo(
            f"{prefix}: cannot read {token.label!r} at {number}:{token.start + 1}; left out",
            err=True,
        )
    if strict:
        ctx.exit(1)


@click.command("speak")
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
    type=click.Choice(ENGINE_NAMES),
    default=None,
    help="TTS engine (default BROADCASTER_TTS_ENGINE); auto tries gTTS, then espeak-ng.",
)
@click.option(
    "--voice",
    type=click.Choice(VOICES),
    default=DEFAULT_VOICE,
    show_default=True,
    help="Regional voice.",
)
@click.option("--speed", type=click.FloatRange(0.5, 2.0), default=1.0, show_default=True)
@click.pass_context
def speak_cmd(
    ctx: click.Context, text: str, output: Path, engine: str | None, voice: str, speed: float
) -> None:
    """Normalize TEXT and write it as speech to OUTPUT; prints one JSON object."""
    from broadcaster.speech.engines import EngineError, engine_for, speak_to_file
    from broadcaster.speech.normalize import normalize

    settings = get_settings(ctx)
    spoken = normalize(text, lexicon=_lexicon_or_none(ctx))
    try:
        speech = speak_to_file(
            spoken, output, engine=engine_for(settings, engine), voice=voice, speed=speed
        )
    except (EngineError, BroadcasterError, OSError) as exc:
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


COMMANDS = [normalize_cmd, speak_cmd]

"""Broadcast-ready audio: `render` into the audio store and `audio gc`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from broadcaster.cli.context import (
    UserFacingError,
    find_script,
    find_station,
    get_settings,
    open_session,
)
from broadcaster.core.config import local_today
from broadcaster.core.voices import DEFAULT_VOICE, ENGINE_NAMES, VOICES


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


@click.command("render")
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
    type=click.Choice(VOICES),
    default=DEFAULT_VOICE,
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
    type=click.Choice(ENGINE_NAMES),
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
    from broadcaster.core.fsutil import write_atomically
    from broadcaster.newsroom.templating import TemplateError, context_for, expand
    from broadcaster.newsroom.workflow import latest_approved, latest_version
    from broadcaster.speech.engines import engine_for
    from broadcaster.speech.lexicon import as_mapping

    if sum(bool(x) for x in (text, script_ref, all_approved)) != 1:
        raise UserFacingError("give exactly one of --text, --script or --all-approved")
    if not all_approved and output is None:
        raise UserFacingError("--output (-o) is required with --text or --script")
    settings = get_settings(ctx)
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
    with open_session(ctx) as session:
        lexicon = as_mapping(session)
        station = find_station(session, station_code) if station_code else None
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
                assert script_ref is not None  # exactly one of the three was given
                script = find_script(session, script_ref)
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


@click.group("audio")
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

    settings = get_settings(ctx)
    with open_session(ctx) as session:
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
    from sqlmodel import col, select

    from broadcaster.audio.render import RenderError, render_version
    from broadcaster.core.models import Script, Station
    from broadcaster.newsroom.templating import needs_station
    from broadcaster.newsroom.workflow import latest_approved

    jobs = []
    stations = session.exec(select(Station).where(col(Station.is_active).is_(True))).all()
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


COMMANDS = [render_cmd, audio_group]

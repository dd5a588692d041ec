"""What was broadcast: `report compliance`, `report upward`, `report summary`, `logs purge`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from broadcaster.cli.context import (
    UserFacingError,
    get_settings,
    open_session,
)
from broadcaster.core.config import local_today


@click.group("report")
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
        compliance_records,
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
    with open_session(ctx) as session:
        area = get_area(session, area_name) if area_name else None
        ranked = totals(compliance(session, first=start, last=end, area=area))
        if fmt == "json":
            payload = compliance_records(ranked)
            lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in payload]
            data: str | bytes = "".join(lines)
        elif fmt == "csv":
            data = to_csv(COMPLIANCE_HEADERS, compliance_rows(ranked))
        else:
            data = to_xlsx(COMPLIANCE_HEADERS, compliance_rows(ranked), title="Kết quả phát")
    if output is None:
        click.echo(data, nl=False)
        return
    from broadcaster.core.fsutil import write_atomically

    try:
        write_atomically(output, data if isinstance(data, bytes) else data.encode("utf-8"))
    except OSError as exc:
        raise UserFacingError(f"cannot write {output}: {exc}") from exc
    click.echo(f"wrote {output} ({len(ranked)} stations)")


@report_group.command("upward")
@click.option("--from", "first", required=True, help="First day (YYYY-MM-DD or dd/mm/yyyy).")
@click.option("--to", "last", required=True, help="Last day, inclusive (local days).")
@click.option(
    "--area",
    "area_name",
    required=True,
    help="Province, group or commune: code or name, accents and prefix optional.",
)
@click.option("--campaign", "campaign_slug", help="Only this campaign's scripts (its slug).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "json"]), required=True)
@click.option(
    "--table",
    type=click.Choice(["bulletins", "communes"]),
    help="The table a CSV holds (required with --format csv): one CSV per table.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here, atomically (required for xlsx); default standard output.",
)
@click.pass_context
def report_upward(
    ctx: click.Context,
    first: str,
    last: str,
    area_name: str,
    campaign_slug: str | None,
    fmt: str,
    table: str | None,
    output: Path | None,
) -> None:
    """What the communes of an area aired, per bulletin and per commune (TT39 report upward)."""
    from broadcaster.accountability import upward_export
    from broadcaster.accountability.upward import (
        UpwardError,
        find_area,
        find_campaign,
        parse_period,
        upward_report,
    )

    if fmt == "csv" and table is None:
        raise UserFacingError("a CSV holds one table: add --table bulletins or --table communes")
    if fmt != "csv" and table is not None:
        raise UserFacingError("--table chooses a CSV's table; xlsx and json hold both")
    if fmt == "xlsx" and output is None:
        raise UserFacingError("--format xlsx needs --output FILE")
    try:
        start, end = parse_period(first, last)
    except UpwardError as exc:
        raise UserFacingError(str(exc)) from exc
    settings = get_settings(ctx)
    with open_session(ctx) as session:
        area = find_area(session, area_name)
        campaign = find_campaign(session, campaign_slug) if campaign_slug else None
        report = upward_report(
            session,
            area=area,
            first=start,
            last=end,
            timezone=settings.timezone,
            campaign=campaign,
        )
    if fmt == "xlsx":
        data: str | bytes = upward_export.to_xlsx(report)
    elif fmt == "csv":
        data = upward_export.to_csv(report, table or "")
    else:
        data = upward_export.to_json(report)
    if output is None:
        click.echo(data, nl=False)
        return
    from broadcaster.core.fsutil import write_atomically

    try:
        write_atomically(output, data if isinstance(data, bytes) else data.encode("utf-8"))
    except OSError as exc:
        raise UserFacingError(f"cannot write {output}: {exc}") from exc
    # Says which area a typed name resolved to, so a wrong guess is seen before it is sent.
    click.echo(
        f"wrote {output}: {area.name} ({area.code}), {start:%d/%m/%Y}-{end:%d/%m/%Y}, "
        f"{len(report.bulletins)} bulletins, {len(report.communes)} communes"
    )


@report_group.command("summary")
@click.option("--day", help="The day (default yesterday, local time).")
@click.option("--send", "send_mail", is_flag=True, help="Also e-mail it (BROADCASTER_SMTP_*).")
@click.pass_context
def report_summary(ctx: click.Context, day: str | None, send_mail: bool) -> None:
    """Print the daily summary: plays, misses with reasons, stations offline now."""
    from datetime import timedelta

    from broadcaster.accountability.adoption import parse_day
    from broadcaster.accountability.alerts import AlertError, daily_summary, send

    settings = get_settings(ctx)
    try:
        wanted = parse_day(day) if day else local_today(settings) - timedelta(days=1)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    with open_session(ctx) as session:
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


@click.group("logs")
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

    settings = get_settings(ctx)
    try:
        day = parse_day(before)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    if not yes:
        raise UserFacingError("purging deletes records for good; add --yes to confirm")
    with open_session(ctx) as session:
        events, occurrences = purge(
            session,
            before=day,
            today=local_today(settings),
            retention_days=settings.log_retention_days,
            actor_label=f"cli:{getpass.getuser()}"[:64],
        )
    click.echo(f"deleted {events} events and {occurrences} plays before {day.isoformat()}")


COMMANDS = [report_group, logs_group]

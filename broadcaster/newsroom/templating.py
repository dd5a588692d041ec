"""Template variables in scripts, e.g. {ten_xa}: filled per station at render time.

Unknown variables are refused when a version is saved, so they can never fail on air.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from broadcaster.core.db import saved_id
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import Area, Station

_TOKEN = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
WEEKDAYS = ("thứ hai", "thứ ba", "thứ tư", "thứ năm", "thứ sáu", "thứ bảy", "chủ nhật")


class TemplateError(BroadcasterError):
    """A script whose template cannot be filled; the message is safe to show."""


@dataclass(frozen=True)
class Context:
    """What a variable may draw on: the station (with its commune and province) and the day."""

    session: Session | None
    station: Station | None
    commune: Area | None
    province: Area | None
    on: date


@dataclass(frozen=True)
class Variable:
    name: str
    help: str
    example: str
    needs_station: bool
    resolve: Callable[[Context], str]


def _standing(ctx: Context):
    from broadcaster.accountability.adoption import standings

    if ctx.session is None or ctx.province is None or ctx.commune is None:
        raise TemplateError("Bluezone figures need a station")
    standing = standings(ctx.session, ctx.province).get(saved_id(ctx.commune))
    if standing is None:
        raise TemplateError(f"no Bluezone figures for {ctx.commune.name} yet (import them first)")
    return standing


def _installs(ctx: Context) -> str:
    from broadcaster.accountability.adoption import vietnamese_number

    return vietnamese_number(_standing(ctx).figure.installs)


def _rate(ctx: Context) -> str:
    from broadcaster.accountability.adoption import vietnamese_percent

    return vietnamese_percent(_standing(ctx).rate)


def _rank(ctx: Context) -> str:
    return str(_standing(ctx).rank)


def _commune(ctx: Context) -> str:
    return ctx.commune.name if ctx.commune else ""


def _province(ctx: Context) -> str:
    return ctx.province.name if ctx.province else ""


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable("ten_xa", "Tên xã, phường của đài", "Phường Thuận An", True, _commune),
        Variable("ten_tinh", "Tên tỉnh, thành phố", "Thành phố Huế", True, _province),
        Variable(
            "ngay",
            "Ngày phát (dd/mm/yyyy)",
            "13/8/2020",
            False,
            lambda ctx: f"{ctx.on.day}/{ctx.on.month}/{ctx.on.year}",
        ),
        Variable(
            "thu",
            "Thứ trong tuần của ngày phát",
            "thứ năm",
            False,
            lambda ctx: WEEKDAYS[ctx.on.weekday()],
        ),
        Variable("so_cai_dat", "Số người cài Bluezone của xã (mới nhất)", "3.120", True, _installs),
        Variable("ty_le_cai_dat", "Tỷ lệ cài Bluezone của xã", "16,27%", True, _rate),
        Variable("xep_hang", "Thứ hạng của xã trong tỉnh theo tỷ lệ cài", "12", True, _rank),
    )
}


def variables_in(body: str) -> list[str]:
    """The variable names a text uses, in order of first use; raises on malformed braces."""
    names: list[str] = []
    for match in _TOKEN.finditer(body):
        name = match.group(1).strip()
        if not _NAME.match(name):
            raise TemplateError(
                f"{{{match.group(1)}}} is not a variable name (use e.g. {{ten_xa}})",
                code="not_a_variable",
                token=match.group(1),
            )
        if name not in names:
            names.append(name)
    leftover = _TOKEN.sub("", body)
    if "{" in leftover or "}" in leftover:
        raise TemplateError(
            "a '{' or '}' has no partner; variables look like {ten_xa}", code="unpaired_brace"
        )
    return names


def check_template(body: str) -> list[str]:
    """Validate at save time: every variable must be known. Returns the names used."""
    names = variables_in(body)
    unknown = [n for n in names if n not in VARIABLES]
    if unknown:
        known = ", ".join("{" + n + "}" for n in VARIABLES)
        raise TemplateError(
            "unknown variable " + ", ".join("{" + n + "}" for n in unknown) + f"; known: {known}",
            code="unknown_variable",
            variables=", ".join("{" + n + "}" for n in unknown),
        )
    return names


def needs_station(body: str) -> bool:
    return any(VARIABLES[n].needs_station for n in check_template(body))


def context_for(session: Session | None, station: Station | None, on: date) -> Context:
    commune = province = None
    if station is not None and session is not None:
        commune = session.get(Area, station.area_id)
        province = session.get(Area, commune.parent_id) if commune and commune.parent_id else None
    return Context(session=session, station=station, commune=commune, province=province, on=on)


def expand(body: str, ctx: Context) -> str:
    """Fill every variable; a station variable without a station is an error, not a blank."""
    names = check_template(body)
    values: dict[str, str] = {}
    for name in names:
        variable = VARIABLES[name]
        if variable.needs_station and ctx.station is None:
            raise TemplateError(f"{{{name}}} needs a station to fill it (give --station)")
        values[name] = variable.resolve(ctx)
    return _TOKEN.sub(lambda m: values[m.group(1).strip()], body)

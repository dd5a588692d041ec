"""Bluezone adoption per commune: figures imported from CSV, rates, ranks, template values."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, func, select

from broadcaster.core import audit
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import AdoptionFigure, Area, AreaKind, User

# Headers accepted in either language; staff export these from their own spreadsheets.
HEADERS = {
    "commune": ("ma_xa", "xa", "xã", "commune", "code"),
    "on": ("ngay", "ngày", "date"),
    "installs": ("so_cai_dat", "số cài đặt", "installs"),
    "population": ("dan_so", "dân số", "population"),
}


class AdoptionImportError(BroadcasterError):
    """Rows that cannot be imported; nothing was saved. `errors` lists (row, message)."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        shown = "; ".join(f"row {row}: {message}" for row, message in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"{len(errors)} bad rows, nothing imported: {shown}{more}")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    rows: list[int] = field(default_factory=list)


def parse_day(text: str) -> date:
    text = text.strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date like 13/8/2020")


def _whole_number(text: str, what: str) -> int:
    # Vietnamese spreadsheets write 183.620 (dot = thousands); some exports 183,620.
    cleaned = text.strip().replace(".", "").replace(",", "").replace(" ", "")
    if not cleaned.isdigit():
        raise ValueError(f"{what} {text!r} is not a whole number")
    return int(cleaned)


def _columns(header: list[str]) -> dict[str, int]:
    normalized = [h.strip().lower() for h in header]
    found = {}
    for key, names in HEADERS.items():
        for index, name in enumerate(normalized):
            if name in names:
                found[key] = index
                break
    missing = [HEADERS[k][0] for k in HEADERS if k not in found]
    if missing:
        raise AdoptionImportError([(1, f"missing columns: {', '.join(missing)}")])
    return found


def _communes(
    session: Session, province: Area | None
) -> tuple[dict[str, Area], dict[str, list[Area]]]:
    by_code, by_name = {}, {}
    query = select(Area).where(Area.kind == AreaKind.COMMUNE)
    if province is not None:
        # Names repeat across provinces (there are several "Phường Thuận An").
        query = query.where(Area.parent_id == province.id)
    for area in session.exec(query):
        by_code[area.code.lower()] = area
        by_name.setdefault(area.name.lower(), []).append(area)
    return by_code, by_name


def import_csv(
    session: Session,
    text: str,
    *,
    province: Area | None = None,
    actor: User | None = None,
    source: str = "",
) -> ImportResult:
    """Import rows of commune, date, installs, population; all rows or none.

    Communes are given by code, or by name within `province`.
    """
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    return import_rows(session, rows, province=province, actor=actor, source=source)


def import_xlsx(
    session: Session,
    data: bytes,
    *,
    province: Area | None = None,
    actor: User | None = None,
    source: str = "",
) -> ImportResult:
    """The same as import_csv, from the first sheet of an Excel workbook."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
    except (BadZipFile, KeyError, ValueError, OSError) as exc:
        raise AdoptionImportError([(1, f"not an Excel .xlsx workbook: {exc}")]) from None
    rows = []
    for values in sheet.iter_rows(values_only=True):
        rows.append([_cell_text(value) for value in values])
    return import_rows(session, rows, province=province, actor=actor, source=source)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def import_rows(
    session: Session,
    rows: list[list[str]],
    *,
    province: Area | None = None,
    actor: User | None = None,
    source: str = "",
) -> ImportResult:
    """Rows with a header row first; all rows or none."""
    if not rows:
        raise AdoptionImportError([(1, "the file is empty")])
    columns = _columns(rows[0])
    by_code, by_name = _communes(session, province)
    errors: list[tuple[int, str]] = []
    parsed: dict[tuple[int, date], tuple[int, int, int]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            cells = {key: row[index] for key, index in columns.items()}
        except IndexError:
            errors.append((number, "too few cells"))
            continue
        ref = cells["commune"].strip()
        area = by_code.get(ref.lower())
        if area is None:
            matches = by_name.get(ref.lower(), [])
            if len(matches) > 1:
                errors.append((number, f"{ref!r} names several communes; use its code"))
                continue
            area = matches[0] if matches else None
        if area is None:
            errors.append((number, f"unknown commune {ref!r}"))
            continue
        try:
            on = parse_day(cells["on"])
            installs = _whole_number(cells["installs"], "installs")
            population = _whole_number(cells["population"], "population")
        except ValueError as exc:
            errors.append((number, str(exc)))
            continue
        if population == 0 or installs > population:
            errors.append((number, f"installs {installs} must be at most population {population}"))
            continue
        if (area.id, on) in parsed:
            errors.append((number, f"{area.name} on {on:%d/%m/%Y} appears twice"))
            continue
        parsed[(area.id, on)] = (installs, population, number)
    if errors:
        raise AdoptionImportError(errors)
    result = ImportResult()
    for (area_id, on), (installs, population, number) in parsed.items():
        figure = session.exec(
            select(AdoptionFigure).where(AdoptionFigure.area_id == area_id, AdoptionFigure.on == on)
        ).first()
        if figure is None:
            figure = AdoptionFigure(area_id=area_id, on=on, installs=0, population=0)
            result.created += 1
        else:
            result.updated += 1
        figure.installs, figure.population, figure.source = installs, population, source[:200]
        session.add(figure)
        result.rows.append(number)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="import",
        entity_type="adoption",
        entity_id=source[:64],
        after={"created": result.created, "updated": result.updated},
    )
    return result


@dataclass(frozen=True)
class Standing:
    figure: AdoptionFigure
    rate: float
    rank: int
    of: int


def standings(session: Session, province: Area) -> dict[int, Standing]:
    """Each commune's latest figure, its rate and its rank in the province (1 = highest)."""
    latest = (
        select(AdoptionFigure.area_id, func.max(AdoptionFigure.on).label("on"))
        .join(Area, Area.id == AdoptionFigure.area_id)
        .where(Area.parent_id == province.id)
        .group_by(AdoptionFigure.area_id)
        .subquery()
    )
    figures = session.exec(
        select(AdoptionFigure).join(
            latest,
            (latest.c.area_id == AdoptionFigure.area_id) & (latest.c.on == AdoptionFigure.on),
        )
    ).all()
    ordered = sorted(figures, key=lambda f: f.installs / f.population, reverse=True)
    return {
        f.area_id: Standing(f, f.installs / f.population, index + 1, len(ordered))
        for index, f in enumerate(ordered)
    }


def vietnamese_number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def vietnamese_percent(rate: float) -> str:
    return f"{rate * 100:.2f}".replace(".", ",") + "%"

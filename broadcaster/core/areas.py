"""Administrative areas: provinces and communes from vietnam-provinces, plus named groups."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlmodel import Session, col, select
from vietnam_provinces import Province, Ward

from broadcaster.core.db import saved_id
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import Area, AreaKind, AreaMember
from broadcaster.core.text import slugify


class AreaError(BroadcasterError):
    """An area request that cannot be done; the message is safe to show."""


def province_code(code: int) -> str:
    return f"P{int(code):02d}"


def commune_code(code: int) -> str:
    return f"X{int(code):05d}"


@dataclass(frozen=True)
class ImportResult:
    provinces: int
    communes: int
    created: int


def find_province(name: str) -> Province:
    """A province by exact name ('Thành phố Huế') or by its name without the prefix ('Huế')."""
    wanted = name.strip().casefold()
    for province in Province.iter_all():
        full = province.name.casefold()
        if wanted in (
            full,
            full.removeprefix("thành phố ").strip(),
            full.removeprefix("tỉnh ").strip(),
        ):
            return province
    raise AreaError(
        f"no province named {name!r} in vietnam-provinces", code="unknown_province", name=name
    )


def import_divisions(session: Session, *, province_names: list[str] | None = None) -> ImportResult:
    """Insert or update provinces and their communes; running it again changes nothing."""
    provinces = (
        [find_province(n) for n in province_names] if province_names else list(Province.iter_all())
    )
    existing = {a.code: a for a in session.exec(select(Area).where(Area.kind != AreaKind.GROUP))}
    created = communes = 0
    for province in provinces:
        parent = existing.get(province_code(province.code.value))
        if parent is None:
            parent = Area(code=province_code(province.code.value), kind=AreaKind.PROVINCE, name="")
            created += 1
        parent.name = province.name
        parent.division_type = province.division_type.value
        session.add(parent)
        session.flush()
        for ward in Ward.iter_by_province(province.code):
            area = existing.get(commune_code(ward.code.value))
            if area is None:
                area = Area(code=commune_code(ward.code.value), kind=AreaKind.COMMUNE, name="")
                created += 1
            area.name = ward.name
            area.division_type = ward.division_type.value
            area.parent_id = parent.id
            session.add(area)
            communes += 1
    session.flush()
    return ImportResult(provinces=len(provinces), communes=communes, created=created)


def group_code(province: Area, name: str) -> str:
    """A stable code; long names keep a hash of the whole name so two never collide."""
    code = f"G-{province.code}-{slugify(name)}"
    if len(code) <= 32:
        return code
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{code[:25]}-{digest}"


def define_group(session: Session, *, province: Area, name: str, commune_names: list[str]) -> Area:
    """Create or replace a named group of communes inside a province."""
    communes = {
        a.name: a
        for a in session.exec(
            select(Area).where(Area.parent_id == province.id, Area.kind == AreaKind.COMMUNE)
        )
    }
    missing = [n for n in commune_names if n not in communes]
    if missing:
        raise AreaError(
            f"not communes of {province.name}: {', '.join(missing)}",
            code="not_in_province",
            province=province.name,
            names=", ".join(missing),
        )
    code = group_code(province, name)
    group = session.exec(select(Area).where(Area.code == code)).first()
    if group is None:
        group = Area(code=code, kind=AreaKind.GROUP, name=name, parent_id=province.id)
        session.add(group)
        session.flush()
    for member in session.exec(select(AreaMember).where(AreaMember.group_id == group.id)):
        session.delete(member)
    session.flush()
    for commune_name in commune_names:
        session.add(AreaMember(group_id=saved_id(group), area_id=saved_id(communes[commune_name])))
    session.flush()
    return group


def get_area(session: Session, name_or_code: str) -> Area:
    """An area by code, or by name (provinces also without their 'Tỉnh'/'Thành phố' prefix)."""
    area = session.exec(select(Area).where(Area.code == name_or_code)).first()
    if area:
        return area
    matches = session.exec(select(Area).where(Area.name == name_or_code)).all()
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise AreaError(
            f"{name_or_code!r} names several areas; use its code",
            code="ambiguous_area",
            name=name_or_code,
        )
    try:
        province = find_province(name_or_code)
    except AreaError:
        raise AreaError(
            f"no area named {name_or_code!r}", code="unknown_area", name=name_or_code
        ) from None
    area = session.exec(select(Area).where(Area.code == province_code(province.code.value))).first()
    if area is None:
        raise AreaError(
            f"{province.name} is not imported yet: run `broadcaster areas import`",
            code="province_not_imported",
            province=province.name,
        )
    return area


def communes_of(session: Session, area: Area) -> list[Area]:
    """The communes an area covers: itself, a province's communes, or a group's members."""
    if area.kind == AreaKind.COMMUNE:
        return [area]
    if area.kind == AreaKind.PROVINCE:
        query = select(Area).where(Area.parent_id == area.id, Area.kind == AreaKind.COMMUNE)
    else:
        query = (
            select(Area)
            .join(AreaMember, col(AreaMember.area_id) == col(Area.id))
            .where(AreaMember.group_id == area.id)
        )
    return list(session.exec(query.order_by(Area.name)))

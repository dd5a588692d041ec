import pytest
from sqlmodel import func, select

from broadcaster.core.areas import AreaError, communes_of, get_area, import_divisions
from broadcaster.core.models import Area, AreaKind


def count(session, kind):
    return session.exec(select(func.count()).select_from(Area).where(Area.kind == kind)).one()


def test_it_imports_the_34_provinces_and_3321_communes(empty_settings):
    from broadcaster.core.db import make_engine, session_scope

    engine = make_engine(empty_settings.database_url)
    with session_scope(engine) as session:
        result = import_divisions(session)
        assert (result.provinces, result.communes) == (34, 3321)
        assert count(session, AreaKind.PROVINCE) == 34
        assert count(session, AreaKind.COMMUNE) == 3321
        again = import_divisions(session)
        assert again.created == 0
        assert count(session, AreaKind.COMMUNE) == 3321
    engine.dispose()


def test_it_finds_hue_by_full_or_short_name(session):
    assert get_area(session, "Thành phố Huế").name == "Thành phố Huế"
    hue = get_area(session, "Huế")
    names = [c.name for c in communes_of(session, hue)]
    assert len(names) == 40
    assert "Phường Thuận An" in names and "Xã A Lưới 5" in names


def test_it_groups_the_former_districts_named_in_the_2020_letter(session):
    for name in ("Quảng Điền", "Phong Điền", "Nam Đông", "A Lưới", "Phú Lộc"):
        group = get_area(session, name)
        assert group.kind == AreaKind.GROUP
        assert communes_of(session, group), name
    a_luoi = [c.name for c in communes_of(session, get_area(session, "A Lưới"))]
    assert a_luoi == [f"Xã A Lưới {n}" for n in range(1, 6)]


def test_it_says_clearly_when_an_area_is_unknown(session):
    with pytest.raises(AreaError, match="no area named"):
        get_area(session, "Atlantis")


def test_long_group_names_never_share_a_code(session):
    from broadcaster.core.areas import define_group

    hue = get_area(session, "Huế")
    first = define_group(
        session,
        province=hue,
        name="Cụm loa ven biển phía bắc số một",
        commune_names=["Phường Thuận An"],
    )
    second = define_group(
        session,
        province=hue,
        name="Cụm loa ven biển phía bắc số hai",
        commune_names=["Xã Phú Vinh"],
    )
    assert first.code != second.code and len(first.code) <= 32
    assert [c.name for c in communes_of(session, first)] == ["Phường Thuận An"]

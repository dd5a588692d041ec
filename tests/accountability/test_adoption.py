from datetime import date

import pytest
from sqlmodel import select

from broadcaster.accountability.adoption import AdoptionImportError, import_csv, standings
from broadcaster.core.areas import get_area
from broadcaster.core.models import AdoptionFigure, Area, Station
from broadcaster.newsroom.templating import context_for, expand
from tests.helpers import run_cli


def hue(session):
    return get_area(session, "Huế")


def test_names_are_ambiguous_without_a_province(session):
    with pytest.raises(AdoptionImportError, match="names several communes"):
        import_csv(session, GOOD)


GOOD = """ma_xa,ngay,so_cai_dat,dan_so
Phường Thuận An,13/8/2020,3.120,19.200
Xã A Lưới 1,13/8/2020,410,9.850
Xã Quảng Điền,13/8/2020,1.005,21.400
"""


def test_figures_give_each_commune_its_rate_and_rank(session):
    result = import_csv(session, GOOD, province=hue(session), source="so-lieu.csv")
    assert (result.created, result.updated) == (3, 0)
    table = standings(session, get_area(session, "Huế"))
    thuan_an = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    thuan_an = session.get(Area, thuan_an.area_id)
    assert table[thuan_an.id].rank == 1 and table[thuan_an.id].of == 3
    assert round(table[thuan_an.id].rate * 100, 2) == 16.25


def test_the_template_variables_read_the_commune_figures(session):
    import_csv(session, GOOD, province=hue(session))
    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    text = expand(
        "{ten_xa} có {so_cai_dat} người cài, đạt {ty_le_cai_dat}, xếp thứ {xep_hang}.",
        context_for(session, station, date(2020, 8, 19)),
    )
    assert text == "Phường Thuận An có 3.120 người cài, đạt 16,25%, xếp thứ 1."


def test_a_newer_import_updates_the_same_day_and_adds_new_days(session):
    import_csv(session, GOOD, province=hue(session))
    again = import_csv(
        session,
        GOOD.replace("3.120", "3.500") + "Phường Thuận An,20/8/2020,4.000,19.200\n",
        province=hue(session),
    )
    assert (again.created, again.updated) == (1, 3)


def test_bad_rows_are_listed_and_nothing_is_imported(session):
    bad = (
        GOOD
        + "\n".join(
            [
                "Phường Không Có,13/8/2020,10,100",
                "Xã Phú Vinh,32/13/2020,10,100",
                "Xã Phú Hồ,13/8/2020,mười,100",
                "Xã Phú Vang,13/8/2020,200,100",
                "Phường Thuận An,13/8/2020,1,2",
            ]
        )
        + "\n"
    )
    with pytest.raises(AdoptionImportError) as info:
        import_csv(session, bad, province=hue(session))
    rows = dict(info.value.errors)
    assert set(rows) == {5, 6, 7, 8, 9}
    assert "unknown commune" in rows[5] and "not a date" in rows[6]
    assert "not a whole number" in rows[7] and "at most population" in rows[8]
    assert "appears twice" in rows[9]
    session.rollback()
    assert session.exec(select(AdoptionFigure)).all() == []


def test_missing_columns_are_named():
    with pytest.raises(AdoptionImportError, match="missing columns: so_cai_dat"):
        import_csv(None, "ma_xa,ngay,dan_so\n")


def test_the_import_command_prints_each_bad_row(settings, tmp_path):
    path = tmp_path / "so-lieu.csv"
    path.write_text("ma_xa,ngay,so_cai_dat,dan_so\nXã Ma,1/1/2020,1,2\n", encoding="utf-8")
    result = run_cli(settings, "adoption", "import", str(path), "--province", "Huế")
    assert result.returncode == 1 and "row 2: unknown commune 'Xã Ma'" in result.stderr
    path.write_text(GOOD, encoding="utf-8")
    assert run_cli(
        settings, "adoption", "import", str(path), "--province", "Huế"
    ).stdout.strip() == ("3 new figures, 0 updated")

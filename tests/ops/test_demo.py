from sqlmodel import select

from broadcaster.core.models import Area, PlayoutMode, Script, Station
from broadcaster.ops.demo import seed_demo


def test_the_demo_gives_every_hue_commune_one_station(session):
    rows = session.exec(select(Station, Area).join(Area, Area.id == Station.area_id)).all()
    assert len(rows) == 40
    assert len({area.id for _, area in rows}) == 40
    modes = {station.mode for station, _ in rows}
    assert modes == {PlayoutMode.AGENT, PlayoutMode.MANUAL, PlayoutMode.LOCAL}
    local = [area.name for station, area in rows if station.mode == PlayoutMode.LOCAL]
    assert local == ["Phường Phú Xuân"]
    assert all(station.timezone == "Asia/Ho_Chi_Minh" for station, _ in rows)


def test_the_demo_ships_the_bluezone_campaign(session):
    slugs = session.exec(select(Script.slug)).all()
    assert 6 <= len(slugs) <= 10
    assert all(slug.startswith("bluezone-") for slug in slugs)


def test_seeding_again_adds_nothing(session):
    report = seed_demo(session, timezone="Asia/Ho_Chi_Minh")
    session.commit()
    assert report.stations_created == 0
    assert len(session.exec(select(Station)).all()) == 40

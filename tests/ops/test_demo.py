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


def test_the_demo_has_yesterdays_bulletin_to_hear_again(session, settings):
    """What `make run` seeds: a Huế commune's Nghe lại page plays yesterday's bulletin."""
    from datetime import timedelta

    from broadcaster.core.dbtypes import utcnow
    from broadcaster.core.models import Area, Station
    from broadcaster.newsroom.users import create_user
    from broadcaster.ops.demo import (
        LISTEN_AGAIN_STATION,
        air_demo_yesterday,
        approve_demo_campaign,
        import_demo_schedules,
    )
    from broadcaster.outreach.listen import aired_items

    create_user(session=session, username="lanhdao", role="approver", password="x" * 12)
    approve_demo_campaign(session)
    import_demo_schedules(session)
    now = utcnow()
    assert air_demo_yesterday(session, settings, now=now) == 2  # 06:00 and 17:00
    session.commit()
    station = session.exec(select(Station).where(Station.code == LISTEN_AGAIN_STATION)).one()
    [item] = aired_items(session, session.get(Area, station.area_id), now=now)
    assert item.plays == 2 and now - timedelta(days=2) < item.last_aired < now

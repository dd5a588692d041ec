"""The demo: Thành phố Huế's 40 communes with a station each, its former districts, Bluezone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlmodel import Session, col, func, select

from broadcaster.core.areas import communes_of, define_group, get_area, import_divisions
from broadcaster.core.config import PROJECT_ROOT
from broadcaster.core.db import saved_id
from broadcaster.core.models import Area, OperatorStation, PlayoutMode, Role, Station, User
from broadcaster.core.text import slugify
from broadcaster.newsroom.scriptfiles import import_scripts
from broadcaster.newsroom.users import create_user, generate_password
from broadcaster.stations.registry import create_station

GROUPS_FILE = Path(__file__).resolve().parents[1] / "data" / "hue_former_districts.yaml"
DEMO_PROVINCE = "Thành phố Huế"
# The provincial centre's own system is wired to the server; mountain communes run
# operator-driven analog systems; the rest pull audio with an agent.
LOCAL_COMMUNE = "Phường Phú Xuân"
MANUAL_GROUP = "A Lưới"


@dataclass(frozen=True)
class DemoReport:
    communes: int
    stations_created: int
    groups: int
    scripts: int


def needs_demo(session: Session) -> bool:
    return session.exec(select(func.count()).select_from(Area)).one() == 0


def seed_demo(session: Session, *, timezone: str, scripts_dir: Path | None = None) -> DemoReport:
    """Load the demo; running it again adds nothing twice."""
    import_divisions(session)
    province = get_area(session, DEMO_PROVINCE)
    spec = yaml.safe_load(GROUPS_FILE.read_text(encoding="utf-8"))
    manual_names: set[str] = set()
    for name, members in spec["groups"].items():
        define_group(session, province=province, name=name, commune_names=members)
        if name == MANUAL_GROUP:
            manual_names.update(members)
    communes = communes_of(session, province)
    existing = {s.area_id for s in session.exec(select(Station))}
    created = 0
    for commune in communes:
        if commune.id in existing:
            continue
        if commune.name == LOCAL_COMMUNE:
            mode = PlayoutMode.LOCAL
        elif commune.name in manual_names:
            mode = PlayoutMode.MANUAL
        else:
            mode = PlayoutMode.AGENT
        create_station(
            session=session,
            code="HUE-" + slugify(commune.name.split(" ", 1)[1]).upper(),
            commune=commune,
            mode=mode,
            timezone=timezone,
        )
        created += 1
    report = import_scripts(session, scripts_dir or PROJECT_ROOT / "scripts")
    return DemoReport(
        communes=len(communes),
        stations_created=created,
        groups=len(spec["groups"]),
        scripts=len(report.created) + len(report.updated) + len(report.unchanged),
    )


DEMO_USERS = (
    ("bientap", Role.EDITOR, "Nguyễn Thị Biên Tập"),
    ("lanhdao", Role.APPROVER, "Lê Văn Lãnh Đạo"),
    ("vanhanh", Role.OPERATOR, "Trần Văn Vận Hành"),
)
# The demo operator runs the analog systems of two mountain communes by hand.
DEMO_OPERATOR_STATIONS = ("HUE-A-LUOI-1", "HUE-A-LUOI-2")


def create_demo_users(session: Session) -> dict[str, str]:
    """One editor, approver and operator with generated passwords (returned, shown once)."""
    created: dict[str, str] = {}
    stations = session.exec(
        select(Station).where(col(Station.code).in_(DEMO_OPERATOR_STATIONS))
    ).all()
    for username, role, full_name in DEMO_USERS:
        if session.exec(select(User).where(User.username == username)).first():
            continue
        password = generate_password()
        user = create_user(
            session=session, username=username, role=role, password=password, full_name=full_name
        )
        if role == Role.OPERATOR:
            for station in stations:
                session.add(OperatorStation(user_id=saved_id(user), station_id=saved_id(station)))
        created[username] = password
    session.flush()
    return created


SCHEDULES_DIR = PROJECT_ROOT / "schedules"


def approve_demo_campaign(session: Session) -> int:
    """The 2020 campaign's scripts went on air: the demo approver signs their first versions."""
    from broadcaster.core.models import ScriptVersion, VersionStatus
    from broadcaster.newsroom.workflow import approve, submit

    approver = session.exec(select(User).where(User.username == "lanhdao")).first()
    if approver is None:
        return 0
    approved = 0
    for version in session.exec(
        select(ScriptVersion).where(ScriptVersion.status == VersionStatus.DRAFT)
    ):
        submit(session=session, version=version, actor=approver)
        # The campaign was meant for everyone: residents may hear it again once it aired.
        approve(session=session, version=version, actor=approver, public=True)
        approved += 1
    return approved


def import_demo_adoption(session: Session) -> int:
    """Illustrative per-commune figures adding up to the province's 2020 total (16.27 %)."""
    from broadcaster.accountability.adoption import import_csv

    province = get_area(session, DEMO_PROVINCE)
    count = 0
    for path in sorted((PROJECT_ROOT / "scripts").rglob("so-lieu-*.csv")):
        result = import_csv(
            session,
            path.read_text(encoding="utf-8"),
            province=province,
            source=f"{path.name} (số liệu minh hoạ)",
        )
        count += result.created
    return count


def import_demo_schedules(session: Session) -> int:
    from broadcaster.onair.schedulefiles import import_yaml

    count = 0
    for path in sorted(SCHEDULES_DIR.glob("*.yaml")):
        count += len(import_yaml(session, path.read_text(encoding="utf-8")))
    return count


# A commune whose page has something to play on the first run (its agent would report it).
LISTEN_AGAIN_STATION = "HUE-THUAN-HOA"


def air_demo_yesterday(session: Session, settings, *, now) -> int:
    """Yesterday's slots of the demo schedules at one commune station, rendered and logged
    as played, so its "Nghe lại" page (and the QR code to it) plays yesterday's bulletin."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from broadcaster.core.events import EventKind
    from broadcaster.core.models import Occurrence
    from broadcaster.onair.playlog import Outcome, apply_outcome
    from broadcaster.onair.prerender import render_occurrence
    from broadcaster.onair.schedules import plan

    station = session.exec(select(Station).where(Station.code == LISTEN_AGAIN_STATION)).first()
    if station is None:
        return 0
    zone = ZoneInfo(station.timezone)
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    aired = 0
    for play in plan(session, today - timedelta(days=1), today, station_ids=[saved_id(station)]):
        if play.version is None:
            continue  # a relay: nothing to listen to again
        occurrence = Occurrence(
            schedule_id=saved_id(play.schedule),
            station_id=saved_id(station),
            at=play.at,
            priority=play.priority,
            version_id=play.version.id,
        )
        session.add(occurrence)
        session.flush()
        occurrence.audio_id = render_occurrence(session, settings, occurrence).id
        for kind in (EventKind.STARTED, EventKind.FINISHED):
            apply_outcome(session, occurrence, Outcome(kind), at=play.at, actor="demo")
        aired += 1
    return aired

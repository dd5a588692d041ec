"""Schedules in a real browser: an approver schedules a script and finds it on the calendar."""

import pytest
from sqlmodel import Session, select

from broadcaster.core import db
from broadcaster.core.config import PROJECT_ROOT
from broadcaster.core.models import Schedule, ScriptVersion, User, VersionStatus
from broadcaster.newsroom.workflow import approve, submit
from broadcaster.onair.schedulefiles import import_yaml
from tests.conftest import PERSONA_PASSWORD

pytestmark = pytest.mark.e2e

NAME = "Nhắc cài Bluezone buổi trưa"
SCRIPT = "Cán bộ, công chức, viên chức gương mẫu cài đặt và vận động người thân"


def campaign_on_air(settings) -> None:
    """The demo as `broadcaster init` leaves it (a no-op where the fixtures already did it)."""
    engine = db.make_engine(settings.database_url)
    with Session(engine) as session:
        users = {u.username: u for u in session.exec(select(User))}
        for version in session.exec(
            select(ScriptVersion).where(ScriptVersion.status == VersionStatus.DRAFT)
        ).all():
            submit(session=session, version=version, actor=users["editor"])
            approve(session=session, version=version, actor=users["approver"])
        if not session.exec(select(Schedule)).first():
            import_yaml(session, (PROJECT_ROOT / "schedules/bluezone.yaml").read_text("utf-8"))
        session.commit()
    engine.dispose()


@pytest.fixture
def server(settings, live_server):
    campaign_on_air(settings)
    return live_server


def login(page, base, username):
    page.goto(base + "/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PERSONA_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(base + "/")


def test_an_approver_schedules_a_script_and_sees_it_on_the_calendar(server, page):
    login(page, server, "approver")
    page.goto(server + "/schedules")
    page.get_by_role("link", name="Tạo lịch phát").click()
    page.get_by_label("Tên lịch phát").fill(NAME)
    page.get_by_label("Kịch bản (đã duyệt)").select_option(label=SCRIPT)
    # only the fields of the chosen recurrence are shown
    assert page.get_by_label("Ngày phát", exact=True).is_hidden()
    page.get_by_label("Lặp lại").select_option("once")
    assert page.get_by_label("Ngày phát", exact=True).is_visible()
    assert page.get_by_label("Thứ 2", exact=True).is_hidden()
    page.get_by_label("Lặp lại").select_option("weekly")
    page.get_by_label("Thứ 7").uncheck()
    page.get_by_label("Chủ nhật").uncheck()
    page.get_by_label("Giờ phát (ví dụ 06:00, 17:00)").fill("11:30")
    page.get_by_label("Đài", exact=True).select_option(label="HUE-PHU-XUAN · Phường Phú Xuân")
    page.get_by_role("button", name="Lưu lịch phát").click()

    page.get_by_text("Đã lưu lịch phát").wait_for()
    assert page.locator("#summary-text").inner_text().startswith("Thứ 2 đến Thứ 6, 11:30")
    assert page.locator("#next-plays li").count() == 5

    page.get_by_role("link", name="Xem trên lịch tuần").click()
    page.get_by_role("link", name="Tuần sau →").click()
    monday = page.locator("section.card").first
    assert monday.get_by_role("heading").inner_text().startswith("Thứ 2, ")
    row = monday.locator("tr.slot", has_text=NAME)
    assert row.count() == 1 and "11:30" in row.inner_text()
    saturday = page.locator("section.card").nth(5)
    assert saturday.locator("tr.slot", has_text=NAME).count() == 0

    # "Phát ngay": confirmed in a dialog, then on this week's calendar as an emergency
    page.goto(server + "/schedules/now")
    page.get_by_label("Kịch bản (đã duyệt)").select_option(label=SCRIPT)
    page.get_by_label("Đài", exact=True).select_option(label="HUE-PHU-XUAN · Phường Phú Xuân")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Phát ngay").click()
    page.get_by_text(f"Đã phát ngay “{SCRIPT}”").wait_for()
    assert page.locator("tr.slot", has_text="Phát ngay:").get_by_text("Khẩn cấp").count() == 1

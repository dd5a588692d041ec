import pytest

from tests.conftest import PERSONA_PASSWORD

pytestmark = pytest.mark.e2e


def test_admin_logs_in_and_sees_the_hue_communes(live_server, page):
    page.goto(live_server + "/")
    assert page.url.startswith(live_server + "/login")
    page.get_by_label("Tên đăng nhập").fill("admin")
    page.get_by_label("Mật khẩu").fill(PERSONA_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(live_server + "/")
    rows = page.locator("#communes tbody tr")
    assert rows.count() == 40
    assert page.locator("#communes").get_by_text("Phường Thuận An").is_visible()
    assert page.get_by_role("heading", name="Thành phố Huế").is_visible()


def test_a_wrong_password_shows_a_vietnamese_error(live_server, page):
    page.goto(live_server + "/login")
    page.get_by_label("Tên đăng nhập").fill("admin")
    page.get_by_label("Mật khẩu").fill("sai mật khẩu")
    page.get_by_role("button", name="Đăng nhập").click()
    assert page.get_by_text("Tên đăng nhập hoặc mật khẩu không đúng.").is_visible()


def test_the_dashboard_fits_a_phone_screen(live_server, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="vi-VN")
    page = context.new_page()
    page.goto(live_server + "/login")
    page.get_by_label("Tên đăng nhập").fill("operator")
    page.get_by_label("Mật khẩu").fill(PERSONA_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(live_server + "/")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    context.close()
    assert overflow <= 0


def test_the_admin_bar_keeps_the_daily_work_in_view_and_the_rest_under_more(live_server, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="vi-VN")
    page = context.new_page()
    page.goto(live_server + "/login")
    page.get_by_label("Tên đăng nhập").fill("admin")
    page.get_by_label("Mật khẩu").fill(PERSONA_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(live_server + "/")
    menu = page.locator("nav.menu")
    assert menu.get_by_role("link", name="Lịch phát").is_visible()
    assert not menu.get_by_role("link", name="Người dùng").is_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    menu.get_by_text("Thêm").click()
    menu.get_by_role("link", name="Người dùng").click()
    page.wait_for_url(live_server + "/users")
    context.close()
    assert overflow <= 0

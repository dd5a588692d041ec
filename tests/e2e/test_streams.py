"""Relays in a real browser: an admin registers a live stream (a real icecast2 on loopback),
an approver approves it and schedules a daily relay for a commune, and finds it listed."""

import pytest

from tests.e2e.test_schedules import login

pytestmark = pytest.mark.e2e

STREAM = "VOV1 tiếp sóng"
NAME = "Tiếp sóng VOV1 buổi sáng"


def test_register_approve_and_schedule_a_daily_relay(live_server, browser, page, icecast):
    feed = icecast.feed("/vov1.mp3")
    login(page, live_server, "admin")
    page.goto(live_server + "/streams")
    page.get_by_role("link", name="Đăng ký luồng").click()
    page.get_by_label("Tên luồng").fill(STREAM)
    page.get_by_label("Địa chỉ (URL)").fill(feed.url)
    page.get_by_role("button", name="Kiểm tra và lưu").click()
    page.get_by_text("cần một người khác duyệt").first.wait_for()
    assert page.locator("#stream-status").get_attribute("data-status") == "draft"
    assert "MP3" in page.locator("#check").inner_text()
    assert page.get_by_role("button", name="Duyệt luồng").count() == 0  # not its registrant

    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    approver = context.new_page()
    try:
        login(approver, live_server, "approver")
        approver.goto(live_server + "/streams")
        approver.get_by_role("link", name=STREAM).click()
        approver.get_by_role("button", name="Duyệt luồng").click()
        approver.get_by_text("có thể lên lịch tiếp sóng").wait_for()
        assert approver.locator("#stream-status").get_attribute("data-status") == "approved"

        approver.goto(live_server + "/schedules/new")
        approver.get_by_label("Tên lịch phát").fill(NAME)
        assert approver.get_by_label("Luồng tiếp sóng (đã duyệt)").is_hidden()
        approver.get_by_label("Tiếp sóng", exact=True).check()
        assert approver.get_by_label("Kịch bản (đã duyệt)").is_hidden()
        approver.get_by_label("Luồng tiếp sóng (đã duyệt)").select_option(label=STREAM)
        approver.get_by_label("Thời lượng tiếp sóng (phút)").fill("30")
        approver.get_by_label("Giờ phát (ví dụ 06:00, 17:00)").fill("05:30")
        approver.get_by_label("Đài", exact=True).select_option(
            label="HUE-THUAN-AN · Phường Thuận An"
        )
        approver.get_by_role("button", name="Lưu lịch phát").click()
        approver.get_by_text("Đã lưu lịch phát").wait_for()
        assert (
            approver.locator("#summary-text").inner_text().startswith("Thứ 2 đến Chủ nhật, 05:30")
        )
        assert approver.locator("#next-plays li").count() == 5

        approver.goto(live_server + "/schedules")
        row = approver.locator("tr", has_text=NAME)
        assert "Tiếp sóng" in row.inner_text() and "30 phút" in row.inner_text()
        approver.get_by_role("link", name=NAME).click()
        approver.get_by_role("link", name="Xem trên lịch tuần").click()
        slot = approver.locator("tr.slot", has_text=STREAM).first
        assert "05:30" in slot.inner_text() and slot.locator("[data-relay]").count() == 1
    finally:
        context.close()

"""The newsroom in a real browser: write, hear, submit, approve, edit after approval."""

import pytest

from tests.conftest import PERSONA_PASSWORD

pytestmark = pytest.mark.e2e

TEXT = "Tính đến ngày 13/8/2020, tỉnh có 183.620 thuê bao cài Bluezone, đạt 16,27%."


def login(page, base, username):
    page.goto(base + "/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PERSONA_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(base + "/")


def logout(page):
    page.get_by_role("button", name="Đăng xuất").click()


def test_an_editor_writes_hears_and_submits_and_an_approver_approves(live_server, browser):
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    login(page, live_server, "editor")
    page.get_by_role("link", name="Kịch bản").first.click()
    page.get_by_role("link", name="Viết kịch bản mới").click()
    page.get_by_label("Tiêu đề").fill("Kêu gọi cài Bluezone")
    page.get_by_label("Chiến dịch").select_option(label="Cài đặt ứng dụng Bluezone")
    page.get_by_label("Nội dung").fill(TEXT)
    # the spoken form and the estimate follow the typing
    spoken = page.locator("#spoken-form")
    spoken.filter(has_text="mười ba tháng tám năm hai nghìn không trăm hai mươi").wait_for()
    assert "một trăm tám mươi ba nghìn sáu trăm hai mươi" in spoken.inner_text()
    assert page.locator("#estimate").inner_text() != "—"

    # hear it: the audio element loads real audio with a duration
    page.get_by_role("button", name="Nghe thử").click()
    audio = page.locator("#preview-audio")
    audio.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "() => { const a = document.getElementById('preview-audio');"
        " return a.readyState >= 1 && a.duration > 5; }",
        timeout=30_000,
    )
    duration = page.evaluate("document.getElementById('preview-audio').duration")
    assert 10 < duration < 120
    assert page.locator("#waveform").is_visible()

    page.get_by_role("button", name="Lưu bản nháp").click()
    page.get_by_text("Đã lưu bản nháp.").wait_for()
    script_url = page.url
    page.get_by_role("button", name="Gửi duyệt").click()
    page.get_by_text("Đã gửi phiên bản 1 để duyệt.").wait_for()
    # the editor wrote it: no approve button for them
    assert page.get_by_role("button", name="Duyệt", exact=True).count() == 0
    assert page.get_by_text("Phiên bản này đang chờ một người duyệt khác.").is_visible()
    logout(page)

    login(page, live_server, "approver")
    page.goto(script_url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Duyệt", exact=True).click()
    page.get_by_text("Đã duyệt phiên bản 1").wait_for()
    assert page.locator("#on-air").get_by_text("Đang được phép phát").is_visible()
    logout(page)

    # editing after approval: a new draft, while version 1 stays on air
    login(page, live_server, "editor")
    page.goto(script_url)
    page.get_by_role("link", name="Sửa", exact=True).click()
    page.get_by_label("Nội dung").fill(TEXT + " Xin cảm ơn bà con.")
    page.get_by_role("button", name="Lưu bản nháp").click()
    page.get_by_text("Đã lưu phiên bản mới (bản nháp).").wait_for()
    assert page.locator("#current-status").inner_text() == "Bản nháp"
    assert "Phiên bản 1, duyệt bởi Demo approver" in page.locator("#on-air").inner_text()
    rows = page.locator("#versions tbody tr")
    assert rows.count() == 2
    assert "(đang phát)" in rows.nth(1).inner_text()
    context.close()


def test_an_editor_sees_what_the_machine_cannot_read_highlighted(live_server, page):
    login(page, live_server, "editor")
    page.goto(live_server + "/scripts/new")
    note = page.locator("#unreadable-note")
    body = page.get_by_label("Nội dung")
    body.fill("Bà con quét mã QR trên app Zalo.")
    page.locator("#spoken-form").filter(has_text="quét mã kiu a trên áp da lô").wait_for()
    assert note.is_hidden()
    body.fill("Bà con quét mã QR ✈ trên app Zalo.")
    marked = page.locator("#spoken-form mark.unreadable")
    marked.wait_for()
    assert marked.inner_text() == "✈"
    assert note.is_visible()
    assert "Máy không đọc được:" in note.inner_text() and "✈" in note.inner_text()
    background = marked.evaluate("m => getComputedStyle(m).backgroundColor")
    assert background == "rgb(255, 213, 79)"
    # written out in words, the note goes away before it is sent for approval
    body.fill("Bà con quét mã QR trên app Zalo, đi máy bay.")
    page.locator("#spoken-form").filter(has_text="đi máy bay").wait_for()
    assert note.is_hidden() and marked.count() == 0

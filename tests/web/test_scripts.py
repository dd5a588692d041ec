"""The newsroom through the web: writing, hearing, four-eyes approval, history."""

from sqlmodel import select

from broadcaster.core.models import AuditEntry, Script, ScriptVersion, VersionStatus
from tests.helpers import csrf

BODY = (
    "Tính đến ngày 13/8/2020, tỉnh có 183.620 thuê bao cài Bluezone. Bà con {ten_xa} hãy cài ngay."
)


def write_script(client, title="Bà con hãy cài Bluezone", body=BODY, **extra):
    data = {
        "csrf_token": csrf(client, "/scripts/new"),
        "title": title,
        "campaign": "bluezone",
        "tags": "bluezone, covid-19",
        "body": body,
        "voice": "central",
        "speed": "1.0",
        "repeat": "2",
        "engine": "",
        "profile": "",
        **extra,
    }
    return client.post("/scripts/new", data=data)


def act(client, script_id, number, action, **data):
    token = csrf(client, f"/scripts/{script_id}")
    return client.post(
        f"/scripts/{script_id}/versions/{number}/{action}", data={"csrf_token": token, **data}
    )


def script_by_title(app, title):
    from web.db import get_session

    with app.app_context():
        return get_session().exec(select(Script).where(Script.title == title)).one()


def versions(app, script_id):
    from web.db import get_session

    with app.app_context():
        return (
            get_session()
            .exec(
                select(ScriptVersion)
                .where(ScriptVersion.script_id == script_id)
                .order_by(ScriptVersion.number)
            )
            .all()
        )


def test_an_editor_writes_a_script_and_sees_how_it_will_be_read(client, auth, app):
    auth.login("editor")
    response = write_script(client)
    assert response.status_code == 302
    script = script_by_title(app, "Bà con hãy cài Bluezone")
    page = client.get(response.location).get_data(as_text=True)
    assert "Đã lưu bản nháp." in page and "Bản nháp" in page
    assert "một trăm tám mươi ba nghìn sáu trăm hai mươi" in page
    assert script.slug == "ba-con-hay-cai-bluezone" and script.tags == "bluezone,covid-19"


def test_unknown_template_variables_are_refused_at_save_time_in_vietnamese(client, auth, app):
    auth.login("editor")
    response = write_script(client, title="Sai biến", body="Bà con {ten_ap} chú ý")
    assert response.status_code == 400
    assert "Biến không hợp lệ" in response.get_data(as_text=True)
    from web.db import get_session

    with app.app_context():
        assert get_session().exec(select(Script).where(Script.title == "Sai biến")).first() is None


def test_four_eyes_submit_approve_and_the_author_cannot_approve(client, auth, app):
    auth.login("editor")
    write_script(client)
    script = script_by_title(app, "Bà con hãy cài Bluezone")
    act(client, script.id, 1, "submit")
    assert versions(app, script.id)[0].status == VersionStatus.SUBMITTED
    # the author is an editor: no approve button, and a forged request is refused
    assert "Duyệt phiên bản" not in client.get(f"/scripts/{script.id}").get_data(as_text=True)
    response = act(client, script.id, 1, "approve")
    assert response.status_code in (302, 303)
    assert versions(app, script.id)[0].status == VersionStatus.SUBMITTED
    auth.logout()
    auth.login("approver")
    act(client, script.id, 1, "approve")
    version = versions(app, script.id)[0]
    assert version.status == VersionStatus.APPROVED and version.reviewed_at is not None
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "Đang được phép phát" in page and "Demo approver" in page


def test_an_approver_cannot_approve_their_own_version(client, auth, app):
    auth.login("approver")
    write_script(client, title="Của lãnh đạo")
    script = script_by_title(app, "Của lãnh đạo")
    act(client, script.id, 1, "submit")
    page = client.get(act(client, script.id, 1, "approve").location).get_data(as_text=True)
    assert "cần một người khác duyệt" in page
    assert versions(app, script.id)[0].status == VersionStatus.SUBMITTED


def test_returning_needs_a_comment_and_shows_it_to_the_author(client, auth, app):
    auth.login("editor")
    write_script(client)
    script = script_by_title(app, "Bà con hãy cài Bluezone")
    act(client, script.id, 1, "submit")
    auth.logout()
    auth.login("approver")
    act(client, script.id, 1, "return", comment="")
    assert versions(app, script.id)[0].status == VersionStatus.SUBMITTED
    act(client, script.id, 1, "return", comment="Ghi rõ nơi hỗ trợ cài đặt.")
    assert versions(app, script.id)[0].status == VersionStatus.RETURNED
    auth.logout()
    auth.login("editor")
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "Ghi rõ nơi hỗ trợ cài đặt." in page


def test_editing_an_approved_script_keeps_the_approved_version_on_air(client, auth, app):
    auth.login("editor")
    write_script(client)
    script = script_by_title(app, "Bà con hãy cài Bluezone")
    act(client, script.id, 1, "submit")
    auth.logout()
    auth.login("approver")
    act(client, script.id, 1, "approve")
    auth.logout()
    auth.login("editor")
    data = {
        "csrf_token": csrf(client, f"/scripts/{script.id}/edit"),
        "title": script.title,
        "campaign": "bluezone",
        "tags": "bluezone",
        "body": BODY + " Xin cảm ơn.",
        "voice": "central",
        "speed": "1.0",
        "repeat": "2",
        "engine": "",
        "profile": "",
    }
    client.post(f"/scripts/{script.id}/edit", data=data)
    found = versions(app, script.id)
    assert [(v.number, v.status) for v in found] == [(1, "approved"), (2, "draft")]
    assert found[0].body == BODY
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "Phiên bản 1, duyệt bởi" in page  # v1 is still the one on air
    diff = client.get(f"/scripts/{script.id}/diff?a=1&b=2").get_data(as_text=True)
    assert "<ins>cài ngay. Xin cảm ơn.</ins>" in diff or "<ins>Xin cảm ơn.</ins>" in diff


def test_every_step_is_in_the_audit_log(client, auth, app):
    auth.login("editor")
    write_script(client)
    script = script_by_title(app, "Bà con hãy cài Bluezone")
    act(client, script.id, 1, "submit")
    from web.db import get_session

    with app.app_context():
        actions = [
            (e.action, e.actor_label)
            for e in get_session().exec(
                select(AuditEntry)
                .where(AuditEntry.entity_id == script.slug)
                .order_by(AuditEntry.id)
            )
        ]
    assert actions == [("create", "editor"), ("new_version", "editor"), ("submit", "editor")]


def test_script_text_is_never_rendered_unescaped(client, auth, app):
    auth.login("editor")
    write_script(client, title="<b>Tiêu đề</b>", body="Bà con <script>alert(1)</script> chú ý")
    script = script_by_title(app, "<b>Tiêu đề</b>")
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<b>Tiêu đề</b>" not in page
    listing = client.get("/scripts").get_data(as_text=True)
    assert "<b>Tiêu đề</b>" not in listing


def test_the_list_filters_by_status_campaign_and_text(client, auth, app):
    auth.login("editor")
    write_script(client, title="Tin lũ lụt", body="Mực nước sông Hương đang lên.", campaign="")
    everything = client.get("/scripts").get_data(as_text=True)
    assert "Tin lũ lụt" in everything and "Vì sao mỗi người dân nên cài đặt Bluezone" in everything
    bluezone = client.get("/scripts?campaign=bluezone").get_data(as_text=True)
    assert "Tin lũ lụt" not in bluezone
    found = client.get("/scripts?q=sông+Hương").get_data(as_text=True)
    assert "Tin lũ lụt" in found and "Vì sao mỗi người dân" not in found
    none_approved = client.get("/scripts?status=approved").get_data(as_text=True)
    assert "Không có kịch bản nào phù hợp." in none_approved


def test_hearing_a_draft_returns_real_audio_with_its_spoken_form(client, auth):
    auth.login("editor")
    token = csrf(client, "/scripts/new")
    response = client.post(
        "/scripts/preview",
        json={
            "body": "Ngày 13/8/2020 có 183.620 thuê bao.",
            "voice": "central",
            "speed": 1,
            "repeat": 1,
        },
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert "mười ba tháng tám" in data["spoken"] and abs(data["lufs"] + 16) <= 1
    audio = client.get(data["audio_url"])
    head = audio.data[:3]
    audio.close()
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg"
    assert head == b"ID3"
    spoken = client.post(
        "/scripts/spoken",
        json={"body": "Bà con {ten_ap}", "speed": 1, "repeat": 2},
        headers={"X-CSRFToken": token},
    ).get_json()
    assert "Biến không hợp lệ" in spoken["error"]


def test_operators_cannot_reach_the_newsroom(client, auth):
    auth.login("operator")
    assert client.get("/scripts").status_code == 403
    assert client.get("/scripts/new").status_code == 403


def test_the_spoken_form_marks_what_the_machine_cannot_read(client, auth):
    auth.login("editor")
    token = csrf(client, "/scripts/new")
    data = client.post(
        "/scripts/spoken",
        json={"body": "Bà con ✈ gọi 你好 số 112, quét mã QR.", "speed": 1, "repeat": 1},
        headers={"X-CSRFToken": token},
    ).get_json()
    assert data["spoken"] == "bà con gọi số một một hai, quét mã kiu a."
    assert data["unreadable"] == [
        {"token": "✈", "start": 7, "end": 8},
        {"token": "你好", "start": 13, "end": 15},
    ]
    assert ["✈", True] in data["marked"] and ["你好", True] in data["marked"]
    assert "".join(p for p, bad in data["marked"] if not bad).split() == data["spoken"].split()
    page = client.get("/scripts/new").get_data(as_text=True)
    assert 'id="unreadable-note"' in page and "Máy không đọc được:" in page


def test_the_version_page_shows_what_will_be_left_out(client, auth, app):
    auth.login("editor")
    write_script(client, title="Có ký tự lạ", body="Họp lúc 8h ☎ tại nhà văn hoá.")
    script = script_by_title(app, "Có ký tự lạ")
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "Máy không đọc được:" in page
    assert '<mark class="unreadable">☎</mark>' in page
    write_script(client)
    clean = client.get(f"/scripts/{script_by_title(app, 'Bà con hãy cài Bluezone').id}")
    assert 'id="unreadable-note" hidden' in clean.get_data(as_text=True)

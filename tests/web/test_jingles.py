"""The chimes page: admins hear, upload, use and delete chimes; nobody else gets in."""

from __future__ import annotations

import json
import wave
from io import BytesIO
from pathlib import Path

import pytest
from sqlmodel import select

from broadcaster.audio import customjingles
from broadcaster.audio.profiles import get_profile
from broadcaster.core.models import AuditEntry
from tests.audio.test_customjingles import everything_in, sample


def post_upload(client, auth, path: Path, name: str = "Chuông Huế"):
    token = auth.csrf_token("/jingles")
    with path.open("rb") as handle:
        return client.post(
            "/jingles",
            data={"csrf_token": token, "name": name, "file": (handle, path.name)},
            content_type="multipart/form-data",
            follow_redirects=True,
        )


def post(client, auth, url: str, **data):
    token = auth.csrf_token("/jingles")
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=True)


def audit_actions(app, entity_type: str) -> list[str]:
    with app.app_context():
        from web.db import get_session

        return list(
            get_session().exec(
                select(AuditEntry.action)
                .where(AuditEntry.entity_type == entity_type)
                .order_by(AuditEntry.id)
            )
        )


def test_an_admin_hears_the_shipped_chimes_with_their_length_and_loudness(client, auth):
    auth.login("admin")
    page = client.get("/jingles").get_data(as_text=True)
    assert "Chuông có sẵn" in page and "chime-open" in page and "chime-close" in page
    assert 'src="/jingles/audio/shipped/chime-open.wav"' in page
    assert "<audio" in page
    assert "2,44 giây" in page  # Vietnamese decimal comma
    assert "-15,9 LUFS" in page or "-16 LUFS" in page
    response = client.get("/jingles/audio/shipped/chime-open.wav")
    data = response.get_data()
    response.close()  # a streamed file: close it, or pytest reports it unclosed
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    with wave.open(BytesIO(data)) as handle:
        assert handle.getframerate() == 24000


def test_upload_use_restore_and_delete(app, client, auth, settings, tmp_path):
    auth.login("admin")
    folder = customjingles.custom_dir(settings)
    shipped = get_profile(None, settings.profiles_dir, custom_dir=folder)

    page = post_upload(client, auth, sample("mp3", tmp_path / "in")).get_data(as_text=True)
    assert "Đã tải lên chuông “chuong-hue” (2 giây)." in page
    assert 'src="/jingles/audio/custom/chuong-hue.wav"' in page
    assert everything_in(folder) == ["chuong-hue.wav"]
    served = client.get("/jingles/audio/custom/chuong-hue.wav")
    data = served.get_data()
    served.close()
    assert served.status_code == 200 and data[:4] == b"RIFF"

    page = post(client, auth, "/jingles/chuong-hue/use").get_data(as_text=True)
    assert "Hãy chọn chuông mở đầu, chuông kết thúc hoặc cả hai." in page
    page = post(client, auth, "/jingles/chuong-hue/use", opening="y", closing="y").get_data(
        as_text=True
    )
    assert "dùng chuông “chuong-hue” để mở đầu và kết thúc" in page
    assert "Dùng chuông mặc định" in page
    profile = get_profile(None, settings.profiles_dir, custom_dir=folder)
    assert profile.chime_open == profile.chime_close == (folder / "chuong-hue.wav").resolve()
    assert profile.fingerprint() != shipped.fingerprint()

    page = post(client, auth, "/jingles/chuong-hue/delete").get_data(as_text=True)
    assert "Chuông “chuong-hue” đang được dùng trong cấu hình âm thanh" in page
    assert (folder / "chuong-hue.wav").is_file()

    page = post(client, auth, "/jingles/default").get_data(as_text=True)
    assert "Đã trở lại chuông mặc định." in page
    assert get_profile(None, settings.profiles_dir, custom_dir=folder) == shipped
    page = post(client, auth, "/jingles/chuong-hue/delete").get_data(as_text=True)
    assert "Đã xoá chuông “chuong-hue”." in page
    assert everything_in(folder) == []
    assert client.get("/jingles/audio/custom/chuong-hue.wav").status_code == 404
    assert post(client, auth, "/jingles/chuong-hue/delete").status_code == 404

    assert audit_actions(app, "jingle") == ["upload", "delete"]
    assert audit_actions(app, "profile") == ["set_chimes", "reset_chimes"]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("text", "Tệp này không phải âm thanh đọc được."),
        ("image", "Tệp này không phải âm thanh đọc được."),
        ("video", "Tệp có hình ảnh động (video)."),
        ("long", "Tệp dài 40 giây; chuông phải dài từ 0,3 đến 15 giây."),
        ("oversized", "Tệp quá lớn (tối đa 2 MB)."),
    ],
)
def test_a_refused_upload_says_why_and_leaves_nothing(
    app, client, auth, settings, tmp_path, kind, message
):
    auth.login("admin")
    page = post_upload(client, auth, sample(kind, tmp_path / "in")).get_data(as_text=True)
    assert message in page
    assert "Đã tải lên" not in page
    assert everything_in(customjingles.custom_dir(settings)) == []
    assert audit_actions(app, "jingle") == []


def test_a_far_too_large_request_is_refused_from_its_length(client, auth, settings):
    auth.login("admin")
    token = auth.csrf_token("/jingles")
    response = client.post(
        "/jingles",
        data={"csrf_token": token, "name": "x", "file": (BytesIO(b"\0" * 5_000_000), "x.mp3")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Tệp quá lớn (tối đa 2 MB)." in response.get_data(as_text=True)
    assert everything_in(customjingles.custom_dir(settings)) == []


def test_a_missing_file_or_name_is_asked_for(client, auth):
    auth.login("admin")
    token = auth.csrf_token("/jingles")
    page = client.post(
        "/jingles", data={"csrf_token": token, "name": "x"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Vui lòng chọn tệp âm thanh." in page
    page = client.post(
        "/jingles", data={"csrf_token": token, "name": ""}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Vui lòng đặt tên cho chuông" in page


@pytest.mark.parametrize(
    "url",
    [
        "/jingles/audio/custom/..%2Fsecret_key",
        "/jingles/audio/custom/../secret_key",
        "/jingles/audio/shipped/..%2F..%2Fbroadcaster%2Fprofiles.py",
        "/jingles/audio/elsewhere/chime-open.wav",
        "/jingles/audio/shipped/chime-open.WAV",
        "/jingles/audio/shipped/%2Fetc%2Fpasswd",
    ],
)
def test_the_audio_route_serves_only_chimes_by_name(client, auth, url):
    auth.login("admin")
    response = client.get(url)
    assert response.status_code == 404
    assert b"RIFF" not in response.data


def test_changes_need_the_csrf_token(client, auth):
    auth.login("admin")
    assert client.post("/jingles/default").status_code == 400
    assert client.post("/jingles", data={"name": "x"}).status_code == 400


@pytest.mark.parametrize("persona", ["approver", "editor", "operator"])
def test_only_admins_reach_the_chimes(app, client, auth, persona):
    app.config["WTF_CSRF_ENABLED"] = False  # so POSTs reach the role gate
    auth.login(persona)
    assert client.get("/jingles").status_code == 403
    response = client.get("/jingles/audio/shipped/chime-open.wav")
    response.close()
    assert response.status_code == 403
    for url in ("/jingles", "/jingles/x/use", "/jingles/x/delete", "/jingles/default"):
        assert client.post(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/jingles/audio/shipped/chime-open.wav")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert client.get("/jingles").location.startswith("/login")


def test_every_route_declares_admin_only(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("jingles.")]
    assert len(rules) == 6
    for rule in rules:
        assert app.view_functions[rule.endpoint].allowed_roles == {"admin"}, rule


def test_the_audit_records_before_and_after(app, client, auth, tmp_path):
    auth.login("admin")
    post_upload(client, auth, sample("mp3", tmp_path / "in"))
    post(client, auth, "/jingles/chuong-hue/use", opening="y")
    with app.app_context():
        from web.db import get_session

        entry = (
            get_session().exec(select(AuditEntry).where(AuditEntry.entity_type == "profile")).one()
        )
    assert json.loads(entry.before)["chime_open"] == "chime-open.wav"
    assert json.loads(entry.after) == {
        "chime_open": "custom/chuong-hue.wav",
        "chime_close": "chime-close.wav",
    }

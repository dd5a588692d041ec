import io
import wave

from sqlmodel import select

from broadcaster.core.models import AuditEntry, LexiconEntry


def post_entry(client, auth, **data):
    token = auth.csrf_token("/lexicon")
    return client.post("/lexicon", data={"csrf_token": token, "note": "", **data})


def test_an_editor_adds_a_reading_and_it_is_used_when_reading_text(client, auth, app):
    auth.login("editor")
    response = post_entry(client, auth, term="Hương Giang", reading="Hương Giang ơi")
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Đã lưu cách đọc “Hương Giang”." in page
    assert 'id="spoken">hương giang ơi' in page.lower()
    with app.app_context():
        from web.db import get_session

        entry = (
            get_session().exec(select(LexiconEntry).where(LexiconEntry.term == "Hương Giang")).one()
        )
        audit = (
            get_session().exec(select(AuditEntry).where(AuditEntry.entity_type == "lexicon")).all()
        )
    assert entry.updated_by_id is not None
    assert audit[-1].actor_label == "editor"


def test_a_duplicate_word_is_refused_in_vietnamese_and_nothing_changes(client, auth):
    auth.login("editor")
    response = post_entry(client, auth, term="Bluezone", reading="bờ lu")
    page = client.get(response.location).get_data(as_text=True)
    assert "“Bluezone” đã có trong từ điển" in page
    assert "bờ lu" not in page


def test_the_trial_audio_is_real_speech(client, auth):
    auth.login("approver")
    response = client.get("/lexicon/audio?text=Bluezone&voice=central")
    assert response.status_code == 200
    assert response.headers["X-Speech-Engine"] == "espeak-ng"
    with wave.open(io.BytesIO(response.data)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert 0.3 < seconds < 5


def test_bad_trial_requests_get_a_clear_400(client, auth):
    auth.login("editor")
    assert client.get("/lexicon/audio?text=").status_code == 400
    assert client.get("/lexicon/audio?text=x&voice=robot").status_code == 400
    assert client.get("/lexicon/audio?text=" + "a" * 301).status_code == 400


def test_an_entry_can_be_edited_and_deleted(client, auth, app):
    auth.login("admin")
    with app.app_context():
        from web.db import get_session

        entry_id = (
            get_session().exec(select(LexiconEntry.id).where(LexiconEntry.term == "Zalo")).one()
        )
    assert "Sửa cách đọc" in client.get(f"/lexicon?edit={entry_id}").get_data(as_text=True)
    post_entry(client, auth, term="Zalo", reading="Za lô", entry_id=str(entry_id))
    assert "Za lô" in client.get("/lexicon").get_data(as_text=True)
    token = auth.csrf_token("/lexicon")
    client.post(f"/lexicon/{entry_id}/delete", data={"csrf_token": token})
    staff_table = client.get("/lexicon").get_data(as_text=True).split('id="shipped"')[0]
    assert ">Zalo<" not in staff_table


def test_operators_cannot_see_the_lexicon(client, auth):
    auth.login("operator")
    assert client.get("/lexicon").status_code == 403


def test_the_shipped_loanwords_are_listed_and_a_staff_entry_overrides_one(client, auth):
    auth.login("editor")
    page = client.get("/lexicon").get_data(as_text=True)
    assert 'id="shipped-loanwords"' in page and "kiu a" in page
    offer = client.get("/lexicon?term=QR&reading=kiu+a").get_data(as_text=True)
    assert 'value="QR"' in offer and 'value="kiu a"' in offer
    assert client.get("/lexicon?try=Quét+mã+QR").get_data(as_text=True).count("quét mã kiu a")
    response = post_entry(client, auth, term="QR", reading="quy rờ")
    assert response.status_code == 302
    page = client.get("/lexicon?try=Quét+mã+QR").get_data(as_text=True)
    assert 'id="spoken">quét mã quy rờ' in page
    assert "đọc là “quy rờ”" in page

import json

import pytest
from sqlmodel import select

from broadcaster.core.models import AuditEntry, LexiconEntry, User
from broadcaster.speech import lexicon
from broadcaster.speech.loanwords import FrozenLexicon


def admin(session):
    return session.exec(select(User).where(User.username == "admin")).one()


def test_a_new_database_has_the_default_readings(session):
    mapping = lexicon.as_mapping(session)
    assert mapping["Bluezone"] == "Blu dôn"
    assert {"Covid", "UBND"} <= set(mapping)


def test_changes_are_audited_with_before_and_after(session):
    entry = lexicon.save_entry(
        session=session,
        term="Zalo",
        reading="Za lô",
        actor=admin(session),
        entry_id=session.exec(select(LexiconEntry.id).where(LexiconEntry.term == "Zalo")).one(),
    )
    session.commit()
    audit = session.exec(
        select(AuditEntry).where(AuditEntry.entity_type == "lexicon").order_by(AuditEntry.id.desc())
    ).first()
    assert audit.action == "update" and audit.actor_label == "admin"
    assert json.loads(audit.before)["reading"] == "Da lô"
    assert json.loads(audit.after)["reading"] == "Za lô"
    lexicon.delete_entry(session=session, entry_id=entry.id, actor=admin(session))
    session.commit()
    assert "Zalo" not in lexicon.as_mapping(session)


def test_the_version_changes_when_any_reading_changes(session):
    before = lexicon.version(session)
    lexicon.save_entry(session=session, term="HTX", reading="hợp tác xã", actor=None)
    assert lexicon.version(session) != before


@pytest.mark.parametrize(
    ("term", "reading", "message"),
    [
        ("", "x", "word is empty"),
        ("x", "   ", "reading is empty"),
        ("x" * 65, "x", "longer than 64"),
        ("a\x00b", "x", "control characters"),
        ("Bluezone", "x", "already in the lexicon"),
    ],
)
def test_bad_entries_are_refused(session, term, reading, message):
    with pytest.raises(lexicon.LexiconError, match=message):
        lexicon.save_entry(session=session, term=term, reading=reading, actor=None)


# --- the shipped loanword layer (issue 14) ---------------------------------------------


def user(session, name):
    return session.exec(select(User).where(User.username == name)).one()


def shipped_file(monkeypatch, tmp_path, text):
    """Swap the shipped loanword file, as an upgrade or an admin's edit would."""
    from broadcaster.speech import loanwords

    path = tmp_path / "loanwords.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(loanwords, "SHIPPED", path)
    loanwords.shipped.cache_clear()
    loanwords.dictionary.cache_clear()


@pytest.fixture
def restore_shipped():
    from broadcaster.speech import loanwords

    yield
    loanwords.shipped.cache_clear()
    loanwords.dictionary.cache_clear()


def test_it_reads_the_shipped_loanwords_and_a_staff_entry_wins(session):
    from broadcaster.speech.normalize import normalize

    assert normalize("Quét mã QR trên app") == "quét mã kiu a trên áp"
    lexicon.save_entry(session=session, term="app", reading="ứng dụng", actor=admin(session))
    assert normalize("Quét mã QR trên app", lexicon=lexicon.as_mapping(session)) == (
        "quét mã kiu a trên ứng dụng"
    )
    assert lexicon.merged(session)["app"] == "ứng dụng"


def test_a_staff_term_inside_a_shipped_one_still_wins_once_frozen(session):
    from broadcaster.speech.normalize import normalize

    lexicon.save_entry(session=session, term="test", reading="xét nghiệm", actor=None)
    draft = normalize("Làm test nhanh", lexicon=lexicon.as_mapping(session))
    frozen = FrozenLexicon(json.loads(lexicon.frozen(session)))
    assert draft == normalize("Làm test nhanh", lexicon=frozen) == "làm xét nghiệm nhanh"


def test_an_approved_version_keeps_its_loanword_readings(
    session, monkeypatch, tmp_path, restore_shipped
):
    from broadcaster.newsroom import workflow
    from broadcaster.speech.normalize import normalize

    text = "Bà con quét mã QR, cài app Zalo, xem video."
    _, version = workflow.create_script(
        session=session, title="QR", body=text, actor=user(session, "editor")
    )
    workflow.submit(session=session, version=version, actor=user(session, "editor"))
    workflow.approve(session=session, version=version, actor=user(session, "approver"))
    session.commit()
    approved = "bà con quét mã kiu a, cài áp da lô, xem vi đê ô."
    assert normalize(text, lexicon=lexicon.for_version(session, version)) == approved

    # The file changes a reading and adds a word after the approval.
    shipped_file(monkeypatch, tmp_path, "QR: quy rờ\napp: áp\nvideo: vi đê ô\nbà con: bà con ơi\n")
    assert normalize(text, lexicon=lexicon.for_version(session, version)) == approved
    draft = normalize(text, lexicon=lexicon.as_mapping(session))
    assert draft.startswith("bà con ơi quét mã quy rờ")


def test_the_lexicon_version_changes_with_the_shipped_file(
    session, monkeypatch, tmp_path, restore_shipped
):
    before = lexicon.version(session)
    shipped_file(monkeypatch, tmp_path, "QR: quy rờ\n")
    assert lexicon.version(session) != before


def test_a_malformed_loanword_file_is_refused(tmp_path):
    from broadcaster.speech import loanwords

    path = tmp_path / "bad.yaml"
    path.write_text("- app\n- QR\n", encoding="utf-8")
    with pytest.raises(loanwords.LoanwordError):
        loanwords.load(path)
    path.write_text("app:\n", encoding="utf-8")
    with pytest.raises(loanwords.LoanwordError):
        loanwords.load(path)


def test_the_shipped_file_lists_the_issue_words_once_each():
    from broadcaster.speech import loanwords

    entries = loanwords.load()
    for word in ("app", "smartphone", "iOS", "Android", "online", "Delta", "Omicron", "Zalo"):
        assert word in entries
    assert {"QR", "Wi-Fi", "GDP"} <= set(entries) and len(entries) >= 45

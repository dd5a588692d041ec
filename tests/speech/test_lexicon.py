import json

import pytest
from sqlmodel import select

from broadcaster.core.models import AuditEntry, LexiconEntry, User
from broadcaster.speech import lexicon


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

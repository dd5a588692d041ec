from datetime import timedelta

import pytest
from sqlmodel import select

from broadcaster.models import AuditEntry
from broadcaster.users import UserError, authenticate, create_user, generate_password

WINDOW = timedelta(minutes=15)


def login(session, username, password):
    user, locked = authenticate(
        session=session,
        username=username,
        password=password,
        remote_addr="127.0.0.1",
        max_failures=3,
        window=WINDOW,
    )
    session.commit()
    return user, locked


def test_passwords_are_stored_hashed_and_creation_is_audited(session):
    password = generate_password()
    user = create_user(session=session, username="canbo.vh", role="editor", password=password)
    session.commit()
    assert password not in user.password_hash
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity_type == "user")).all()[-1]
    assert entry.action == "create" and "canbo.vh" in entry.after and password not in entry.after


@pytest.mark.parametrize(
    ("username", "role", "password", "message"),
    [
        ("Bad Name", "editor", "long enough pw", "username"),
        ("ok", "king", "long enough pw", "unknown role"),
        ("ok", "editor", "short", "at least"),
        ("admin", "admin", "long enough pw", "already exists"),
    ],
)
def test_bad_users_are_refused_with_a_reason(session, username, role, password, message):
    with pytest.raises(UserError, match=message):
        create_user(session=session, username=username, role=role, password=password)


def test_logins_lock_after_repeated_failures_even_with_the_right_password(session):
    from tests.conftest import PERSONA_PASSWORD

    for _ in range(3):
        assert login(session, "editor", "wrong password") == (None, False)
    user, locked = login(session, "editor", PERSONA_PASSWORD)
    assert user is None and locked


def test_a_successful_login_clears_earlier_failures(session):
    from tests.conftest import PERSONA_PASSWORD

    login(session, "editor", "wrong password")
    login(session, "editor", "wrong password")
    user, _ = login(session, "editor", PERSONA_PASSWORD)
    assert user is not None and user.last_login_at is not None
    login(session, "editor", "wrong password")
    user, locked = login(session, "editor", PERSONA_PASSWORD)
    assert user is not None and not locked

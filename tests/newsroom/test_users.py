from datetime import timedelta

import pytest
from sqlmodel import select

from broadcaster.core.models import AuditEntry
from broadcaster.newsroom.users import UserError, authenticate, create_user, generate_password

WINDOW = timedelta(minutes=15)


def login(session, username, password, remote_addr="127.0.0.1"):
    user, locked = authenticate(
        session=session,
        username=username,
        password=password,
        remote_addr=remote_addr,
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


def test_a_guesser_elsewhere_cannot_lock_a_real_user_out(session):
    from tests.conftest import PERSONA_PASSWORD

    for _ in range(5):
        login(session, "admin", "guess", remote_addr="203.0.113.9")
    assert login(session, "admin", PERSONA_PASSWORD, remote_addr="203.0.113.9")[1] is True
    user, locked = login(session, "admin", PERSONA_PASSWORD, remote_addr="10.0.0.5")
    assert user is not None and not locked


def test_one_address_trying_many_usernames_is_stopped(session):
    from tests.conftest import PERSONA_PASSWORD

    for index in range(12):
        login(session, f"nobody{index}", "guess", remote_addr="198.51.100.7")
    user, locked = login(session, "editor", PERSONA_PASSWORD, remote_addr="198.51.100.7")
    assert user is None and locked


def test_attempts_while_locked_are_still_recorded(session):
    from broadcaster.core.models import LoginAttempt

    for _ in range(5):
        login(session, "editor", "guess", remote_addr="192.0.2.1")
    count = len(
        session.exec(select(LoginAttempt).where(LoginAttempt.remote_addr == "192.0.2.1")).all()
    )
    assert count == 5

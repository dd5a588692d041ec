"""Users, passwords and login throttling."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from broadcaster.core import audit
from broadcaster.core.db import saved_id
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import LoginAttempt, Role, User

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 10


class UserError(BroadcasterError):
    """A request about users that cannot be done; the message is safe to show."""


def generate_password() -> str:
    # 16 url-safe characters ~ 96 bits: strong, and still typeable from a printed note.
    return secrets.token_urlsafe(12)


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters",
            code="password_too_short",
            n=MIN_PASSWORD_LENGTH,
        )


def create_user(
    *,
    session: Session,
    username: str,
    role: str,
    password: str,
    full_name: str = "",
    actor: User | None = None,
) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise UserError(
            "username must be 2-64 characters: lowercase letters, digits, '.', '_' or '-'",
            code="bad_username",
        )
    if role not in {r.value for r in Role}:
        raise UserError(
            f"unknown role {role!r}; choose one of: {', '.join(r.value for r in Role)}",
            code="unknown_role",
            role=role,
        )
    validate_password(password)
    if session.exec(select(User).where(User.username == username)).first():
        raise UserError(
            f"user {username!r} already exists", code="username_taken", username=username
        )
    user = User(
        username=username,
        role=role,
        full_name=full_name.strip(),
        password_hash=generate_password_hash(password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="user",
        entity_id=user.id,
        after={"username": username, "role": role, "full_name": user.full_name},
    )
    return user


def set_password(*, session: Session, user: User, password: str, actor: User | None) -> None:
    validate_password(password)
    user.password_hash = generate_password_hash(password)
    session.add(user)
    audit.record(session, actor=actor, action="set_password", entity_type="user", entity_id=user.id)


def has_admin(session: Session) -> bool:
    return session.exec(select(User.id).where(User.role == Role.ADMIN)).first() is not None


# One address may fail this many times more than one account may: an office shares an
# address, and a guesser trying many usernames from one machine is stopped all the same.
ADDRESS_FAILURE_FACTOR = 4
# Checked when the username is unknown, so a wrong name costs as long as a wrong password
# and the timing does not tell which usernames exist.
_DUMMY_HASH = generate_password_hash("no such user, no such password")


def _failures(session: Session, since: datetime, *conditions) -> int:
    return session.exec(
        select(func.count())
        .select_from(LoginAttempt)
        .where(col(LoginAttempt.succeeded).is_(False), LoginAttempt.at > since, *conditions)
    ).one()


def is_locked_out(
    *,
    session: Session,
    username: str,
    remote_addr: str,
    max_failures: int,
    window: timedelta,
    now: datetime | None = None,
    exclude_id: int | None = None,
) -> bool:
    """True after too many failures within `window`: for this account from this address
    (since its last success from there), or from this address over all accounts.

    Counting per address means a guesser elsewhere cannot lock a real user out.
    `exclude_id` leaves out the attempt being judged (see authenticate()).
    """
    since = (now or utcnow()) - window
    last_success = session.exec(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username,
            LoginAttempt.remote_addr == remote_addr,
            col(LoginAttempt.succeeded).is_(True),
        )
    ).one()
    others = () if exclude_id is None else (LoginAttempt.id != exclude_id,)
    account_since = max(since, last_success) if last_success else since
    account = _failures(
        session,
        account_since,
        LoginAttempt.username == username,
        LoginAttempt.remote_addr == remote_addr,
        *others,
    )
    address = _failures(session, since, LoginAttempt.remote_addr == remote_addr, *others)
    return account >= max_failures or address >= max_failures * ADDRESS_FAILURE_FACTOR


def authenticate(
    *,
    session: Session,
    username: str,
    password: str,
    remote_addr: str,
    max_failures: int,
    window: timedelta,
) -> tuple[User | None, bool]:
    """Check a login; returns (user or None, locked_out). Every attempt is recorded.

    Commits, unlike other service functions. Production runs several worker
    processes and the password check takes tens of milliseconds: were the attempt counted
    first and written afterwards, parallel guesses sent to different workers would all see
    the same count and all be checked. So the attempt is written and committed as a failure
    first, counted with every other attempt already written (each of two racing attempts
    sees at least the one that committed first), and only then checked and, if right,
    marked successful.
    """
    username = username.strip().lower()[:64]
    remote_addr = remote_addr[:64]
    attempt = LoginAttempt(username=username, remote_addr=remote_addr, succeeded=False)
    session.add(attempt)
    session.commit()
    locked = is_locked_out(
        session=session,
        username=username,
        remote_addr=remote_addr,
        max_failures=max_failures,
        window=window,
        exclude_id=attempt.id,
    )
    if locked:
        # No password check: a locked address gets no answer about the password, and a
        # flood of locked attempts costs no scrypt work.
        return None, True
    user = session.exec(select(User).where(User.username == username)).first()
    stored_hash = user.password_hash if user else _DUMMY_HASH
    # End the transaction before the slow check: on SQLite a form post holds the write
    # lock, and a stream of logins must not keep the scheduler from writing.
    session.commit()
    password_ok = check_password_hash(stored_hash, password)
    if not (user and user.is_active and password_ok):
        return None, False
    attempt.succeeded = True
    session.add(attempt)
    user.last_login_at = utcnow()
    session.add(user)
    return user, False


def _snapshot(user: User, station_ids: list[int]) -> dict:
    return {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "is_active": user.is_active,
        "stations": sorted(station_ids),
    }


def operator_station_ids(session: Session, user: User) -> list[int]:
    from broadcaster.core.models import OperatorStation

    return list(
        session.exec(select(OperatorStation.station_id).where(OperatorStation.user_id == user.id))
    )


def update_user(
    *,
    session: Session,
    user: User,
    full_name: str,
    role: str,
    is_active: bool,
    station_ids: list[int],
    actor: User,
) -> None:
    """Change a user's name, role, active flag and (for operators) stations; audited."""
    from broadcaster.core.models import OperatorStation

    if role not in {r.value for r in Role}:
        raise UserError(f"unknown role {role!r}", code="unknown_role", role=role)
    before = _snapshot(user, operator_station_ids(session, user))
    losing_admin = user.role == Role.ADMIN and (role != Role.ADMIN or not is_active)
    if losing_admin:
        others = session.exec(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN, col(User.is_active).is_(True), User.id != user.id)
        ).one()
        if others == 0:
            raise UserError(
                "this is the last active admin; make another admin first", code="last_admin"
            )
    user.full_name = " ".join(full_name.split())[:128]
    user.role = role
    user.is_active = is_active
    session.add(user)
    for link in session.exec(select(OperatorStation).where(OperatorStation.user_id == user.id)):
        session.delete(link)
    session.flush()
    kept = sorted(set(station_ids)) if role == Role.OPERATOR else []
    for station_id in kept:
        session.add(OperatorStation(user_id=saved_id(user), station_id=station_id))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after=_snapshot(user, kept),
    )


def change_own_password(*, session: Session, user: User, current: str, new: str) -> None:
    if not check_password_hash(user.password_hash, current):
        raise UserError("the current password is wrong", code="wrong_password")
    if current == new:
        raise UserError("the new password must differ from the current one", code="same_password")
    set_password(session=session, user=user, password=new, actor=user)

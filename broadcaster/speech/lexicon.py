"""The pronunciation lexicon staff edit: word or abbreviation -> how it is read aloud.

Two layers: the shipped loanword file (speech/loanwords.py) and the staff entries in the
database, which win. ``as_mapping`` is the staff layer (what ``normalize`` takes as
``lexicon``; it applies the shipped layer itself); ``frozen`` keeps both, merged, with a
version at its approval, and ``for_version`` hands that back so nothing live can change
an approved bulletin.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata

from sqlmodel import Session, select

from broadcaster.core import audit
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import LexiconEntry, ScriptVersion, User
from broadcaster.speech import loanwords

MAX_TERM = 64
MAX_READING = 200


class LexiconError(BroadcasterError):
    """A lexicon change that cannot be saved; the message is safe to show."""


def _clean(value: str, *, what: str, limit: int) -> str:
    value = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not value:
        raise LexiconError(f"the {what} is empty", code="empty_field", field=what)
    if len(value) > limit:
        raise LexiconError(
            f"the {what} is longer than {limit} characters",
            code="field_too_long",
            field=what,
            limit=limit,
        )
    if any(unicodedata.category(c).startswith("C") for c in value):
        raise LexiconError(
            f"the {what} contains control characters", code="control_characters", field=what
        )
    return value


def as_mapping(session: Session) -> dict[str, str]:
    """term -> reading, for normalize(lexicon=...)."""
    return dict(session.exec(select(LexiconEntry.term, LexiconEntry.reading)).all())


def merged(session: Session) -> dict[str, str]:
    """Shipped loanwords overlaid by the staff entries: every reading in force today.

    Read as one dictionary (longest term first) it must say what the two layers say
    (staff first, then shipped), so a shipped term is left out when a staff term is
    part of it: a staff "test" beats the shipped "test nhanh", as it does live.
    """
    staff = as_mapping(session)
    staff_words = [_words(term) for term in staff]
    shipped = {
        term: reading
        for term, reading in loanwords.shipped().items()
        if not any(_contains(_words(term), words) for words in staff_words)
    }
    return {**shipped, **staff}


def _words(term: str) -> tuple[str, ...]:
    return tuple(term.lower().replace("-", " ").split())


def _contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    n = len(inner)
    return any(outer[i : i + n] == inner for i in range(len(outer) - n + 1))


def frozen(session: Session) -> str:
    """The whole lexicon, shipped loanwords included, as JSON, kept at approval."""
    return json.dumps(merged(session), ensure_ascii=False, sort_keys=True)


def for_version(session: Session, version: ScriptVersion) -> dict[str, str]:
    """The readings a version is spoken with: those frozen at its approval, if it has them.

    A draft (heard by its editor or approver before approval) reads with today's lexicon
    and loanword file; an approved version never changes what it says on air after
    someone edits an entry or the loanword file: the frozen mapping is returned as a
    ``FrozenLexicon``, over which ``normalize`` applies no live loanword layer.
    """
    if version.lexicon:
        return loanwords.FrozenLexicon(json.loads(version.lexicon))
    return as_mapping(session)


def shipped_entries(session: Session) -> list[tuple[str, str, LexiconEntry | None]]:
    """(term, shipped reading, the staff entry overriding it or None), by term."""
    staff = {e.term.lower(): e for e in session.exec(select(LexiconEntry)).all()}
    return [
        (term, reading, staff.get(term.lower()))
        for term, reading in sorted(loanwords.shipped().items(), key=lambda i: i[0].lower())
    ]


def version(session: Session) -> str:
    """A short hash of the whole lexicon: changes whenever any reading would change."""
    digest = hashlib.sha256(loanwords.digest().encode())
    for term, reading in sorted(as_mapping(session).items()):
        digest.update(f"{term}\t{reading}\n".encode())
    return digest.hexdigest()[:16]


def _snapshot(entry: LexiconEntry) -> dict[str, str]:
    return {"term": entry.term, "reading": entry.reading, "note": entry.note}


def save_entry(
    *,
    session: Session,
    term: str,
    reading: str,
    note: str = "",
    actor: User | None,
    entry_id: int | None = None,
) -> LexiconEntry:
    """Add an entry, or change entry `entry_id`; audited either way."""
    term = _clean(term, what="word", limit=MAX_TERM)
    reading = _clean(reading, what="reading", limit=MAX_READING)
    note = " ".join((note or "").split())[:200]
    clash = session.exec(select(LexiconEntry).where(LexiconEntry.term == term)).first()
    if clash and clash.id != entry_id:
        raise LexiconError(f"{term!r} is already in the lexicon", code="duplicate_term", term=term)
    if entry_id is None:
        entry, before = LexiconEntry(term=term, reading=reading), None
    else:
        existing = session.get(LexiconEntry, entry_id)
        if existing is None:
            raise LexiconError("this lexicon entry no longer exists", code="entry_gone")
        entry, before = existing, _snapshot(existing)
    entry.term, entry.reading, entry.note = term, reading, note
    entry.updated_at = utcnow()
    entry.updated_by_id = actor.id if actor else None
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create" if before is None else "update",
        entity_type="lexicon",
        entity_id=entry.id,
        before=before,
        after=_snapshot(entry),
    )
    return entry


def delete_entry(*, session: Session, entry_id: int, actor: User | None) -> None:
    entry = session.get(LexiconEntry, entry_id)
    if entry is None:
        raise LexiconError("this lexicon entry no longer exists", code="entry_gone")
    audit.record(
        session,
        actor=actor,
        action="delete",
        entity_type="lexicon",
        entity_id=entry.id,
        before=_snapshot(entry),
    )
    session.delete(entry)
    session.flush()

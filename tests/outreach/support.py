"""Bulletins that aired (or not) at Huế stations, for the listen-again tests."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from broadcaster.core.events import EventKind
from broadcaster.core.models import Area, AudioFile, Occurrence, Station
from broadcaster.newsroom.workflow import set_public
from broadcaster.onair.playlog import Outcome, apply_outcome
from tests.stationapi_support import (
    DAILY,
    HOW_TO,
    add_occurrence,
    approved_version,
    schedule_for,
    user,
)

__all__ = ["DAILY", "HOW_TO", "aired", "commune_of", "publish"]


def publish(session: Session, schedule, public: bool = True) -> None:
    version = approved_version(session, schedule)
    set_public(session=session, version=version, actor=user(session, "approver"), public=public)
    session.commit()


def aired(
    session: Session,
    settings,
    slug: str,
    code: str,
    at: datetime,
    *,
    played: bool = True,
    audio: AudioFile | None = None,
) -> Occurrence:
    """A play of `slug` at station `code` at `at`, rendered (or with `audio`), and (if
    `played`) aired."""
    schedule = schedule_for(session, slug, [code])
    occurrence = add_occurrence(session, settings, schedule, code, at, audio=audio)
    if played:
        apply_outcome(session, occurrence, Outcome(EventKind.STARTED), at=at, actor="test")
        apply_outcome(session, occurrence, Outcome(EventKind.FINISHED), at=at, actor="test")
        session.commit()
    return occurrence


def commune_of(session: Session, code: str) -> Area:
    station = session.exec(select(Station).where(Station.code == code)).one()
    return session.get(Area, station.area_id)

"""The approver decides, when approving and later, whether residents may hear a version again."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import select

from broadcaster.core.models import AuditEntry, Script, ScriptVersion, VersionStatus
from broadcaster.newsroom.workflow import WorkflowError, set_public, submit
from tests.helpers import csrf
from tests.stationapi_support import DAILY, user


@pytest.fixture
def submitted(session):
    script = session.exec(select(Script).where(Script.slug == DAILY)).one()
    version = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script.id)).one()
    submit(session=session, version=version, actor=user(session, "editor"))
    session.commit()
    return script


def _version(session, script) -> ScriptVersion:
    session.rollback()  # end the read snapshot: the app committed since
    return session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script.id)).one()


def _post(client, script, path, **data):
    token = csrf(client, f"/scripts/{script.id}")
    return client.post(
        f"/scripts/{script.id}/versions/1/{path}", data={"csrf_token": token, **data}
    )


def test_approving_leaves_a_version_off_the_public_pages_unless_ticked(
    client, auth, session, submitted
):
    auth.login("approver")
    page = client.get(f"/scripts/{submitted.id}").get_data(as_text=True)
    [checkbox] = re.findall(r'<input[^>]*id="approve-public"[^>]*>', page)
    assert "checked" not in checkbox
    _post(client, submitted, "approve")
    version = _version(session, submitted)
    assert version.status == VersionStatus.APPROVED and version.public is False
    assert "không hiện trên trang Nghe lại" in client.get(f"/scripts/{submitted.id}").get_data(
        as_text=True
    )


def test_an_approver_can_publish_when_approving_and_take_it_off_later(
    client, auth, session, submitted
):
    auth.login("approver")
    _post(client, submitted, "approve", public="y")
    assert _version(session, submitted).public is True
    _post(client, submitted, "public")  # the form's checkbox unticked: off
    assert _version(session, submitted).public is False
    _post(client, submitted, "public", public="y")
    assert _version(session, submitted).public is True
    actions = [
        (e.action, json.loads(e.after).get("public"))
        for e in session.exec(
            select(AuditEntry).where(AuditEntry.entity_id == DAILY).order_by(AuditEntry.id)
        )
    ]
    assert actions[-3:] == [("approve", True), ("unpublish", False), ("publish", True)]


def test_editors_cannot_publish_and_drafts_cannot_be_public(client, auth, session, submitted):
    auth.login("editor")
    response = _post(client, submitted, "public", public="y")
    assert response.status_code == 403
    assert _version(session, submitted).public is False
    with pytest.raises(WorkflowError) as refused:
        set_public(
            session=session,
            version=_version(session, submitted),
            actor=user(session, "approver"),
            public=True,
        )
    assert refused.value.code == "not_approved"


def test_an_older_approved_version_can_be_taken_off_from_the_history(
    client, auth, session, submitted
):
    from broadcaster.newsroom.workflow import add_version, approve

    auth.login("approver")
    _post(client, submitted, "approve", public="y")
    session.rollback()
    newer = add_version(
        session=session,
        script=submitted,
        body="Bà con nhớ cài Bluezone.",
        voice="central",
        actor=user(session, "editor"),
    )
    submit(session=session, version=newer, actor=user(session, "editor"))
    approve(session=session, version=newer, actor=user(session, "approver"))
    session.commit()
    page = client.get(f"/scripts/{submitted.id}").get_data(as_text=True)
    assert f'/scripts/{submitted.id}/versions/1/public"' in page
    _post(client, submitted, "public")
    session.rollback()
    first = session.exec(
        select(ScriptVersion).where(
            ScriptVersion.script_id == submitted.id, ScriptVersion.number == 1
        )
    ).one()
    assert first.public is False

import pytest
from sqlmodel import select

from broadcaster.core.config import PROJECT_ROOT
from broadcaster.core.models import Campaign, Script, ScriptVersion, VersionStatus
from broadcaster.newsroom.scriptfiles import ScriptFileError, import_scripts

SCRIPT = """---
slug: {slug}
title: Thông báo thử
campaign: bluezone
voice: central
repeat: 2
---
{body}
"""


def write(folder, name, slug="bluezone-thu", body="Bà con hãy cài đặt Bluezone."):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(SCRIPT.format(slug=slug, body=body), encoding="utf-8")


def versions(session, slug):
    script = session.exec(select(Script).where(Script.slug == slug)).one()
    return session.exec(
        select(ScriptVersion)
        .where(ScriptVersion.script_id == script.id)
        .order_by(ScriptVersion.number)
    ).all()


def test_the_shipped_campaign_imports_with_its_dates(session):
    campaign = session.exec(select(Campaign).where(Campaign.slug == "bluezone")).one()
    assert campaign.starts_on.isoformat() == "2020-08-19"
    report = import_scripts(session, PROJECT_ROOT / "scripts")
    assert report.created == [] and report.updated == []  # the demo already imported them
    assert len(report.unchanged) >= 6


def test_a_changed_body_becomes_a_new_draft_version(session, tmp_path):
    write(tmp_path, "a.md")
    import_scripts(session, tmp_path)
    write(tmp_path, "a.md", body="Bà con hãy cài đặt Bluezone ngay hôm nay.")
    report = import_scripts(session, tmp_path)
    assert report.updated == ["bluezone-thu"]
    found = versions(session, "bluezone-thu")
    assert [v.number for v in found] == [1, 2]
    assert found[0].body == "Bà con hãy cài đặt Bluezone."  # old versions are kept as written
    assert all(v.status == VersionStatus.DRAFT for v in found)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("no front matter here", "front matter"),
        ("---\nslug: [unclosed\n---\nbody", "not valid YAML"),
        ("---\nslug: Bad Slug\ntitle: x\n---\nbody", "slug"),
        ("---\nslug: ok-slug\n---\nbody", "title is missing"),
        ("---\nslug: ok-slug\ntitle: x\ncampaign: nope\n---\nbody", "unknown campaign"),
        ("---\nslug: ok-slug\ntitle: x\nvoice: robot\n---\nbody", "unknown voice"),
        ("---\nslug: ok-slug\ntitle: x\n---\n   ", "empty"),
    ],
)
def test_a_bad_file_is_named_and_nothing_is_imported(session, tmp_path, content, message):
    write(tmp_path, "00-good.md", slug="bluezone-tot")
    (tmp_path / "zz-bad.md").write_text(content, encoding="utf-8")
    with pytest.raises(ScriptFileError, match=message) as info:
        import_scripts(session, tmp_path)
    assert "zz-bad.md" in str(info.value)
    session.rollback()
    assert session.exec(select(Script).where(Script.slug == "bluezone-tot")).first() is None


def test_duplicate_slugs_are_refused(session, tmp_path):
    write(tmp_path, "a.md", slug="bluezone-trung")
    write(tmp_path, "b.md", slug="bluezone-trung")
    with pytest.raises(ScriptFileError, match="also used by"):
        import_scripts(session, tmp_path)


@pytest.mark.parametrize(
    "content", [b"- just\n- a list\n", "slug: x\nname: \xff".encode("latin-1")]
)
def test_a_bad_campaign_file_is_named(session, tmp_path, content):
    (tmp_path / "campaign.yml").write_bytes(content)
    with pytest.raises(ScriptFileError, match="campaign.yml"):
        import_scripts(session, tmp_path)

"""Uploaded chimes: checked by content and size, normalized, used by the default profile."""

from __future__ import annotations

import io
import json
import re
import subprocess
import wave
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from broadcaster.audio import customjingles
from broadcaster.audio.customjingles import JingleError
from broadcaster.audio.jinglefiles import SLUG_MAX
from broadcaster.audio.profiles import (
    JINGLES_DIR,
    SHIPPED,
    ProfileError,
    get_profile,
    load_profiles,
)
from broadcaster.audio.render import frame_for
from broadcaster.core.models import AuditEntry, User
from broadcaster.core.text import slugify

SINE = "sine=frequency=660:sample_rate=44100:duration={seconds}"


def _ffmpeg(path: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args, str(path)],
        check=True,
        timeout=60,
    )
    return path


def sample(kind: str, folder: Path) -> Path:
    """A test file of `kind`; its name often lies about its content, which is the point."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "mp3":  # stereo, 44.1 kHz, quiet: all three change on the way in
        return _ffmpeg(
            folder / "chuong.mp3",
            *("-f", "lavfi", "-i", SINE.format(seconds=2), "-af", "volume=-14dB", "-ac", "2"),
        )
    if kind == "text":
        path = folder / "chuong.mp3"
        path.write_text("Đây là văn bản, không phải âm thanh.\n" * 20, encoding="utf-8")
        return path
    if kind == "image":
        return _ffmpeg(
            folder / "chuong.wav",
            *("-f", "lavfi", "-i", "color=red:size=32x32:duration=1", "-frames:v", "1"),
            *("-c:v", "png", "-f", "image2"),
        )
    if kind == "video":
        return _ffmpeg(
            folder / "chuong.m4a",
            *("-f", "lavfi", "-i", "testsrc=duration=2:size=64x64:rate=10"),
            *("-f", "lavfi", "-i", SINE.format(seconds=2), "-shortest", "-f", "mp4"),
        )
    if kind == "long":
        return _ffmpeg(folder / "chuong.ogg", "-f", "lavfi", "-i", SINE.format(seconds=40))
    if kind == "short":
        return _ffmpeg(folder / "chuong.wav", "-f", "lavfi", "-i", SINE.format(seconds=0.1))
    if kind == "silent":
        return _ffmpeg(folder / "chuong.wav", "-f", "lavfi", "-i", "anullsrc=duration=2")
    if kind == "oversized":  # real audio within the time limit: only its size is at fault
        path = _ffmpeg(
            folder / "chuong.wav",
            *("-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=11"),
            *("-ac", "2", "-c:a", "pcm_s16le"),
        )
        assert path.stat().st_size > customjingles.MAX_BYTES
        return path
    if kind == "empty":
        path = folder / "chuong.mp3"
        path.write_bytes(b"")
        return path
    if kind == "cover":  # an MP3 with cover art: a still picture, not a video
        picture = _ffmpeg(
            folder / "cover.jpg",
            "-f",
            "lavfi",
            "-i",
            "color=blue:size=32x32:duration=1",
            "-frames:v",
            "1",
        )
        return _ffmpeg(
            folder / "chuong.mp3",
            *("-f", "lavfi", "-i", SINE.format(seconds=2), "-i", str(picture)),
            *("-map", "0", "-map", "1", "-c:v", "copy", "-disposition:v", "attached_pic"),
        )
    raise AssertionError(kind)


def loudness(path: Path) -> float:
    """Integrated loudness measured independently of the code under test."""
    completed = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-af",
            "ebur128",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", completed.stderr)[-1])


def everything_in(folder: Path) -> list[str]:
    """Every file under `folder`, hidden temporary files included."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def admin(session) -> User:
    return session.exec(select(User).where(User.username == "admin")).one()


def upload(session, settings, admin, path: Path, name: str = "Chuông Huế"):
    with path.open("rb") as stream:
        return customjingles.add_jingle(
            session,
            settings=settings,
            name=name,
            stream=stream,
            actor=admin,
            original_filename=path.name,
        )


def audits(session, entity_type: str) -> list[AuditEntry]:
    return list(
        session.exec(
            select(AuditEntry).where(AuditEntry.entity_type == entity_type).order_by(AuditEntry.id)
        )
    )


def test_an_accepted_upload_becomes_a_mono_24khz_wav_at_minus_16_lufs(
    session, settings, admin, tmp_path
):
    jingle = upload(session, settings, admin, sample("mp3", tmp_path / "in"))
    session.commit()
    folder = customjingles.custom_dir(settings)
    assert jingle.path == folder / "chuong-hue.wav"
    assert everything_in(folder) == ["chuong-hue.wav"]  # no temporary file is left
    with wave.open(str(jingle.path)) as handle:
        assert handle.getnchannels() == 1
        assert handle.getframerate() == 24000
        assert handle.getsampwidth() == 2
        assert handle.getnframes() / 24000 == pytest.approx(2.0, abs=0.1)
    assert loudness(jingle.path) == pytest.approx(-16.0, abs=1.0)
    assert jingle.lufs == pytest.approx(-16.0, abs=1.0)
    [entry] = audits(session, "jingle")
    assert (entry.action, entry.entity_id, entry.actor_label) == ("upload", "chuong-hue", "admin")
    assert entry.before is None
    after = json.loads(entry.after)
    assert after["file"] == "custom/chuong-hue.wav" and after["uploaded_as"] == "chuong.mp3"


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("text", "not_audio"),  # a text file renamed .mp3
        ("image", "not_audio"),  # a PNG named .wav
        ("video", "has_video"),  # an MP4 named .m4a
        ("long", "too_long"),  # 40 seconds
        ("short", "too_short"),  # 0.1 seconds
        ("silent", "silent"),
        ("oversized", "too_large"),
        ("empty", "empty"),
    ],
)
def test_a_refused_upload_leaves_nothing_behind(session, settings, admin, tmp_path, kind, reason):
    with pytest.raises(JingleError) as info:
        upload(session, settings, admin, sample(kind, tmp_path / "in"))
    assert info.value.reason == reason
    session.rollback()
    assert everything_in(customjingles.custom_dir(settings)) == []
    assert audits(session, "jingle") == []


def test_the_size_check_stops_reading_at_the_limit_plus_one_byte(session, settings, admin):
    class Endless(io.RawIOBase):
        handed_out = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            assert size > 0, "never read it all"
            self.handed_out += size
            return b"\0" * size

    stream = Endless()
    with pytest.raises(JingleError) as info:
        customjingles.add_jingle(session, settings=settings, name="x", stream=stream, actor=admin)
    assert info.value.reason == "too_large"
    assert stream.handed_out == customjingles.MAX_BYTES + 1
    assert everything_in(customjingles.custom_dir(settings)) == []


def test_without_ffmpeg_an_upload_is_refused_cleanly(
    session, settings, admin, tmp_path, monkeypatch
):
    path = sample("mp3", tmp_path / "in")
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    with pytest.raises(JingleError) as info:
        upload(session, settings, admin, path)
    assert info.value.reason == "unavailable"
    assert everything_in(customjingles.custom_dir(settings)) == []


def test_cover_art_in_an_mp3_is_not_a_video(session, settings, admin, tmp_path):
    jingle = upload(session, settings, admin, sample("cover", tmp_path / "in"))
    assert jingle.filename == "chuong-hue.wav"


def test_names_become_unique_ascii_slugs(session, settings, admin, tmp_path):
    assert slugify("Chuông Đồng Khánh số 1!", max_length=SLUG_MAX) == "chuong-dong-khanh-so-1"
    assert slugify("../../etc/passwd", max_length=SLUG_MAX) == "etc-passwd"
    source = sample("mp3", tmp_path / "in")
    first = upload(session, settings, admin, source, name="Chuông Huế")
    second = upload(session, settings, admin, source, name="chuong  HUE")
    assert (first.filename, second.filename) == ("chuong-hue.wav", "chuong-hue-2.wav")
    with pytest.raises(JingleError) as info:
        upload(session, settings, admin, source, name="!!!")
    assert info.value.reason == "bad_name"
    assert everything_in(customjingles.custom_dir(settings)) == [
        "chuong-hue-2.wav",
        "chuong-hue.wav",
    ]


def _profile(settings):
    return get_profile(None, settings.profiles_dir, custom_dir=customjingles.custom_dir(settings))


def test_using_a_chime_changes_the_default_profile_and_its_renders(
    session, settings, admin, tmp_path
):
    shipped = _profile(settings)
    jingle = upload(session, settings, admin, sample("mp3", tmp_path / "in"))
    name = customjingles.use_jingle(
        session,
        settings=settings,
        name=jingle.name,
        keys=["chime_open", "chime_close"],
        actor=admin,
    )
    session.commit()
    assert name == settings.audio_profile
    profile = _profile(settings)
    folder = customjingles.custom_dir(settings).resolve()
    assert profile.chime_open == profile.chime_close == jingle.path.resolve()
    assert folder in profile.chime_open.parents
    assert profile.fingerprint() != shipped.fingerprint()
    # Everything but the chimes is the shipped profile's.
    assert {**profile.fingerprint(), "chime_open": 0, "chime_close": 0} == {
        **shipped.fingerprint(),
        "chime_open": 0,
        "chime_close": 0,
    }
    assert frame_for(profile).opening.mp3 != frame_for(shipped).opening.mp3
    # Written atomically: the override and nothing else (no temporary file) in the folder.
    assert everything_in(settings.profiles_dir) == [customjingles.OVERRIDE_FILE]
    raw = yaml.safe_load((settings.profiles_dir / customjingles.OVERRIDE_FILE).read_text())
    assert raw[settings.audio_profile]["chime_open"] == "custom/chuong-hue.wav"
    [entry] = audits(session, "profile")
    assert entry.action == "set_chimes"
    assert json.loads(entry.before) == {
        "chime_open": "chime-open.wav",
        "chime_close": "chime-close.wav",
    }
    assert json.loads(entry.after) == {
        "chime_open": "custom/chuong-hue.wav",
        "chime_close": "custom/chuong-hue.wav",
    }
    # Without the custom folder, a profile naming an uploaded chime is a clear error.
    with pytest.raises(ProfileError, match="uploaded chime"):
        load_profiles(settings.profiles_dir)


def test_one_end_at_a_time_and_back_to_the_shipped_chimes(session, settings, admin, tmp_path):
    shipped = _profile(settings)
    source = sample("mp3", tmp_path / "in")
    opening = upload(session, settings, admin, source, name="mo dau")
    closing = upload(session, settings, admin, source, name="ket thuc")
    customjingles.use_jingle(
        session, settings=settings, name=opening.name, keys=["chime_open"], actor=admin
    )
    profile = _profile(settings)
    assert profile.chime_open == opening.path.resolve()
    assert profile.chime_close == (JINGLES_DIR / "chime-close.wav").resolve()
    customjingles.use_jingle(
        session, settings=settings, name=closing.name, keys=["chime_close"], actor=admin
    )
    profile = _profile(settings)
    assert (profile.chime_open, profile.chime_close) == (
        opening.path.resolve(),
        closing.path.resolve(),
    )
    assert customjingles.restore_default_chimes(session, settings=settings, actor=admin)
    session.commit()
    assert _profile(settings).fingerprint() == shipped.fingerprint()
    assert everything_in(settings.profiles_dir) == []
    assert not customjingles.restore_default_chimes(session, settings=settings, actor=admin)
    actions = [e.action for e in audits(session, "profile")]
    assert actions == ["set_chimes", "set_chimes", "reset_chimes"]


def test_a_chime_in_use_cannot_be_deleted(session, settings, admin, tmp_path):
    jingle = upload(session, settings, admin, sample("mp3", tmp_path / "in"))
    customjingles.use_jingle(
        session, settings=settings, name=jingle.name, keys=["chime_close"], actor=admin
    )
    with pytest.raises(JingleError) as info:
        customjingles.delete_jingle(session, settings=settings, name=jingle.name, actor=admin)
    assert info.value.reason == "in_use"
    assert info.value.details["profile"] == settings.audio_profile
    assert jingle.path.is_file()
    customjingles.restore_default_chimes(session, settings=settings, actor=admin)
    customjingles.delete_jingle(session, settings=settings, name=jingle.name, actor=admin)
    session.commit()
    assert everything_in(customjingles.custom_dir(settings)) == []
    entry = audits(session, "jingle")[-1]
    assert entry.action == "delete" and entry.after is None
    assert json.loads(entry.before)["file"] == "custom/chuong-hue.wav"
    with pytest.raises(JingleError) as info:
        customjingles.delete_jingle(session, settings=settings, name=jingle.name, actor=admin)
    assert info.value.reason == "not_found"


def test_a_provinces_own_profile_file_is_kept_and_the_chimes_still_win(
    session, settings, admin, tmp_path
):
    settings.profiles_dir.mkdir(parents=True)
    shipped_raw = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))[settings.audio_profile]
    (settings.profiles_dir / "hue.yaml").write_text(
        yaml.safe_dump({settings.audio_profile: {**shipped_raw, "target_lufs": -18}}),
        encoding="utf-8",
    )
    jingle = upload(session, settings, admin, sample("mp3", tmp_path / "in"))
    customjingles.use_jingle(
        session, settings=settings, name=jingle.name, keys=["chime_open"], actor=admin
    )
    profile = _profile(settings)
    assert profile.target_lufs == -18
    assert profile.chime_open == jingle.path.resolve()
    customjingles.restore_default_chimes(session, settings=settings, actor=admin)
    assert _profile(settings).target_lufs == -18
    assert everything_in(settings.profiles_dir) == ["hue.yaml"]


def test_a_custom_chime_must_stay_inside_its_folder(settings, tmp_path):
    custom = customjingles.custom_dir(settings)
    custom.mkdir(parents=True)
    (tmp_path / "outside.wav").write_bytes((JINGLES_DIR / "chime-open.wav").read_bytes())
    raw = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    for value in ("custom/../outside.wav", "custom//etc/passwd", "custom/missing.wav"):
        (tmp_path / "p").mkdir(exist_ok=True)
        (tmp_path / "p" / "x.yaml").write_text(
            yaml.safe_dump({"mine": {**raw["loa-truyen-thanh"], "chime_open": value}}),
            encoding="utf-8",
        )
        with pytest.raises(ProfileError, match="chime_open"):
            load_profiles(tmp_path / "p", custom_dir=custom)


def test_only_listed_files_are_found_by_name(session, settings, admin, tmp_path):
    upload(session, settings, admin, sample("mp3", tmp_path / "in"))
    assert customjingles.find_file(settings, "shipped", "chime-open.wav") is not None
    assert customjingles.find_file(settings, "custom", "chuong-hue.wav") is not None
    for source, filename in [
        ("custom", "../secret_key"),
        ("custom", "chime-open.wav"),
        ("shipped", "chuong-hue.wav"),
        ("shipped", "CHIME-OPEN.wav"),
        ("elsewhere", "chime-open.wav"),
        ("shipped", "../../../etc/passwd"),
    ]:
        assert customjingles.find_file(settings, source, filename) is None, filename


def test_the_listing_shows_length_loudness_and_use(session, settings, admin, tmp_path):
    upload(session, settings, admin, sample("mp3", tmp_path / "in"))
    listing = {j.reference: j for j in customjingles.list_jingles(settings)}
    assert set(listing) == {"chime-open.wav", "chime-close.wav", "custom/chuong-hue.wav"}
    shipped = listing["chime-open.wav"]
    assert shipped.duration_s == pytest.approx(2.44, abs=0.05)
    assert shipped.lufs == pytest.approx(-16, abs=1)
    assert (settings.audio_profile, "chime_open") in shipped.uses
    assert listing["custom/chuong-hue.wav"].uses == ()

"""The speech and render commands, run as a user would run them."""

import json
import socket
import threading
import time
import wave

from tests.helpers import measure_loudness, run_cli

LETTER = "Tính đến ngày 13/8/2020, có 183.620 thuê bao, đạt 16,27%."


def test_normalize_reads_the_2020_figures_as_an_announcer_would(settings):
    result = run_cli(settings, "normalize", input=LETTER + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "tính đến ngày mười ba tháng tám năm hai nghìn không trăm hai mươi, có một trăm tám "
        "mươi ba nghìn sáu trăm hai mươi thuê bao, đạt mười sáu phẩy hai mươi bảy phần trăm.\n"
    )


def test_normalize_writes_one_line_per_input_line(settings):
    lines = ["UBND xã thông báo", "", "Họp lúc 17h30", "   ", "Hotline 1900 9095"]
    result = run_cli(settings, "normalize", input="\n".join(lines) + "\n")
    assert result.returncode == 0
    assert len(result.stdout.split("\n")) - 1 == len(lines)


def test_normalize_applies_the_staff_lexicon_unless_told_not_to(settings, session):
    from broadcaster.speech.lexicon import save_entry

    save_entry(session=session, term="Kim Phụng", reading="Kim Phụn", actor=None)
    session.commit()
    with_lexicon = run_cli(settings, "normalize", "Núi Kim Phụng")
    without = run_cli(settings, "normalize", "--no-lexicon", "Núi Kim Phụng")
    assert with_lexicon.stdout.lower() == "núi kim phụn\n"
    assert without.stdout.lower() == "núi kim phụng\n"


def test_speak_writes_audible_vietnamese_offline(settings, tmp_path):
    out = tmp_path / "xin-chao.wav"
    result = run_cli(
        settings,
        "speak",
        "Xin chào bà con Phường Thuận An",
        "-o",
        str(out),
        "--engine",
        "espeak",
        "--voice",
        "central",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["engine"] == "espeak-ng" and report["voice"] == "vi-vn-x-central"
    with wave.open(str(out)) as wav:
        assert 1.0 < wav.getnframes() / wav.getframerate() < 6.0


def test_speak_falls_back_to_espeak_when_google_does_not_answer(settings, tmp_path):
    # A socket that accepts connections and never answers: gTTS must time out, then fall back.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    out = tmp_path / "a.mp3"
    started = time.monotonic()
    try:
        result = run_cli(
            settings,
            "speak",
            "Bà con chú ý",
            "-o",
            str(out),
            "--engine",
            "auto",
            BROADCASTER_GTTS_URL=f"https://127.0.0.1:{port}",
            BROADCASTER_GTTS_TIMEOUT="1",
            BROADCASTER_GTTS_RETRIES="0",
        )
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["engine"] == "espeak-ng" and report["fallback"] is True
    assert elapsed < 15
    assert out.stat().st_size > 1000


def test_speak_reports_a_bad_output_path_without_a_traceback(settings, tmp_path):
    result = run_cli(settings, "speak", "Xin chào", "-o", str(tmp_path / "x.ogg"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and ".wav or .mp3" in result.stderr


def test_render_prints_json_and_says_cached_the_second_time(settings, tmp_path):
    out = tmp_path / "a.mp3"
    first = run_cli(settings, "render", "--text", LETTER, "-o", str(out))
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert set(report) >= {
        "path",
        "duration_s",
        "lufs",
        "true_peak_db",
        "engine",
        "voice",
        "cached",
    }
    assert abs(report["lufs"] + 16) <= 1 and report["true_peak_db"] <= -1
    assert report["cached"] is False and report["path"] == str(out)
    lufs, peak = measure_loudness(out)
    assert abs(lufs + 16) <= 1 and peak <= -1
    second = run_cli(settings, "render", "--text", LETTER, "-o", str(out))
    assert json.loads(second.stdout)["cached"] is True


def test_render_refuses_an_unapproved_script_and_unknown_variables(settings, tmp_path):
    out = str(tmp_path / "b.mp3")
    draft = run_cli(settings, "render", "--script", "bluezone-nhac-nho-hang-ngay", "-o", out)
    assert draft.returncode == 1 and "no approved version" in draft.stderr
    unknown = run_cli(settings, "render", "--text", "Bà con {ten_ap}", "-o", out)
    assert unknown.returncode == 1 and "unknown variable {ten_ap}" in unknown.stderr
    assert not (tmp_path / "b.mp3").exists()


def test_render_fills_the_commune_name_per_station(settings, tmp_path):
    out = tmp_path / "c.mp3"
    result = run_cli(
        settings,
        "render",
        "--text",
        "Bà con {ten_xa} chú ý.",
        "--station",
        "HUE-THUAN-AN",
        "-o",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    other = run_cli(
        settings,
        "render",
        "--text",
        "Bà con {ten_xa} chú ý.",
        "--station",
        "HUE-A-LUOI-1",
        "-o",
        str(tmp_path / "d.mp3"),
    )
    assert json.loads(other.stdout)["sha256"] != json.loads(result.stdout)["sha256"]


def test_render_all_approved_renders_each_approved_script_once_then_hits_the_cache(settings):
    from sqlmodel import Session, select

    from broadcaster.core import db
    from broadcaster.core.models import Script, ScriptVersion, VersionStatus

    engine = db.make_engine(settings.database_url)
    with Session(engine) as session:
        for slug in ("bluezone-nhac-nho-hang-ngay", "bluezone-so-lieu-cua-tinh"):
            script = session.exec(select(Script).where(Script.slug == slug)).one()
            version = session.exec(
                select(ScriptVersion).where(ScriptVersion.script_id == script.id)
            ).one()
            version.status = VersionStatus.APPROVED
            session.add(version)
        session.commit()
    engine.dispose()
    first = run_cli(settings, "render", "--all-approved")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"rendered": 2, "cached": 0, "failed": 0, "total": 2}
    assert "Rendering" in first.stderr  # the progress bar
    again = run_cli(settings, "render", "--all-approved")
    assert json.loads(again.stdout)["cached"] == 2
    gc = run_cli(settings, "audio", "gc")
    assert gc.returncode == 0 and gc.stdout.strip() == "removed 0 files"


def test_command_mistakes_are_errors_not_tracebacks(settings, tmp_path):
    missing = tmp_path / "no-such-folder"
    cases = [
        ("render", "--text", "Xin chào", "-o", str(missing / "a.mp3")),
        ("speak", "Xin chào", "-o", str(missing / "a.wav")),
        ("render", "--script", "99999999999999999999", "-o", str(tmp_path / "b.mp3")),
        ("render", "--script", "²", "-o", str(tmp_path / "b.mp3")),
    ]
    for args in cases:
        result = run_cli(settings, *args)
        assert result.returncode != 0, args
        assert result.stderr.startswith("Error:") or "Error:" in result.stderr, args
        assert "Traceback" not in result.stderr, args


def test_render_warms_the_very_file_the_air_plays_for_a_version_with_its_own_profile(
    settings, session, tmp_path
):
    from datetime import UTC, datetime

    from sqlmodel import select

    from broadcaster.core.models import (
        AudioFile,
        Occurrence,
        Script,
        ScriptVersion,
        Station,
        User,
        VersionStatus,
    )
    from broadcaster.onair.occurrences import render_occurrence
    from broadcaster.onair.schedules import ScheduleInput, save_schedule

    slug = "bluezone-nhac-nho-hang-ngay"
    script = session.exec(select(Script).where(Script.slug == slug)).one()
    version = session.exec(select(ScriptVersion).where(ScriptVersion.script_id == script.id)).one()
    version.status = VersionStatus.APPROVED
    version.profile = "loa-khong-chuong"  # not the deployment's default, loa-truyen-thanh
    session.add(version)
    session.commit()

    warmed = run_cli(settings, "render", "--all-approved")
    assert warmed.returncode == 0, warmed.stderr
    assert json.loads(warmed.stdout)["rendered"] == 1
    out = tmp_path / "v.mp3"
    single = run_cli(settings, "render", "--script", slug, "-o", str(out))
    assert single.returncode == 0, single.stderr
    assert json.loads(single.stdout)["cached"] is True
    session.expire_all()
    keys_warmed = set(session.exec(select(AudioFile.key)))

    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    editor = session.exec(select(User).where(User.username == "editor")).one()
    schedule = save_schedule(
        session=session,
        data=ScheduleInput(
            name="own profile",
            script=script,
            kind="weekly",
            weekdays=[0],
            times=["06:00"],
            station_ids=[station.id],
        ),
        actor=editor,
    )
    occurrence = Occurrence(
        schedule_id=schedule.id,
        station_id=station.id,
        at=datetime(2026, 11, 29, 23, 0, tzinfo=UTC),
        priority=schedule.priority,
        version_id=version.id,
    )
    session.add(occurrence)
    session.flush()
    on_air = render_occurrence(session, settings, occurrence)
    assert on_air.profile == "loa-khong-chuong"
    assert on_air.key in keys_warmed
    assert json.loads(single.stdout)["sha256"] == on_air.sha256


def test_normalize_strict_fails_naming_what_it_cannot_read(settings):
    text = "Bà con ✈ gọi 你好 ngay\nTrời mưa\x07 to"
    result = run_cli(settings, "normalize", "--strict", input=text + "\n")
    assert result.returncode == 1
    assert result.stdout == "bà con gọi ngay\ntrời mưa to\n"
    errors = result.stderr.splitlines()
    assert errors == [
        "error: cannot read '✈' at 1:8; left out",
        "error: cannot read '你好' at 1:14; left out",
        "error: cannot read 'U+0007' at 2:9; left out",
    ]


def test_normalize_without_strict_warns_and_succeeds(settings):
    result = run_cli(settings, "normalize", "--no-lexicon", "Giá 😀 tăng")
    assert result.returncode == 0
    assert result.stdout == "giá tăng\n"
    assert "warning: cannot read '😀' at 1:5" in result.stderr


def test_normalize_strict_passes_a_text_it_reads_whole(settings):
    text = "Cài app Zalo, quét mã QR #1, giá 10$ & phí 2‰."
    result = run_cli(settings, "normalize", "--strict", text)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "cài áp da lô, quét mã kiu a số một, giá mười đô la mỹ và phí hai phần nghìn.\n"
    )

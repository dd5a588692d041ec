import re

import pytest

from broadcaster.onair.reasons import reason_vi


def test_stored_reasons_read_in_vietnamese_with_their_detail():
    assert reason_vi("no operator confirmed playing it within the grace window") == (
        "Không có người vận hành xác nhận đã phát trong thời gian cho phép"
    )
    assert reason_vi("no audio: ffmpeg failed") == "Không có âm thanh để phát: ffmpeg failed"
    assert reason_vi("ffplay failed: no sound card") == "ffplay failed: no sound card"


def test_what_a_restarted_scheduler_did_with_a_play_reads_in_vietnamese(settings, session):
    """The "released" events of the event log, as release_abandoned writes them."""
    from datetime import UTC, datetime, timedelta

    from sqlmodel import select

    from broadcaster.core.models import Occurrence, OccurrenceStatus, PlayEvent
    from broadcaster.onair import occurrences as onair
    from tests.onair.test_occurrences import approved_script, station, weekly

    weekly(session, approved_script(session), ["HUE-PHU-XUAN"], list(range(7)), ["06:00", "06:01"])
    slot = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    onair.materialize(session, now=slot - timedelta(hours=1), hours=2)
    claimed, held = session.exec(select(Occurrence).order_by(Occurrence.at)).all()
    claimed.status, held.status = OccurrenceStatus.DISPATCHED, OccurrenceStatus.PLAYING
    session.add_all([claimed, held])
    session.commit()
    local = [station(session, "HUE-PHU-XUAN").id]
    onair.release_abandoned(session, now=slot, station_ids=local, released=set())
    session.commit()
    details = [e.detail for e in session.exec(select(PlayEvent).order_by(PlayEvent.id))]
    assert [reason_vi(d) for d in details] == [
        "Bộ lập lịch đã dừng trước khi phát; bài được đưa lại vào lượt phát",
        "Bộ lập lịch đã dừng ngay trước giờ phát, khi chưa phát ra tiếng; "
        "bài được đưa lại vào lượt phát",
    ]


def test_a_relays_summary_and_reasons_read_in_vietnamese():
    from broadcaster.onair.relay import Tally
    from broadcaster.onair.relaycues import NOT_APPROVED

    summary = Tally(slot_s=1800, relayed_s=1734.4, drops=2, fallback_s=40).summary()
    assert reason_vi(summary) == (
        "Đã tiếp sóng 1734 giây trong 1800 giây, mất sóng 2 lần, phát bản tin dự phòng 40 giây"
    )
    assert reason_vi(f"no stream: {Tally(slot_s=600).summary()}") == (
        "Không có sóng: đã tiếp sóng 0 giây trong 600 giây, mất sóng 0 lần"
    )
    assert reason_vi(NOT_APPROVED).startswith("Không tiếp sóng: luồng phát chưa được duyệt")
    assert reason_vi("the stream dropped: Connection reset by peer; retrying") == (
        "Mất sóng (Connection reset by peer); đang kết nối lại"
    )


def test_a_play_stopped_before_its_time_is_not_read_as_a_late_one():
    assert reason_vi("not played: playout was shut down before its time") == (
        "Không phát: trình phát đã tắt trước giờ phát"
    )
    assert reason_vi("not played: 95 s past its time, beyond the 1 min grace window").startswith(
        "Máy phát của đài nhận bài quá muộn"
    )


def test_what_a_stream_check_heard_reads_in_vietnamese(icecast):
    from broadcaster.audio.streamcheck import check_stream
    from broadcaster.onair.reasons import stream_check_vi

    heard = check_stream(icecast.feed("/vov1.mp3").url, seconds=1)
    text = stream_check_vi(heard.detail)
    assert re.fullmatch(r"[\d.]+ giây âm thanh mp3, 64 kb/s", text), text
    assert stream_check_vi("aac, 2.0 s decoded") == "2.0 giây âm thanh aac"
    assert stream_check_vi("") == ""


def test_why_a_stream_check_heard_nothing_reads_in_vietnamese_with_ffmpegs_words(tmp_path):
    from broadcaster.audio.streamcheck import StreamCheckError, check_stream
    from broadcaster.onair.reasons import stream_check_vi
    from tests._icecast import serving_folder
    from tests.helpers import free_port

    def refusal(url):
        # As onair.streams stores it: the refusal's English message.
        with pytest.raises(StreamCheckError) as refused:
            check_stream(url, seconds=1, timeout_s=2)
        return str(refused.value)

    nobody = refusal(f"http://127.0.0.1:{free_port()}/x.mp3")
    text = stream_check_vi(nobody)
    assert text.startswith("Không kết nối được tới luồng (lỗi kỹ thuật: ")
    assert "Connection refused" in text and "cannot connect" not in text
    (tmp_path / "index.html").write_text("<html><body>Đài phát thanh</body></html>")
    with serving_folder(tmp_path) as base:
        page = refusal(f"{base}/index.html")
    assert stream_check_vi(page).startswith("Địa chỉ này không phát âm thanh (lỗi kỹ thuật: ")
    assert stream_check_vi(refusal("vov1")) == (
        "Địa chỉ luồng phải là một URL bắt đầu bằng http:// hoặc https://"
    )
    assert stream_check_vi("the stream stopped after 0.4 s of audio: no answer") == (
        "Luồng bị ngắt sau 0.4 giây âm thanh (lỗi kỹ thuật: không có thông báo lỗi)"
    )
    assert stream_check_vi("the stream's audio is opus; stations relay MP3 or AAC") == (
        "Luồng dùng định dạng âm thanh opus; hệ thống chỉ tiếp sóng MP3 hoặc AAC"
    )


def test_a_stream_check_nobody_foresaw_is_shown_after_a_vietnamese_lead_in():
    from broadcaster.onair.reasons import stream_check_vi

    assert stream_check_vi("[tls @ 0x5581] error:0A000086:SSL routines") == (
        "Chi tiết kỹ thuật: [tls @ 0x5581] error:0A000086:SSL routines"
    )


def test_what_an_agent_reports_for_a_command_reads_in_vietnamese():
    from datetime import UTC, datetime

    from broadcaster.onair.reasons import command_result_vi
    from broadcaster.stations.agent.amplifier import Amplifier, Mixer, run_hook

    # The agent's own words, from the code that says them.
    amplifier = Amplifier(
        upcoming=lambda: None, busy=lambda: False, clock=lambda: datetime.now(UTC)
    )
    assert command_result_vi(amplifier.switch(True, why="test", manual=True)) == (
        "Máy phát chưa được cấu hình lệnh bật loa"
    )
    assert command_result_vi(run_hook("echo relay stuck >&2; exit 3", 5)) == (
        "Lệnh điều khiển loa 'echo relay stuck >&2; exit 3' báo lỗi 3 (lỗi kỹ thuật: relay stuck)"
    )
    assert command_result_vi(run_hook("exit 2", 5)) == (
        "Lệnh điều khiển loa 'exit 2' báo lỗi 2 (lỗi kỹ thuật: không có thông báo lỗi)"
    )
    assert command_result_vi(run_hook("sleep 5", 0.2)) == (
        "Lệnh điều khiển loa 'sleep 5' chạy quá 0.2 giây nên đã bị dừng"
    )
    mixer = Mixer(control="Không có")
    assert command_result_vi(mixer.set(40)) == (
        "Máy không có bộ trộn âm (mixer) 'Không có': không chỉnh được âm lượng từ xa"
    )
    for result, text in (
        ("volume 55%", "Đã đặt âm lượng 55%"),
        ("amplifier off", "Đã tắt loa"),
        ("restarting (the item on air did not end)", "Đang khởi động lại máy phát (bản tin"),
        ("sync: the agent stopped before it was done", "Máy phát đã dừng trước khi"),
        ("set_volume needs a percent from 0 to 100", "Âm lượng phải từ 0 đến 100 phần trăm"),
        ("amixer exited 1: ", "Lệnh chỉnh âm lượng amixer báo lỗi 1 (lỗi kỹ thuật: không có"),
        ("unknown command 'reboot'", "Máy phát không biết lệnh 'reboot'"),
        (
            "test tone interrupted: interrupted by an emergency broadcast",
            "Âm thử bị ngắt: Bị ngắt để phát tin khẩn cấp",
        ),
    ):
        assert command_result_vi(result).startswith(text), result
    assert command_result_vi("") == ""
    assert command_result_vi("flashed firmware 2.1") == "Chi tiết kỹ thuật: flashed firmware 2.1"

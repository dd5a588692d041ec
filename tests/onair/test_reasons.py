from broadcaster.onair.reasons import reason_vi


def test_stored_reasons_read_in_vietnamese_with_their_detail():
    assert reason_vi("no operator confirmed playing it within the grace window") == (
        "Không có người vận hành xác nhận đã phát trong thời gian cho phép"
    )
    assert reason_vi("no audio: ffmpeg failed") == "Không có âm thanh để phát: ffmpeg failed"
    assert reason_vi("ffplay failed: no sound card") == "ffplay failed: no sound card"


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

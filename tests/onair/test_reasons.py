from broadcaster.onair.reasons import reason_vi


def test_stored_reasons_read_in_vietnamese_with_their_detail():
    assert reason_vi("no operator confirmed playing it within the grace window") == (
        "Không có người vận hành xác nhận đã phát trong thời gian cho phép"
    )
    assert reason_vi("no audio: ffmpeg failed") == "Không có âm thanh để phát: ffmpeg failed"
    assert reason_vi("ffplay failed: no sound card") == "ffplay failed: no sound card"

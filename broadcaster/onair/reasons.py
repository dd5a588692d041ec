"""Why a play did not happen, in the words the province reads.

Reasons are stored in English (the log's and the API's language) and shown in Vietnamese
in every report, export, e-mail and page. This is the one place that says how.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a Vietnamese string for the web's catalog (extracted with `-k N_`)."""
    return message


# Stored reason (its beginning) -> Vietnamese; the web translates these to English too.
REASONS: dict[str, str] = {
    "not started within the grace window": N_(
        "Không bắt đầu phát trong thời gian cho phép (bộ lập lịch có đang chạy không?)"
    ),
    "no operator confirmed playing it within the grace window": N_(
        "Không có người vận hành xác nhận đã phát trong thời gian cho phép"
    ),
    "the station reported no play within the grace window": N_(
        "Đài không báo đã phát trong thời gian cho phép"
    ),
    "interrupted by an emergency broadcast": N_("Bị ngắt để phát tin khẩn cấp"),
    "cut short: the player was shut down": N_("Bị cắt ngang vì trình phát đã tắt"),
    "cut short: the scheduler stopped during the play": N_(
        "Bị cắt ngang vì bộ lập lịch đã dừng khi đang phát"
    ),
    "cut short: the agent stopped during the play": N_(
        "Bị cắt ngang vì máy phát của đài đã dừng khi đang phát"
    ),
    "not played:": N_("Máy phát của đài nhận bài quá muộn, đã quá thời gian cho phép"),
    "no audio": N_("Không có âm thanh để phát"),
}


def reason_vi(reason: str, translate=lambda message: message) -> str:
    """The Vietnamese (or, through `translate`, the UI language's) reading of a reason.

    Free text from elsewhere (a player's error message) is returned as it is.
    """
    for beginning, message in REASONS.items():
        if reason.startswith(beginning):
            detail = reason[len(beginning) :].lstrip(":; ")
            text = translate(message)
            return f"{text}: {detail}" if detail and beginning == "no audio" else text
    return reason

"""Why a play did not happen, in the words the province reads.

Reasons are stored in English (the log's and the API's language) and shown in Vietnamese
in every report, export, e-mail and page. This is the one place that says how.
"""

from __future__ import annotations

import re


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
    # A restarted scheduler opening a play again (onair.misses.release_abandoned).
    "claimed by a scheduler that stopped before playing it": N_(
        "Bộ lập lịch đã dừng trước khi phát; bài được đưa lại vào lượt phát"
    ),
    "prepared by a scheduler that stopped before its sound": N_(
        "Bộ lập lịch đã dừng ngay trước giờ phát, khi chưa phát ra tiếng; "
        "bài được đưa lại vào lượt phát"
    ),
    "cut short: the player was shut down": N_("Bị cắt ngang vì trình phát đã tắt"),
    "cut short: the scheduler stopped during the play": N_(
        "Bị cắt ngang vì bộ lập lịch đã dừng khi đang phát"
    ),
    "cut short: the agent stopped during the play": N_(
        "Bị cắt ngang vì máy phát của đài đã dừng khi đang phát"
    ),
    # Before "not played:", which it begins with: this one was never late, the player
    # stopped before its time came.
    "not played: playout was shut down before its time": N_(
        "Không phát: trình phát đã tắt trước giờ phát"
    ),
    "not played:": N_("Máy phát của đài nhận bài quá muộn, đã quá thời gian cho phép"),
    "no audio": N_("Không có âm thanh để phát"),
    "not relayed: the stream is not approved": N_(
        "Không tiếp sóng: luồng phát chưa được duyệt hoặc đã ngừng sử dụng"
    ),
}


def reason_vi(reason: str, translate=lambda message: message) -> str:
    """The Vietnamese (or, through `translate`, the UI language's) reading of a reason.

    Free text from elsewhere (a player's error message) is returned as it is.
    """
    relay = relay_detail_vi(reason, translate)
    if relay is not None:
        return relay
    for beginning, message in REASONS.items():
        if reason.startswith(beginning):
            detail = reason[len(beginning) :].lstrip(":; ")
            text = translate(message)
            return f"{text}: {detail}" if detail and beginning == "no audio" else text
    return reason


# What a relay reports (onair.relay, onair.playout), read into Vietnamese. Each pattern
# matches a whole detail; a summary inside one is read by SUMMARY in turn.
SUMMARY = re.compile(
    r"relayed (?P<relayed>\d+) s of (?P<slot>\d+) s, (?P<drops>\d+) drops?"
    r"(?:, fallback (?P<fallback>\d+) s)?$"
)
RELAY_DETAILS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"relay of (?P<name>.+)$"), N_("Tiếp sóng %(name)s")),
    (re.compile(r"connected to (?P<url>.+)$"), N_("Đã kết nối tới %(url)s")),
    (
        re.compile(r"the stream dropped: (?P<why>.+); retrying$"),
        N_("Mất sóng (%(why)s); đang kết nối lại"),
    ),
    (
        re.compile(r"the stream did not answer: (?P<why>.+); retrying$"),
        N_("Luồng phát không trả lời (%(why)s); đang kết nối lại"),
    ),
    (
        re.compile(r"the stream is back after (?P<seconds>\d+) s \((?P<attempts>\d+) attempts?\)$"),
        N_("Có sóng trở lại sau %(seconds)s giây (%(attempts)s lần thử)"),
    ),
    (
        re.compile(r"playing the fallback bulletin until the stream is back$"),
        N_("Phát bản tin dự phòng cho đến khi có sóng trở lại"),
    ),
    (
        re.compile(r"silence: no fallback bulletin for this relay$"),
        N_("Im lặng: buổi tiếp sóng này không có bản tin dự phòng"),
    ),
    (
        re.compile(r"silence: the fallback bulletin is not in the cache \((?P<name>.+)\)$"),
        N_("Im lặng: bản tin dự phòng chưa có trong bộ nhớ đệm (%(name)s)"),
    ),
    (
        re.compile(r"paused for a broadcast of higher priority; (?P<summary>.+)$"),
        N_("Tạm dừng để phát bản tin ưu tiên hơn; %(summary)s"),
    ),
    (
        re.compile(r"resumes for the last (?P<seconds>\d+) s of its slot$"),
        N_("Tiếp sóng lại trong %(seconds)s giây còn lại của khung giờ"),
    ),
    (
        re.compile(r"the agent stopped during the relay; it resumes for the rest of its slot$"),
        N_("Máy phát của đài dừng khi đang tiếp sóng; tiếp sóng lại đến hết khung giờ"),
    ),
    (re.compile(r"no stream: (?P<summary>.+)$"), N_("Không có sóng: %(summary)s")),
    (
        re.compile(r"relay failed: (?P<why>.+); (?P<summary>relayed .+)$"),
        N_("Lỗi tiếp sóng (%(why)s); %(summary)s"),
    ),
    (
        re.compile(r"cut short: the player was shut down; (?P<summary>.+)$"),
        N_("Bị cắt ngang vì trình phát đã tắt; %(summary)s"),
    ),
]


# Why a stream dropped, in the relay's own words; ffmpeg's messages stay as they are.
WHY: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"the stream ended$"), N_("luồng phát đã kết thúc")),
    (
        re.compile(r"no audio for (?P<seconds>[\d.]+) s$"),
        N_("không có âm thanh trong %(seconds)s giây"),
    ),
    (
        re.compile(r"no audio within (?P<seconds>[\d.]+) s of connecting$"),
        N_("không có âm thanh sau %(seconds)s giây kết nối"),
    ),
    (re.compile(r"ffmpeg stopped$"), N_("ffmpeg đã dừng")),
]


def _why_vi(why: str, translate) -> str:
    for pattern, message in WHY:
        found = pattern.match(why)
        if found:
            return translate(message) % found.groupdict()
    return why


def relay_detail_vi(detail: str, translate=lambda message: message) -> str | None:
    """A relay's event detail in Vietnamese (or the UI's language), None if it is not one."""
    summary = _summary_vi(detail, translate)
    if summary is not None:
        return summary[:1].upper() + summary[1:]
    return _read(RELAY_DETAILS, detail, translate)


def _summary_vi(text: str, translate) -> str | None:
    found = SUMMARY.match(text)
    if found is None:
        return None
    values = found.groupdict()
    words = translate(
        N_("đã tiếp sóng %(relayed)s giây trong %(slot)s giây, mất sóng %(drops)s lần")
    )
    words %= values
    if values["fallback"]:
        words += translate(N_(", phát bản tin dự phòng %(fallback)s giây")) % values
    return words


# Shown before text no pattern below reads: a technician still sees what was said.
TECHNICAL = N_("Chi tiết kỹ thuật: %(detail)s")
# What a quoted ffmpeg or hook message reads as when there was none ("no answer" is
# audio.streamcheck's word for an ffmpeg that printed nothing).
_SILENT = ("", "no answer")


def _read(table: list[tuple[re.Pattern[str], str]], text: str, translate) -> str | None:
    """The first pattern of `table` matching all of `text`, filled in; None if none does.

    Groups by name: `detail` is raw technical text (ffmpeg's last line, a hook's stderr),
    kept as it is or said to be missing; `summary` a relay's tally and `why` a relay's
    cause, both read in turn."""
    for pattern, message in table:
        found = pattern.match(text)
        if found is None:
            continue
        values = found.groupdict()
        if "detail" in values and (values["detail"] or "").strip() in _SILENT:
            values["detail"] = translate(N_("không có thông báo lỗi"))
        if "summary" in values:
            values["summary"] = _summary_vi(values["summary"], translate) or values["summary"]
        if "why" in values:
            values["why"] = _why_vi(values["why"], translate)
        return translate(message) % values
    return None


# What audio.streamcheck says it heard, or why it heard nothing (StreamCheckError's
# message, which onair.streams stores as it is). What was heard follows "nghe được"
# ("heard") on the page and in the message, so it does not say it again.
STREAM_CHECKS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"(?P<codec>\w+), (?P<bitrate>\d+) kb/s, (?P<seconds>[\d.]+) s decoded$"),
        N_("%(seconds)s giây âm thanh %(codec)s, %(bitrate)s kb/s"),
    ),
    (
        re.compile(r"(?P<codec>\w+), (?P<seconds>[\d.]+) s decoded$"),
        N_("%(seconds)s giây âm thanh %(codec)s"),
    ),
    (
        re.compile(r"the stream address must be an http:// or https:// URL$"),
        N_("Địa chỉ luồng phải là một URL bắt đầu bằng http:// hoặc https://"),
    ),
    (
        re.compile(r"ffmpeg is not installed$"),
        N_("Máy chủ chưa kiểm tra được luồng (thiếu ffmpeg)"),
    ),
    (
        re.compile(r"no audio within (?P<seconds>\d+) s: the stream stalls$"),
        N_("Không có âm thanh sau %(seconds)s giây: luồng bị treo"),
    ),
    (
        re.compile(r"cannot connect to the stream: (?P<detail>.*)$", re.DOTALL),
        N_("Không kết nối được tới luồng (lỗi kỹ thuật: %(detail)s)"),
    ),
    (
        re.compile(r"the address does not serve audio: (?P<detail>.*)$", re.DOTALL),
        N_("Địa chỉ này không phát âm thanh (lỗi kỹ thuật: %(detail)s)"),
    ),
    (
        re.compile(r"the HLS playlist carries no audio$"),
        N_("Danh sách phát HLS này không có âm thanh"),
    ),
    (re.compile(r"the stream carries no audio$"), N_("Luồng không có âm thanh")),
    (
        re.compile(r"the stream's audio is (?P<codec>\S+); stations relay MP3 or AAC$"),
        N_("Luồng dùng định dạng âm thanh %(codec)s; hệ thống chỉ tiếp sóng MP3 hoặc AAC"),
    ),
    (
        re.compile(
            r"the stream stopped after (?P<seconds>[\d.]+) s of audio: (?P<detail>.*)$", re.DOTALL
        ),
        N_("Luồng bị ngắt sau %(seconds)s giây âm thanh (lỗi kỹ thuật: %(detail)s)"),
    ),
]


def stream_check_vi(detail: str, translate=lambda message: message) -> str:
    """A stream check's stored detail in Vietnamese (or the UI's language); "" for none.

    Unknown text (an older check, a new ffmpeg) is shown after a lead-in, not dropped."""
    detail = (detail or "").strip()
    if not detail:
        return ""
    read = _read(STREAM_CHECKS, detail, translate)
    return read if read is not None else translate(TECHNICAL) % {"detail": detail}


# A quoted operator's hook (stations.agent.amplifier.run_hook quotes it with repr()).
_HOOK = r"(?P<command>'.*?'|\".*?\")"

# What a station's agent reports doing with a command (stations.agent.commands, its
# amplifier and mixer), and why the server gave up on one (stations.commands).
COMMAND_RESULTS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"not picked up in time$"),
        N_("Máy phát không nhận lệnh trong thời gian cho phép"),
    ),
    (
        re.compile(r"\w+: the agent stopped before it was done$"),
        N_("Máy phát đã dừng trước khi thực hiện xong lệnh"),
    ),
    (
        re.compile(r"unexpected: (?P<detail>.*)$", re.DOTALL),
        N_("Lỗi không lường trước trong máy phát (lỗi kỹ thuật: %(detail)s)"),
    ),
    (re.compile(r"set_volume needs a whole percent$"), N_("Âm lượng phải là số nguyên phần trăm")),
    (
        re.compile(r"set_volume needs a percent from 0 to 100$"),
        N_("Âm lượng phải từ 0 đến 100 phần trăm"),
    ),
    (
        re.compile(r"no mixer: this machine has no ALSA control (?P<control>.+)$"),
        N_("Máy không có bộ trộn âm (mixer) %(control)s: không chỉnh được âm lượng từ xa"),
    ),
    (
        re.compile(r"volume (?P<percent>\d+)% from the next normal item$"),
        N_("Đã đặt âm lượng %(percent)s%%, áp dụng từ bản tin thường kế tiếp"),
    ),
    (re.compile(r"volume (?P<percent>\d+)%$"), N_("Đã đặt âm lượng %(percent)s%%")),
    (
        re.compile(r"amixer failed: (?P<detail>.*)$", re.DOTALL),
        N_("Không chạy được lệnh chỉnh âm lượng amixer (lỗi kỹ thuật: %(detail)s)"),
    ),
    (
        re.compile(r"amixer exited (?P<code>-?\d+):? ?(?P<detail>.*)$", re.DOTALL),
        N_("Lệnh chỉnh âm lượng amixer báo lỗi %(code)s (lỗi kỹ thuật: %(detail)s)"),
    ),
    (
        re.compile(r"amplifier needs on: true or false$"),
        N_("Lệnh bật/tắt loa không nói rõ bật hay tắt"),
    ),
    (
        re.compile(r"no amplifier on command is configured$"),
        N_("Máy phát chưa được cấu hình lệnh bật loa"),
    ),
    (
        re.compile(r"no amplifier off command is configured$"),
        N_("Máy phát chưa được cấu hình lệnh tắt loa"),
    ),
    (
        re.compile(_HOOK + r" did not finish within (?P<seconds>\S+) s$", re.DOTALL),
        N_("Lệnh điều khiển loa %(command)s chạy quá %(seconds)s giây nên đã bị dừng"),
    ),
    (
        re.compile(_HOOK + r" could not start: (?P<detail>.*)$", re.DOTALL),
        N_("Không chạy được lệnh điều khiển loa %(command)s (lỗi kỹ thuật: %(detail)s)"),
    ),
    (
        re.compile(_HOOK + r" exited (?P<code>-?\d+)(?:: (?P<detail>.*))?$", re.DOTALL),
        N_("Lệnh điều khiển loa %(command)s báo lỗi %(code)s (lỗi kỹ thuật: %(detail)s)"),
    ),
    (re.compile(r"amplifier on$"), N_("Đã bật loa")),
    (re.compile(r"amplifier off$"), N_("Đã tắt loa")),
    (
        re.compile(r"manifest synced: (?P<count>\d+) plays?$"),
        N_("Đã đồng bộ lịch phát: %(count)s lượt phát"),
    ),
    (
        re.compile(r"the manifest could not be fetched$"),
        N_("Không tải được lịch phát từ máy chủ"),
    ),
    (re.compile(r"restarting$"), N_("Đang khởi động lại máy phát")),
    (
        re.compile(r"restarting \(the item on air did not end\)$"),
        N_("Đang khởi động lại máy phát (bản tin đang phát chưa kết thúc sau thời gian chờ)"),
    ),
    (re.compile(r"unknown command (?P<kind>.+)$"), N_("Máy phát không biết lệnh %(kind)s")),
    (re.compile(r"test tone played$"), N_("Đã phát âm thử")),
    (
        re.compile(r"test tone failed: (?P<detail>.*)$", re.DOTALL),
        N_("Không phát được âm thử (lỗi kỹ thuật: %(detail)s)"),
    ),
]
_TONE_INTERRUPTED = re.compile(r"test tone interrupted: (?P<why>.*)$", re.DOTALL)


def command_result_vi(result: str, translate=lambda message: message) -> str:
    """A command's stored result in Vietnamese (or the UI's language); "" for none.

    Unknown text (another agent version, a hook's own words) is shown after a lead-in."""
    result = (result or "").strip()
    if not result:
        return ""
    read = _read(COMMAND_RESULTS, result, translate)
    if read is not None:
        return read
    interrupted = _TONE_INTERRUPTED.match(result)
    if interrupted is not None:
        # Why it was cut is the queue's own reason (an emergency, a shutdown): read as a play's.
        why = reason_vi(interrupted.group("why"), translate)
        return translate(N_("Âm thử bị ngắt: %(why)s")) % {"why": why}
    return translate(TECHNICAL) % {"detail": result}

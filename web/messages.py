"""The one place where a core refusal (a `BroadcasterError`) becomes a Vietnamese sentence.

The core raises English messages for the CLI, each with a stable `code` and the `details` that
fill it. Blueprints call `message_for(error)`; they never read the English text, so rewording a
CLI message cannot change what the web shows. A code with no entry here gets a generic
Vietnamese sentence and nothing English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from broadcaster.audio import customjingles
from broadcaster.core.errors import BroadcasterError

_BAD_TIME = _l("Giờ không hợp lệ: “%(time)s”. Hãy viết theo dạng 06:00, 17:00.")
_LEXICON_FIELDS = _l("Vui lòng nhập cả từ và cách đọc (từ tối đa 64, cách đọc tối đa 200 ký tự).")
_NOT_AUDIO = _l(
    "Tệp này không phải âm thanh đọc được. Hệ thống kiểm tra nội dung tệp, "
    "không dựa vào tên hay đuôi tệp."
)
_NOT_ALLOWED = _l("Tài khoản của bạn không được phép thực hiện thao tác này.")

MESSAGES: dict[str, Any] = {
    # Scripts and their versions (newsroom.workflow, newsroom.templating).
    "awaiting_review": _l("Phiên bản đang chờ duyệt; hãy rút lại trước khi sửa."),
    "unknown_variable": _l("Biến không hợp lệ: %(variables)s"),
    "not_a_variable": _l("Dấu ngoặc nhọn chỉ dùng cho biến, ví dụ {ten_xa}."),
    "unpaired_brace": _l("Thiếu dấu ngoặc nhọn đóng hoặc mở, ví dụ {ten_xa}."),
    "empty_text": _l("Nội dung đang trống."),
    "empty_title": _l("Tiêu đề đang trống."),
    "self_approval": _l("Bạn là người viết phiên bản này; cần một người khác duyệt."),
    "comment_required": _l("Vui lòng ghi nhận xét để người viết biết cần sửa gì."),
    "wrong_status": _l("Thao tác không phù hợp với trạng thái hiện tại của phiên bản."),
    "not_latest": _l("Chỉ thao tác được trên phiên bản mới nhất."),
    "not_allowed": _NOT_ALLOWED,
    "unknown_voice": _l("Giọng đọc không hợp lệ; hãy chọn giọng miền Bắc, Trung hoặc Nam."),
    "bad_version_repeat": _l("Số lần đọc phải từ 1 đến 5."),
    "bad_speed": _l("Tốc độ đọc phải từ 0,5 đến 2,0."),
    "unknown_engine": _l("Bộ đọc không hợp lệ; hãy chọn một bộ đọc trong danh sách."),
    "title_too_long": _l("Tiêu đề dài quá 200 ký tự."),
    "bad_speech_request": _l("Không đọc thử được: nội dung, giọng hoặc tốc độ đọc không hợp lệ."),
    "unknown_role": _l("Vai trò không hợp lệ; hãy chọn một vai trò trong danh sách."),
    # Stations and areas (stations.registry, core.areas).
    "bad_station_code": _l("Mã đài gồm 2–32 ký tự: chữ in hoa không dấu, số hoặc '-'."),
    "station_exists": _l("Đã có đài mang mã %(station)s."),
    "not_a_commune": _l("%(area)s không phải là xã hoặc phường."),
    "unknown_mode": _l(
        "Cách phát không hợp lệ; hãy chọn đầu thu tự động, tải thủ công hoặc phát tại chỗ."
    ),
    "unknown_timezone": _l("Múi giờ “%(timezone)s” không tồn tại."),
    "unknown_province": _l("Không có tỉnh, thành phố nào tên “%(name)s”."),
    "unknown_area": _l("Không có khu vực nào tên “%(name)s”."),
    "ambiguous_area": _l("Có nhiều khu vực cùng tên này; hãy dùng mã khu vực."),
    "not_in_province": _l("Có xã, phường không thuộc tỉnh đã chọn."),
    "province_not_imported": _l("Tỉnh này chưa được nhập danh sách xã, phường."),
    # Users (newsroom.users).
    "username_taken": _l("Tên đăng nhập này đã có người dùng."),
    "bad_username": _l(
        "Tên đăng nhập gồm 2–64 ký tự: chữ thường không dấu, số, '.', '_' hoặc '-'."
    ),
    "last_admin": _l("Đây là quản trị viên cuối cùng; hãy tạo quản trị viên khác trước."),
    "wrong_password": _l("Mật khẩu hiện tại không đúng."),
    "same_password": _l("Mật khẩu mới phải khác mật khẩu hiện tại."),
    "password_too_short": _l("Mật khẩu cần ít nhất %(n)d ký tự."),
    # Lexicon (speech.lexicon).
    "duplicate_term": _l("“%(term)s” đã có trong từ điển. Hãy sửa mục đã có."),
    "entry_gone": _l("Mục này không còn tồn tại."),
    "control_characters": _l("Nội dung có ký tự không hợp lệ."),
    "empty_field": _LEXICON_FIELDS,
    "field_too_long": _LEXICON_FIELDS,
    # Schedules (onair.schedules, onair.recurrence).
    "bad_time": _BAD_TIME,
    "no_name": _l("Vui lòng đặt tên cho lịch phát."),
    "no_approved_version": _l(
        "Kịch bản này chưa có phiên bản nào được duyệt nên chưa thể lên lịch phát."
    ),
    "foreign_version": _l("Phiên bản đã chọn thuộc một kịch bản khác."),
    "unapproved_version": _l("Chỉ chọn được phiên bản đã duyệt."),
    "ends_before_start": _l("Ngày kết thúc phải sau ngày bắt đầu."),
    "no_targets": _l("Hãy chọn ít nhất một đài, xã/phường, cụm xã hoặc tỉnh."),
    "bad_priority": _l("Mức ưu tiên không hợp lệ."),
    "emergency_not_allowed": _l(
        "Chỉ lãnh đạo duyệt hoặc quản trị viên mới được tạo, sửa hoặc bật lại lịch phát "
        "mức khẩn cấp, vì bản tin khẩn cấp ngắt mọi chương trình đang phát."
    ),
    "bad_repeat": _l("Số lần phát liền nhau phải từ 1 đến 10."),
    "unknown_recurrence": _l("Cách lặp lại không hợp lệ."),
    "bad_recurrence": _l("Cách lặp lại không hợp lệ."),
    # Stream sources and relay schedules (onair.streams, audio.streamcheck, issue 15).
    "script_or_stream": _l(
        "Lịch phát chọn một trong hai: phát kịch bản hoặc tiếp sóng một luồng phát thanh."
    ),
    "relay_fields_without_stream": _l(
        "Thời lượng tiếp sóng và bản tin dự phòng chỉ dùng cho lịch tiếp sóng."
    ),
    "stream_not_approved": _l("Luồng “%(stream)s” chưa được duyệt nên chưa thể tiếp sóng."),
    "bad_relay_duration": _l("Thời lượng tiếp sóng phải từ 1 đến 1440 phút."),
    "relay_pinned_version": _l("Lịch tiếp sóng không ghim phiên bản kịch bản."),
    "relay_repeat": _l("Mỗi khung giờ tiếp sóng chỉ phát một lần."),
    "fallback_not_approved": _l("Bản tin dự phòng phải là kịch bản đã có phiên bản được duyệt."),
    "stream_bad_url": _l("Địa chỉ luồng phải là một URL bắt đầu bằng http:// hoặc https://."),
    "stream_check_unavailable": _l(
        "Máy chủ chưa kiểm tra được luồng (thiếu ffmpeg). Vui lòng báo quản trị hệ thống."
    ),
    "stream_timeout": _l("Luồng không gửi âm thanh trong thời gian chờ: luồng bị treo."),
    "stream_unreachable": _l(
        "Không kết nối được tới luồng. Kiểm tra lại địa chỉ hoặc máy phát của đài."
    ),
    "stream_not_audio": _l("Địa chỉ này không phát âm thanh (có thể là một trang web)."),
    "stream_playlist_without_audio": _l("Danh sách phát HLS này không có âm thanh."),
    "stream_unsupported_codec": _l(
        "Luồng dùng định dạng âm thanh %(codec)s; hệ thống chỉ tiếp sóng MP3 hoặc AAC."
    ),
    "stream_interrupted": _l("Luồng bị ngắt sau vài giây, chưa đủ để tiếp sóng."),
    "stream_no_name": _l("Vui lòng đặt tên cho luồng phát thanh."),
    "stream_name_long": _l("Tên luồng dài quá 120 ký tự."),
    "stream_name_taken": _l("Đã có một luồng mang tên này."),
    "stream_retired": _l("Luồng đã ngừng sử dụng, không sửa được nữa."),
    "stream_self_approval": _l(
        "Bạn là người đăng ký hoặc vừa đổi địa chỉ luồng này; cần một người khác duyệt."
    ),
    "stream_wrong_status": _l("Luồng không ở trạng thái chờ duyệt."),
    "stream_check_failed": _l(
        "Lần kiểm tra gần nhất không nghe được âm thanh; hãy kiểm tra lại luồng trước khi duyệt."
    ),
    # Chimes (audio.customjingles).
    "too_large": _l("Tệp quá lớn (tối đa 2 MB)."),
    "empty": _l("Tệp tải lên không có nội dung."),
    "has_video": _l("Tệp có hình ảnh động (video). Vui lòng tải lên tệp chỉ có âm thanh."),
    "silent": _l("Tệp gần như không có tiếng, không dùng làm chuông được."),
    "unavailable": _l("Không xử lý được tệp âm thanh lúc này. Vui lòng thử lại sau ít phút."),
    "no_keys": _l("Hãy chọn chuông mở đầu, chuông kết thúc hoặc cả hai."),
    "in_use": _l(
        "Chuông “%(name)s” đang được dùng trong cấu hình âm thanh “%(profile)s”. "
        "Hãy chuyển sang chuông khác trước khi xoá."
    ),
    "profile": _l(
        "Không cập nhật được cấu hình âm thanh. Vui lòng kiểm tra các tệp cấu hình "
        "trong thư mục cấu hình âm thanh."
    ),
    "not_audio": _NOT_AUDIO,
    "not_found": _NOT_AUDIO,
}


def _seconds(value: float) -> str:
    return format_decimal(round(value, 1))


def _chime_length(values: dict[str, Any]) -> str:
    return _(
        "Tệp dài %(seconds)s giây; chuông phải dài từ %(low)s đến %(high)s giây.",
        seconds=_seconds(values.get("seconds", 0.0)),
        low=_seconds(customjingles.MIN_SECONDS),
        high=_seconds(customjingles.MAX_SECONDS),
    )


def _chime_name(values: dict[str, Any]) -> str:
    return _(
        "Vui lòng đặt tên cho chuông: có chữ hoặc số, tối đa %(n)d ký tự.",
        n=customjingles.NAME_MAX,
    )


# Sentences whose numbers are formatted for the reader's locale, not just filled in.
BUILDERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "too_short": _chime_length,
    "too_long": _chime_length,
    "bad_name": _chime_name,
}


def message_for(error: BroadcasterError, **overrides: Any) -> str:
    """Vietnamese (or the chosen language) for `error`; `overrides` replace its details."""
    code = getattr(error, "code", "")
    values = {**getattr(error, "details", {}), **overrides}
    if code in BUILDERS:
        return BUILDERS[code](values)
    template = MESSAGES.get(code)
    if template is None:
        return _("Không thực hiện được thao tác này. Vui lòng kiểm tra lại và thử lại.")
    try:
        return str(template) % values
    except (KeyError, TypeError, ValueError):
        # A raise site without the detail its sentence needs is a bug, but the person at
        # the form should still get a sentence in their language.
        return _("Không thực hiện được thao tác này. Vui lòng kiểm tra lại và thử lại.")

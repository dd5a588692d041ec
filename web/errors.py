"""Error pages in the user's language, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _render(status: int, title: str, message: str):
    if _wants_json():
        return jsonify(error=message, status=status), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _render(
            400,
            _("Phiên làm việc đã hết hạn"),
            _("Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang và thử lại."),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {
            403: (
                _("Không có quyền truy cập"),
                _("Tài khoản của bạn không được phép xem trang này."),
            ),
            404: (_("Không tìm thấy trang"), _("Trang bạn yêu cầu không tồn tại.")),
            405: (_("Thao tác không hợp lệ"), _("Trang này không hỗ trợ thao tác đó.")),
            413: (_("Tệp quá lớn"), _("Tệp tải lên vượt quá dung lượng cho phép.")),
            429: (_("Quá nhiều yêu cầu"), _("Vui lòng chờ một lát rồi thử lại.")),
            503: (
                _("Dịch vụ tạm thời không sẵn sàng"),
                _("Không thực hiện được lúc này. Vui lòng thử lại sau ít phút."),
            ),
        }
        title, message = messages.get(
            error.code or 500, (_("Yêu cầu không hợp lệ"), _("Máy chủ không thể xử lý yêu cầu."))
        )
        return _render(error.code or 500, title, message)

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        log.exception("database error")
        return _render(
            503,
            _("Cơ sở dữ liệu tạm thời không sẵn sàng"),
            _("Hệ thống đang bận hoặc đang bảo trì. Vui lòng thử lại sau ít phút."),
        )

    @app.errorhandler(Exception)
    def unexpected(error):
        log.exception("unhandled error on %s", request.path)
        return _render(
            500,
            _("Đã xảy ra lỗi"),
            _("Hệ thống gặp sự cố khi xử lý yêu cầu. Dữ liệu của bạn chưa bị thay đổi."),
        )

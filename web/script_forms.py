"""The newsroom's forms and the labels they show (statuses, voices, engines, profiles).

Shared by the script views (web/scripts.py) and the hearing endpoints
(web/script_hearing.py), so neither imports the other.
"""

from __future__ import annotations

from flask import (
    current_app,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange

from broadcaster.audio.profiles import ProfileError, deployment_profiles
from broadcaster.core import voices
from broadcaster.core.models import (
    Campaign,
    VersionStatus,
)
from web.db import get_session

MAX_BODY = 10_000
STATUS_LABELS = {
    VersionStatus.DRAFT: _l("Bản nháp"),
    VersionStatus.SUBMITTED: _l("Chờ duyệt"),
    VersionStatus.APPROVED: _l("Đã duyệt"),
    VersionStatus.RETURNED: _l("Trả lại"),
}
# The labels are marked for the catalog where they are defined (broadcaster/core/voices.py).
VOICE_LABELS = {name: _l(label) for name, label in voices.VOICE_LABELS.items()}
ENGINE_LABELS = {
    "": _l("Mặc định của hệ thống"),
    **{name: _l(label) for name, label in voices.ENGINE_LABELS.items()},
}


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, str(label)) for value, label in pairs]


class ScriptForm(FlaskForm):
    title = StringField(_l("Tiêu đề"), validators=[DataRequired(), Length(max=200)])
    campaign = SelectField(_l("Chiến dịch"), coerce=str)
    tags = StringField(_l("Thẻ (cách nhau bằng dấu phẩy)"), validators=[Length(max=400)])
    body = TextAreaField(_l("Nội dung"), validators=[DataRequired(), Length(max=MAX_BODY)])
    voice = SelectField(_l("Giọng đọc"), choices=lambda: _choices(VOICE_LABELS.items()))
    speed = DecimalField(
        _l("Tốc độ đọc"), places=2, default=1.0, validators=[NumberRange(0.5, 2.0)]
    )
    repeat = IntegerField(_l("Số lần đọc"), default=2, validators=[NumberRange(1, 5)])
    engine = SelectField(_l("Bộ đọc"), choices=lambda: _choices(ENGINE_LABELS.items()))
    profile = SelectField(_l("Cấu hình âm thanh"), coerce=str)


class ActionForm(FlaskForm):
    """CSRF only: submit, withdraw, approve."""


class PublicForm(FlaskForm):
    """Approve (or later change) with the listen-again choice; off unless ticked."""

    public = BooleanField(_l("Cho người dân nghe lại trên trang Nghe lại sau khi phát"))


class ReturnForm(FlaskForm):
    comment = TextAreaField(_l("Nhận xét"), validators=[DataRequired(), Length(max=1000)])


def _settings():
    return current_app.config["SETTINGS"]


def _profile_choices() -> list[SelectChoice]:
    try:
        profiles = deployment_profiles(_settings())
    except ProfileError:
        current_app.logger.exception("profiles")
        profiles = {}
    return _choices(
        [("", _("Mặc định của hệ thống"))] + [(n, p.label) for n, p in profiles.items()]
    )


def script_form(**kwargs) -> ScriptForm:
    form = ScriptForm(**kwargs)
    campaigns = get_session().exec(select(Campaign).order_by(Campaign.name)).all()
    form.campaign.choices = _choices(
        [("", _("Không thuộc chiến dịch"))] + [(c.slug, c.name) for c in campaigns]
    )
    form.profile.choices = _profile_choices()
    return form

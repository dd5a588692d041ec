"""The schedule editor's forms: fields, their choices from the database, and their errors.

It owns what a schedule form offers (approved scripts and versions, stations, areas, days,
kinds, priorities) and how its problems read in Vietnamese (`FormProblem`, `form_errors`,
times of day through recurrence's one reader). The views in web/schedules.py use them.
"""

from __future__ import annotations

from collections import Counter

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import Session, col, select
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from broadcaster.core.models import (
    Area,
    AreaKind,
    AreaMember,
    Script,
    ScriptVersion,
    Station,
    StreamSource,
    VersionStatus,
)
from broadcaster.core.priority import Priority
from broadcaster.newsroom.workflow import REVIEWERS
from broadcaster.onair.calendar import (
    day_name,
)
from broadcaster.onair.recurrence import TimeOfDayError, parse_times
from broadcaster.onair.schedules import (
    KINDS,
    MAX_RELAY_MINUTES,
)
from broadcaster.onair.streams import approved_streams
from web.i18n import select_locale
from web.messages import message_for

MAX_ID = 2**31  # ids from a form beyond this are not ours (and would overflow SQLite)

KIND_LABELS = {
    "weekly": _l("Hằng tuần, vào các ngày đã chọn"),
    "every_n_days": _l("Cách N ngày một lần"),
    "once": _l("Một lần"),
}
PRIORITY_LABELS = {
    Priority.NORMAL: _l("Thường"),
    Priority.PRIORITY: _l("Ưu tiên"),
    Priority.EMERGENCY: _l("Khẩn cấp"),
}


def lang() -> str:
    return "en" if select_locale() == "en" else "vi"


# --- forms ---------------------------------------------------------------------------------


def _day_choices() -> list[SelectChoice]:
    return [SelectChoice(i, day_name(i, lang())) for i in range(7)]


def _kind_choices() -> list[SelectChoice]:
    return [SelectChoice(kind, str(KIND_LABELS[kind])) for kind in KINDS]


def _priority_choices() -> list[SelectChoice]:
    return [SelectChoice(int(p), str(label)) for p, label in PRIORITY_LABELS.items()]


class TargetsMixin:
    """Where it plays: every station, or chosen stations and areas (validated in the view)."""

    targets_all = BooleanField(_l("Tất cả các đài"))
    stations = SelectMultipleField(_l("Đài"), coerce=int, validate_choice=False)
    areas = SelectMultipleField(
        _l("Tỉnh, cụm xã hoặc xã/phường"), coerce=int, validate_choice=False
    )


class ScheduleForm(TargetsMixin, FlaskForm):
    name = StringField(
        _l("Tên lịch phát"),
        validators=[
            DataRequired(message=_l("Vui lòng đặt tên cho lịch phát.")),
            Length(max=200, message=_l("Tên lịch phát dài quá 200 ký tự.")),
        ],
    )
    source = RadioField(
        _l("Phát gì"),
        choices=lambda: [
            SelectChoice("script", str(_l("Phát kịch bản"))),
            SelectChoice("relay", str(_l("Tiếp sóng"))),
        ],
        default="script",
    )
    script = SelectField(_l("Kịch bản (đã duyệt)"), coerce=str, validate_choice=False)
    version = SelectField(_l("Phiên bản được phát"), coerce=str, validate_choice=False)
    # A relay ("Tiếp sóng"): an approved stream, the slot's length, the fallback bulletin.
    stream = SelectField(_l("Luồng tiếp sóng (đã duyệt)"), coerce=str, validate_choice=False)
    duration_min = IntegerField(
        _l("Thời lượng tiếp sóng (phút)"),
        default=30,
        validators=[Optional(), NumberRange(1, MAX_RELAY_MINUTES)],
    )
    fallback = SelectField(_l("Khi mất tín hiệu, phát bản tin"), coerce=str, validate_choice=False)
    kind = SelectField(_l("Lặp lại"), choices=_kind_choices, default="weekly")
    weekdays = SelectMultipleField(
        _l("Các ngày trong tuần"),
        coerce=int,
        choices=_day_choices,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    times = StringField(_l("Giờ phát (ví dụ 06:00, 17:00)"), validators=[Length(max=200)])
    every_days = IntegerField(
        _l("Cách mấy ngày phát một lần"), default=2, validators=[Optional(), NumberRange(1, 365)]
    )
    anchor = DateField(_l("Tính từ ngày"), validators=[Optional()])
    once_date = DateField(_l("Ngày phát"), validators=[Optional()])
    once_time = StringField(_l("Giờ phát"), validators=[Length(max=8)])
    valid_from = DateField(_l("Hiệu lực từ ngày"), validators=[Optional()])
    valid_until = DateField(_l("Đến hết ngày"), validators=[Optional()])
    # Choices are checked by save_schedule (which also refuses emergency to editors), so
    # the form may offer editors fewer of them.
    priority = SelectField(
        _l("Mức ưu tiên"),
        coerce=int,
        choices=_priority_choices,
        default=int(Priority.NORMAL),
        validate_choice=False,
    )
    repeat = IntegerField(
        _l("Số lần phát liền nhau mỗi lượt"), default=1, validators=[NumberRange(1, 10)]
    )


class NowForm(TargetsMixin, FlaskForm):
    script = SelectField(_l("Kịch bản (đã duyệt)"), coerce=str, validate_choice=False)


class ActiveForm(FlaskForm):
    """CSRF only; the wanted state comes in `active` (1 or 0)."""


# Shown instead of WTForms' own (English) messages; every field has one.
FIELD_MESSAGES = {
    "name": _l("Vui lòng đặt tên cho lịch phát (tối đa 200 ký tự)."),
    "kind": _l("Cách lặp lại không hợp lệ."),
    "weekdays": _l("Ngày trong tuần không hợp lệ."),
    "times": _l("Giờ phát dài quá."),
    "every_days": _l("Số ngày phải từ 1 đến 365."),
    "anchor": _l("Ngày không hợp lệ."),
    "once_date": _l("Ngày không hợp lệ."),
    "once_time": _l("Giờ không hợp lệ."),
    "valid_from": _l("Ngày không hợp lệ."),
    "valid_until": _l("Ngày không hợp lệ."),
    "priority": _l("Mức ưu tiên không hợp lệ."),
    "repeat": _l("Số lần phát liền nhau phải từ 1 đến 10."),
    "source": _l("Lựa chọn không hợp lệ."),
    "duration_min": _l("Thời lượng tiếp sóng phải từ 1 đến 1440 phút."),
    "stations": _l("Lựa chọn không hợp lệ."),
    "areas": _l("Lựa chọn không hợp lệ."),
}


class FormProblem(ValueError):
    """A form value the view refuses; the message is Vietnamese and safe to show."""


def form_errors(form: FlaskForm) -> list[str]:
    messages = []
    for name, errors in form.errors.items():
        if name == "csrf_token":
            messages.append(_("Phiên làm việc đã hết hạn; vui lòng tải lại trang và thử lại."))
        elif errors:
            field_ = getattr(form, name)
            message = FIELD_MESSAGES.get(name, _l("Giá trị không hợp lệ."))
            messages.append(f"{field_.label.text}: {message}")
    return messages


def parse_form_times(text: str) -> list[str]:
    """Staff's "06:00, 17:00" (also "6h30", "17.00") as ["06:00", "17:00"]; errors in Vietnamese."""
    try:
        return [f"{t:%H:%M}" for t in parse_times(text)]
    except TimeOfDayError as exc:
        raise FormProblem(message_for(exc)) from exc


# --- choices -------------------------------------------------------------------------------


def approved_scripts(session: Session) -> list[Script]:
    """Scripts that may be scheduled: those with an approved version."""
    ids = select(ScriptVersion.script_id).where(ScriptVersion.status == VersionStatus.APPROVED)
    return list(session.exec(select(Script).where(col(Script.id).in_(ids)).order_by(Script.title)))


def script_choices(scripts: list[Script]) -> list[SelectChoice]:
    return [SelectChoice("", _("— Chọn kịch bản —"))] + [
        SelectChoice(str(s.id), s.title) for s in scripts
    ]


def version_choices(session: Session, scripts: list[Script]) -> list[SelectChoice]:
    choices = [SelectChoice("", _("Luôn phát phiên bản mới nhất đã duyệt"))]
    titles = {s.id: s.title for s in scripts}
    versions = session.exec(
        select(ScriptVersion)
        .where(
            ScriptVersion.status == VersionStatus.APPROVED,
            col(ScriptVersion.script_id).in_(list(titles)),
        )
        .order_by(ScriptVersion.script_id, ScriptVersion.number.desc())
    )
    for version in versions:
        label = _("Chỉ phiên bản %(n)d", n=version.number)
        choices.append(SelectChoice(str(version.id), label, optgroup=titles[version.script_id]))
    return choices


def _station_rows(session: Session) -> list[tuple[Station, Area]]:
    return list(
        session.exec(
            select(Station, Area)
            .join(Area, Area.id == Station.area_id)
            .where(Station.is_active.is_(True))
            .order_by(Station.code)
        )
    )


def station_choices(session: Session) -> list[SelectChoice]:
    return [SelectChoice(s.id, f"{s.code} · {a.name}") for s, a in _station_rows(session)]


def station_labels(session: Session) -> list[tuple[str, str]]:
    return [(s.code, f"{s.code} · {a.name}") for s, a in _station_rows(session)]


def targetable_areas(session: Session) -> list[tuple[Area, int]]:
    """Provinces, groups and communes that have active stations, with how many."""
    per_commune = Counter(
        session.exec(select(Station.area_id).where(Station.is_active.is_(True))).all()
    )
    communes = session.exec(
        select(Area).where(col(Area.id).in_(list(per_commune))).order_by(Area.name)
    ).all()
    per_province: Counter = Counter()
    for commune in communes:
        per_province[commune.parent_id] += per_commune[commune.id]
    provinces = session.exec(
        select(Area).where(col(Area.id).in_(list(per_province))).order_by(Area.name)
    ).all()
    per_group: Counter = Counter()
    for group_id, area_id in session.exec(
        select(AreaMember.group_id, AreaMember.area_id).where(
            col(AreaMember.area_id).in_(list(per_commune))
        )
    ):
        per_group[group_id] += per_commune[area_id]
    groups = session.exec(
        select(Area).where(col(Area.id).in_(list(per_group))).order_by(Area.name)
    ).all()
    return (
        [(a, per_province[a.id]) for a in provinces]
        + [(a, per_group[a.id]) for a in groups]
        + [(a, per_commune[a.id]) for a in communes]
    )


def area_choices(session: Session) -> list[SelectChoice]:
    groups = {
        AreaKind.PROVINCE: _("Tỉnh, thành phố"),
        AreaKind.GROUP: _("Cụm xã (huyện cũ)"),
        AreaKind.COMMUNE: _("Xã, phường"),
    }
    return [
        SelectChoice(
            area.id,
            ngettext("%(name)s (%(num)d đài)", "%(name)s (%(num)d đài)", count, name=area.name),
            optgroup=groups[area.kind],
        )
        for area, count in targetable_areas(session)
    ]


def stream_choices(streams: list[StreamSource]) -> list[SelectChoice]:
    return [SelectChoice("", _("— Chọn luồng —"))] + [
        SelectChoice(str(s.id), s.name) for s in streams
    ]


def fallback_choices(scripts: list[Script]) -> list[SelectChoice]:
    return [SelectChoice("", _("Không phát gì (im lặng, ghi lý do vào nhật ký)"))] + [
        SelectChoice(str(s.id), s.title) for s in scripts
    ]


def selected_stream(form, streams: list[StreamSource]) -> StreamSource:
    offered = {str(s.id): s for s in streams}
    stream = offered.get(form.stream.data or "")
    if stream is None:
        if form.stream.data:
            raise FormProblem(_("Chỉ tiếp sóng được luồng đã được duyệt."))
        raise FormProblem(_("Vui lòng chọn luồng tiếp sóng."))
    return stream


def selected_fallback(form, scripts: list[Script]) -> Script | None:
    if not form.fallback.data:
        return None
    script = {str(s.id): s for s in scripts}.get(form.fallback.data)
    if script is None:
        raise FormProblem(_("Bản tin dự phòng phải là kịch bản đã có phiên bản được duyệt."))
    return script


def fill_choices(form: FlaskForm, session: Session, scripts: list[Script]) -> None:
    form.script.choices = script_choices(scripts)
    if hasattr(form, "stream"):
        form.stream.choices = stream_choices(approved_streams(session))
        form.fallback.choices = fallback_choices(scripts)
    if hasattr(form, "priority") and current_user.role not in REVIEWERS:
        # Editors are not offered emergency, unless the schedule already is one (shown as
        # it is; saving it is refused with the reason).
        form.priority.choices = [
            c
            for c in _priority_choices()
            if c.value != Priority.EMERGENCY or form.priority.data == Priority.EMERGENCY
        ]
    if hasattr(form, "version"):
        form.version.choices = version_choices(session, scripts)
    form.stations.choices = station_choices(session)
    form.areas.choices = area_choices(session)


def selected_script(form, scripts: list[Script]) -> Script:
    offered = {str(s.id): s for s in scripts}
    script = offered.get(form.script.data or "")
    if script is None:
        if form.script.data:
            raise FormProblem(
                _(
                    "Chỉ lên lịch được kịch bản đã được duyệt; kịch bản đã chọn chưa có "
                    "phiên bản nào được duyệt."
                )
            )
        raise FormProblem(_("Vui lòng chọn kịch bản."))
    return script


def form_targets(form, session: Session) -> tuple[list[int], list[int], bool]:
    station_ids = sorted(set(form.stations.data or []))
    area_ids = sorted(set(form.areas.data or []))
    if any(not 0 < i < MAX_ID for i in station_ids + area_ids):
        raise FormProblem(_("Lựa chọn không hợp lệ."))
    if station_ids:
        known = session.exec(select(Station.id).where(col(Station.id).in_(station_ids))).all()
        if len(known) != len(station_ids):
            raise FormProblem(_("Có đài không tồn tại trong danh sách đã chọn."))
    if area_ids:
        known = session.exec(select(Area.id).where(col(Area.id).in_(area_ids))).all()
        if len(known) != len(area_ids):
            raise FormProblem(_("Có khu vực không tồn tại trong danh sách đã chọn."))
    targets_all = bool(form.targets_all.data)
    if not (targets_all or station_ids or area_ids):
        raise FormProblem(_("Hãy chọn ít nhất một đài, xã/phường, cụm xã hoặc tỉnh."))
    if targets_all:
        station_ids, area_ids = [], []
    return station_ids, area_ids, targets_all

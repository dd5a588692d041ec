"""Users: admins create, edit, reset and deactivate; everyone changes their own password."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length

from broadcaster.core.models import Area, Role, Station, User
from broadcaster.newsroom.users import (
    MIN_PASSWORD_LENGTH,
    UserError,
    change_own_password,
    create_user,
    generate_password,
    operator_station_ids,
    set_password,
    update_user,
)
from web.auth import ALL_ROLES, acting_user, roles_required
from web.db import get_session
from web.messages import message_for

bp = Blueprint("users", __name__)
ROLE_LABELS = {
    Role.ADMIN: _l("Quản trị"),
    Role.APPROVER: _l("Lãnh đạo duyệt"),
    Role.EDITOR: _l("Biên tập viên"),
    Role.OPERATOR: _l("Người vận hành đài"),
}


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(str(role), str(label)) for role, label in ROLE_LABELS.items()]


class UserForm(FlaskForm):
    username = StringField(_l("Tên đăng nhập"), validators=[DataRequired(), Length(max=64)])
    full_name = StringField(_l("Họ và tên"), validators=[Length(max=128)])
    role = SelectField(_l("Vai trò"), choices=_role_choices)
    stations = SelectMultipleField(_l("Đài phụ trách (người vận hành)"), coerce=int)
    is_active = BooleanField(_l("Đang hoạt động"), default=True)


class ResetForm(FlaskForm):
    """CSRF only."""


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Mật khẩu hiện tại"), validators=[DataRequired()])
    new = PasswordField(
        _l("Mật khẩu mới"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=256)]
    )
    confirm = PasswordField(
        _l("Nhập lại mật khẩu mới"), validators=[DataRequired(), EqualTo("new")]
    )


def _station_choices() -> list[SelectChoice]:
    session = get_session()
    rows = session.exec(
        select(Station, Area).join(Area, Area.id == Station.area_id).order_by(Station.code)
    ).all()
    return [SelectChoice(station.id, f"{station.code} · {area.name}") for station, area in rows]


@bp.get("/users")
@roles_required(Role.ADMIN)
def index():
    session = get_session()
    users = session.exec(select(User).order_by(User.is_active.desc(), User.username)).all()
    stations = {s.id: s.code for s in session.exec(select(Station))}
    assigned = {u.id: [stations[i] for i in operator_station_ids(session, u)] for u in users}
    return render_template(
        "users/index.html", users=users, assigned=assigned, role_labels=ROLE_LABELS
    )


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new():
    form = UserForm()
    form.stations.choices = _station_choices()
    if form.validate_on_submit():
        session = get_session()
        password = generate_password()
        try:
            user = create_user(
                session=session,
                username=form.username.data,
                role=form.role.data,
                password=password,
                full_name=form.full_name.data or "",
                actor=acting_user(),
            )
            update_user(
                session=session,
                user=user,
                full_name=user.full_name,
                role=user.role,
                is_active=True,
                station_ids=form.stations.data or [],
                actor=acting_user(),
            )
        except UserError as exc:
            session.rollback()
            flash(message_for(exc), "error")
        else:
            session.commit()
            # Shown on this page only: never put a password in a redirect or a flash cookie.
            return render_template("users/password_once.html", user=user, password=password)
    return render_template("users/edit.html", form=form, user=None)


def _get_user(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit(user_id: int):
    session = get_session()
    user = _get_user(user_id)
    form = UserForm(obj=user)
    form.username.data = user.username
    form.stations.choices = _station_choices()
    if not form.is_submitted():
        form.stations.data = operator_station_ids(session, user)
    if form.validate_on_submit():
        try:
            update_user(
                session=session,
                user=user,
                full_name=form.full_name.data or "",
                role=form.role.data,
                is_active=form.is_active.data,
                station_ids=form.stations.data or [],
                actor=acting_user(),
            )
        except UserError as exc:
            session.rollback()
            flash(message_for(exc), "error")
        else:
            session.commit()
            flash(_("Đã lưu tài khoản %(name)s.", name=user.username), "success")
            return redirect(url_for("users.index"))
    return render_template("users/edit.html", form=form, user=user, reset_form=ResetForm())


@bp.post("/users/<int:user_id>/reset-password")
@roles_required(Role.ADMIN)
def reset_password(user_id: int):
    if not ResetForm().validate_on_submit():
        abort(400)
    session = get_session()
    user = _get_user(user_id)
    password = generate_password()
    set_password(session=session, user=user, password=password, actor=acting_user())
    session.commit()
    return render_template("users/password_once.html", user=user, password=password)


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(*ALL_ROLES)
def own_password():
    form = PasswordForm()
    if form.validate_on_submit():
        session = get_session()
        user = acting_user()
        try:
            change_own_password(
                session=session, user=user, current=form.current.data, new=form.new.data
            )
        except UserError as exc:
            session.rollback()
            flash(message_for(exc), "error")
        else:
            session.commit()
            flash(_("Đã đổi mật khẩu."), "success")
            return redirect(url_for("dashboard.index"))
    elif form.is_submitted():
        flash(
            _(
                "Mật khẩu mới cần ít nhất %(n)d ký tự và hai lần nhập phải giống nhau.",
                n=MIN_PASSWORD_LENGTH,
            ),
            "error",
        )
    return render_template("users/password.html", form=form)

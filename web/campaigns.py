"""Campaigns: scripts grouped under a name with start and end dates (e.g. Bluezone)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import col, func, select
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from broadcaster.core import audit
from broadcaster.core.models import Campaign, Script
from broadcaster.core.text import slugify
from broadcaster.newsroom.workflow import WRITERS
from web.auth import acting_user, roles_required
from web.db import get_session

bp = Blueprint("campaigns", __name__)


class CampaignForm(FlaskForm):
    name = StringField(_l("Tên chiến dịch"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Mô tả"), validators=[Length(max=2000)])
    starts_on = DateField(_l("Bắt đầu"), validators=[Optional()])
    ends_on = DateField(_l("Kết thúc"), validators=[Optional()])


@bp.get("/campaigns")
@roles_required(*WRITERS)
def index():
    session = get_session()
    counts = dict(
        session.exec(select(Script.campaign_id, func.count()).group_by(Script.campaign_id)).all()
    )
    # Undated campaigns last on every backend (PostgreSQL would put NULLs first).
    newest_first = col(Campaign.starts_on).desc().nulls_last()
    campaigns = session.exec(select(Campaign).order_by(newest_first, Campaign.id)).all()
    return render_template("campaigns/index.html", campaigns=campaigns, counts=counts)


def _save(form: CampaignForm, campaign: Campaign | None):
    session = get_session()
    if form.starts_on.data and form.ends_on.data and form.ends_on.data < form.starts_on.data:
        flash(_("Ngày kết thúc phải sau ngày bắt đầu."), "error")
        return None
    before = campaign.model_dump() if campaign else None
    if campaign is None:
        slug = slugify(form.name.data)[:60] or "chien-dich"
        if session.exec(select(Campaign).where(Campaign.slug == slug)).first():
            flash(_("Đã có chiến dịch cùng tên."), "error")
            return None
        campaign = Campaign(slug=slug, name="")
    campaign.name = " ".join(form.name.data.split())
    campaign.description = form.description.data or ""
    campaign.starts_on = form.starts_on.data
    campaign.ends_on = form.ends_on.data
    session.add(campaign)
    session.flush()
    audit.record(
        session,
        actor=acting_user(),
        action="update" if before else "create",
        entity_type="campaign",
        entity_id=campaign.slug,
        before=before,
        after=campaign.model_dump(),
    )
    session.commit()
    flash(_("Đã lưu chiến dịch %(name)s.", name=campaign.name), "success")
    return redirect(url_for("campaigns.index"))


@bp.route("/campaigns/new", methods=["GET", "POST"])
@roles_required(*WRITERS)
def new():
    form = CampaignForm()
    if form.validate_on_submit() and (response := _save(form, None)):
        return response
    return render_template("campaigns/edit.html", form=form, campaign=None)


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
@roles_required(*WRITERS)
def edit(campaign_id: int):
    campaign = get_session().get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    form = CampaignForm(obj=campaign)
    if form.validate_on_submit() and (response := _save(form, campaign)):
        return response
    return render_template("campaigns/edit.html", form=form, campaign=campaign)

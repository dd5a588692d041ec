"""The daily summary: yesterday's misses and the stations offline now, by e-mail if set up."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage

from sqlmodel import Session, select

from broadcaster.accountability.reports import compliance, totals
from broadcaster.core.config import Settings
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Area, Station
from broadcaster.stations.monitoring import health


class AlertError(Exception):
    """The summary could not be sent; `retryable` says whether trying later may work."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Summary:
    day: date
    planned: int
    played: int
    missed: list[tuple[str, str, str, str]]  # commune, time, script, reason
    offline: list[tuple[str, str]]  # station code, commune

    @property
    def subject(self) -> str:
        state = "có lượt bỏ lỡ" if self.missed or self.offline else "đầy đủ"
        return f"Kết quả phát ngày {self.day:%d/%m/%Y}: {self.played}/{self.planned}, {state}"

    def text(self) -> str:
        lines = [
            f"Báo cáo kết quả phát ngày {self.day:%d/%m/%Y}",
            f"Đã phát {self.played} / {self.planned} lượt theo kế hoạch.",
            "",
        ]
        if self.missed:
            lines.append(f"Các lượt bỏ lỡ ({len(self.missed)}):")
            lines += [f"- {c}, {t}, {s}: {r}" for c, t, s, r in self.missed]
        else:
            lines.append("Không có lượt nào bị bỏ lỡ.")
        lines.append("")
        if self.offline:
            lines.append(f"Đài đang mất kết nối ({len(self.offline)}):")
            lines += [f"- {code} ({commune})" for code, commune in self.offline]
        else:
            lines.append("Không có đài nào mất kết nối.")
        return "\n".join(lines) + "\n"


def daily_summary(session: Session, *, day: date) -> Summary:
    ranked = totals(compliance(session, first=day, last=day))
    missed = [
        (t.commune, f"{at:%H:%M}", title, reason) for t in ranked for at, title, reason in t.misses
    ]
    stations = list(session.exec(select(Station).where(Station.is_active.is_(True))))
    communes = dict(session.exec(select(Area.id, Area.name)).all())
    offline = [
        (h.station.code, communes.get(h.station.area_id, ""))
        for h in health(session, stations, now=utcnow())
        if h.state == "offline"
    ]
    return Summary(
        day=day,
        planned=sum(t.planned for t in ranked),
        played=sum(t.played for t in ranked),
        missed=missed,
        offline=offline,
    )


def send(settings: Settings, summary: Summary) -> bool:
    """E-mail the summary when an SMTP server and recipients are configured."""
    if not settings.smtp_host or not settings.alert_emails:
        return False
    message = EmailMessage()
    message["Subject"] = summary.subject
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(settings.alert_emails)
    message.set_content(summary.text())
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise AlertError(f"SMTP login refused: {exc}", retryable=False) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise AlertError(f"cannot send the summary: {exc}", retryable=True) from exc
    return True

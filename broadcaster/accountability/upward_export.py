"""The report upward as files: XLSX (two sheets), CSV (one table each) and JSON.

The JSON follows broadcaster/data/upward-report.schema.json; docs/REPORTING.md describes
every field. Times are local to the report's time zone: in the sheets as the province
reads them, in JSON as ISO 8601 with their offset.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from broadcaster.accountability.reports import STATUS_VI, csv_line
from broadcaster.accountability.upward import (
    TYPE_NAMES,
    TYPE_VI,
    TYPES,
    CommuneLine,
    CommuneRow,
    Tally,
    UpwardReport,
)
from broadcaster.core.models import OccurrenceStatus
from broadcaster.core.text import slugify
from broadcaster.onair.reasons import reason_vi

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "upward-report.schema.json"
SCHEMA_VERSION = 1
TABLES = ("bulletins", "communes")
SHEETS = {"bulletins": "Theo bản tin", "communes": "Theo xã"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

BULLETIN_HEADERS = [
    "Loại tin (TT39)",
    "Bản tin",
    "Mã bản tin",
    "Phiên bản",
    "Số xã được gửi",
    "Số xã đã nhận",
    "Số xã đã phát",
    "Lượt theo kế hoạch",
    "Lượt đã nhận",
    "Lượt đã phát",
    "Số lần phát",
    "Lượt không phát",
    "Lượt chưa đến giờ",
    "Phát lần đầu",
    "Phát lần cuối",
]
COMMUNE_HEADERS = [
    "Mã xã",
    "Xã, phường",
    "Đài",
    "Loại tin (TT39)",
    "Bản tin",
    "Mã bản tin",
    "Phiên bản",
    "Lượt theo kế hoạch",
    "Lượt đã nhận",
    "Lượt đã phát",
    "Số lần phát",
    "Phát lần đầu",
    "Phát lần cuối",
    "Lượt không phát",
    "Lượt chưa đến giờ",
    "Lý do không phát",
    "Ghi chú",
]
HEADERS = {"bulletins": BULLETIN_HEADERS, "communes": COMMUNE_HEADERS}
NO_STATION = "Chưa có đài truyền thanh"
NOTHING_PLANNED = "Không có bản tin nào trong kỳ"


def file_stem(report: UpwardReport) -> str:
    """An ASCII file name: 'bao-cao-cap-tren-thanh-pho-hue-2020-08-19-2020-08-31'."""
    return "-".join(
        [
            "bao-cao-cap-tren",
            slugify(report.area.name, max_length=40) or report.area.code.lower(),
            *([slugify(report.campaign.slug, max_length=30)] if report.campaign else []),
            report.first.isoformat(),
            report.last.isoformat(),
        ]
    )


def _status_vi(status: str) -> str:
    return STATUS_VI.get(OccurrenceStatus(status), status)


def _versions(tally: Tally) -> str:
    return ", ".join(f"v{n}" for n in sorted(tally.versions))


def _reasons(line: CommuneLine) -> str:
    return "; ".join(
        f"{_status_vi(status)}: {reason_vi(reason) if reason else '-'} ({count})"
        for (status, reason), count in sorted(line.reasons.items())
    )


def bulletin_rows(report: UpwardReport) -> list[list[Any]]:
    """The "Theo bản tin" table; times as local datetimes (the CSV writes them as text)."""
    return [
        [
            TYPE_VI[row.bulletin.type],
            row.bulletin.title,
            row.bulletin.slug,
            _versions(row),
            row.communes_sent,
            row.communes_received,
            row.communes_aired,
            row.planned,
            row.received,
            row.aired,
            row.plays,
            row.not_aired,
            row.pending,
            _naive(row.first_aired),
            _naive(row.last_aired),
        ]
        for row in report.bulletins
    ]


def commune_rows(report: UpwardReport) -> list[list[Any]]:
    """The "Theo xã" table: a row per bulletin a commune had, one row for a silent one."""
    rows: list[list[Any]] = []
    for commune in report.communes:
        head = [commune.code, commune.name, ", ".join(commune.stations)]
        if not commune.lines:
            note = NOTHING_PLANNED if commune.stations else NO_STATION
            rows.append([*head, "", "", "", "", 0, 0, 0, 0, None, None, 0, 0, "", note])
        for line in commune.lines:
            rows.append(
                [
                    *head,
                    TYPE_VI[line.bulletin.type],
                    line.bulletin.title,
                    line.bulletin.slug,
                    _versions(line),
                    line.planned,
                    line.received,
                    line.aired,
                    line.plays,
                    _naive(line.first_aired),
                    _naive(line.last_aired),
                    line.not_aired,
                    line.pending,
                    _reasons(line),
                    "",
                ]
            )
    return rows


def _naive(moment: datetime | None) -> datetime | None:
    # Excel has no time zones: the local wall time, as the province reads it.
    return moment.replace(tzinfo=None) if moment is not None else None


def _cell_text(value: Any) -> Any:
    return value.strftime("%d/%m/%Y %H:%M") if isinstance(value, datetime) else value


def to_csv(report: UpwardReport, table: str) -> str:
    """One table as CSV, UTF-8 with a BOM so Excel reads the Vietnamese."""
    rows = bulletin_rows(report) if table == "bulletins" else commune_rows(report)
    body = "".join(csv_line([_cell_text(v) if v is not None else "" for v in r]) for r in rows)
    return "\ufeff" + csv_line(HEADERS[table]) + body


def title_lines(report: UpwardReport) -> list[str]:
    period = f"từ {report.first:%d/%m/%Y} đến {report.last:%d/%m/%Y}"
    where = f"Địa bàn: {report.area.name} ({report.area.code}). Thời gian: {period}."
    if report.campaign is not None:
        where += f" Chiến dịch: {report.campaign.name}."
    totals = report.by_type()
    summary = "; ".join(
        f"{TYPE_VI[kind]}: {len([b for b in report.bulletins if b.bulletin.type == kind])} "
        f"bản tin, {totals[kind].aired} lượt đã phát, {totals[kind].communes_aired} xã đã phát"
        for kind in TYPES
    )
    return ["BÁO CÁO KẾT QUẢ PHÁT BẢN TIN TRÊN HỆ THỐNG ĐÀI TRUYỀN THANH CƠ SỞ", where, summary]


def to_xlsx(report: UpwardReport) -> bytes:
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]

    workbook = Workbook()
    workbook.remove(workbook.active)
    lines = title_lines(report)
    for table in TABLES:
        sheet = workbook.create_sheet(SHEETS[table])
        headers = HEADERS[table]
        for text in lines:
            sheet.append([text])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append(headers)
        header_row = len(lines) + 1
        for cell in sheet[header_row]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        rows = bulletin_rows(report) if table == "bulletins" else commune_rows(report)
        for row in rows:
            sheet.append(row)
        widths = [len(h) for h in headers]
        for row in rows:
            for index, value in enumerate(row):
                text = "dd/mm/yyyy hh:mm" if isinstance(value, datetime) else str(value or "")
                widths[index] = max(widths[index], len(text))
        for index, width in enumerate(widths):
            letter = sheet.cell(row=header_row, column=index + 1).column_letter
            sheet.column_dimensions[letter].width = min(60, max(8, width + 2))
        for column in sheet.iter_cols(min_row=header_row + 1):
            for cell in column:
                if isinstance(cell.value, datetime):
                    cell.number_format = "dd/mm/yyyy hh:mm"
        # The title rows and the header stay in view while scrolling.
        sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _tally(tally: Tally) -> dict[str, Any]:
    return {
        "versions": sorted(tally.versions),
        "planned": tally.planned,
        "received": tally.received,
        "aired": tally.aired,
        "plays": tally.plays,
        "not_aired": tally.not_aired,
        "pending": tally.pending,
        "first_aired": _moment(tally.first_aired),
        "last_aired": _moment(tally.last_aired),
    }


def _commune(commune: CommuneRow) -> dict[str, Any]:
    total = _tally(commune.total)
    for key in ("versions", "first_aired", "last_aired"):
        del total[key]
    return {
        "code": commune.code,
        "name": commune.name,
        "stations": commune.stations,
        "totals": total,
        "bulletins": [
            {
                "type": TYPE_NAMES[line.bulletin.type],
                "type_vi": TYPE_VI[line.bulletin.type],
                "script": {"slug": line.bulletin.slug, "title": line.bulletin.title},
                **_tally(line),
                "not_aired_reasons": [
                    {
                        "status": status,
                        "status_vi": _status_vi(status),
                        "reason": reason,
                        "reason_vi": reason_vi(reason) if reason else "",
                        "count": count,
                    }
                    for (status, reason), count in sorted(line.reasons.items())
                ],
            }
            for line in commune.lines
        ],
    }


def to_json_data(report: UpwardReport) -> dict[str, Any]:
    totals = report.by_type()
    return {
        "report": "upward",
        "schema_version": SCHEMA_VERSION,
        "generated_at": report.generated_at.isoformat(),
        "period": {
            "from": report.first.isoformat(),
            "to": report.last.isoformat(),
            "timezone": report.timezone,
        },
        "area": {"code": report.area.code, "name": report.area.name, "kind": report.area.kind},
        "campaign": (
            {"slug": report.campaign.slug, "name": report.campaign.name}
            if report.campaign is not None
            else None
        ),
        "types": [
            {
                "type": TYPE_NAMES[kind],
                "type_vi": TYPE_VI[kind],
                "bulletins": sum(1 for b in report.bulletins if b.bulletin.type == kind),
                "planned": totals[kind].planned,
                "aired": totals[kind].aired,
                "plays": totals[kind].plays,
                "not_aired": totals[kind].not_aired,
                "communes_aired": totals[kind].communes_aired,
            }
            for kind in TYPES
        ],
        "bulletins": [
            {
                "type": TYPE_NAMES[row.bulletin.type],
                "type_vi": TYPE_VI[row.bulletin.type],
                "script": {"slug": row.bulletin.slug, "title": row.bulletin.title},
                "communes": {
                    "sent": row.communes_sent,
                    "received": row.communes_received,
                    "aired": row.communes_aired,
                },
                **_tally(row),
            }
            for row in report.bulletins
        ],
        "communes": [_commune(commune) for commune in report.communes],
    }


def to_json(report: UpwardReport) -> str:
    return json.dumps(to_json_data(report), ensure_ascii=False, indent=2) + "\n"


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

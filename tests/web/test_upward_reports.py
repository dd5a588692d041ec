"""The reports page for the report upward: the form, the downloads, the refusals."""

from __future__ import annotations

import csv
import io
import json

from openpyxl import load_workbook
from sqlmodel import select

from broadcaster.core.models import Area, Campaign
from tests.accountability.test_upward import aired, schema_validator  # noqa: F401


def _query(session, **extra) -> dict:
    hue = session.exec(select(Area).where(Area.name == "Thành phố Huế")).one()
    return {"from": "2026-11-30", "to": "2026-11-30", "area": hue.id, **extra}


def test_it_shows_the_report_for_the_chosen_area_and_period(client, auth, session, aired):  # noqa: F811
    auth.login("approver")
    blank = client.get("/reports/upward")
    assert blank.status_code == 200 and 'id="upward-form"' in blank.get_data(as_text=True)
    page = client.get("/reports/upward", query_string=_query(session)).get_data(as_text=True)
    communes = page.split('id="communes"', 1)[1].split("</table>", 1)[0]
    # the header, 37 silent communes, Thuận An's two bulletins, Phú Xuân's and An Cựu's
    assert communes.count("<tr") == 1 + 37 + 2 + 1 + 1
    assert "Không có bản tin nào trong kỳ" in communes and "Khẩn cấp" in page


def test_it_downloads_each_format_with_a_file_name(client, auth, session, aired):  # noqa: F811
    auth.login("admin")
    xlsx = client.get("/reports/upward", query_string=_query(session, format="xlsx"))
    assert xlsx.status_code == 200
    disposition = xlsx.headers["Content-Disposition"]
    assert disposition == (
        'attachment; filename="bao-cao-cap-tren-thanh-pho-hue-2026-11-30-2026-11-30.xlsx"'
    )
    assert load_workbook(io.BytesIO(xlsx.data)).sheetnames == ["Theo bản tin", "Theo xã"]
    bluezone = session.exec(select(Campaign).where(Campaign.slug == "bluezone")).one()
    query = _query(session, format="csv", table="communes", campaign=bluezone.id)
    as_csv = client.get("/reports/upward", query_string=query)
    assert as_csv.headers["Content-Disposition"].endswith(
        '-bluezone-2026-11-30-2026-11-30-communes.csv"'
    )
    rows = list(csv.reader(io.StringIO(as_csv.data.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Mã xã", "Xã, phường"] and len({r[1] for r in rows[1:]}) == 40
    as_json = client.get("/reports/upward", query_string=_query(session, format="json"))
    assert as_json.mimetype == "application/json"
    schema_validator().validate(json.loads(as_json.data))


def test_bad_requests_are_refused_in_vietnamese_and_download_nothing(client, auth, session):
    auth.login("approver")
    reversed_period = _query(session, **{"from": "2026-12-01"}, format="xlsx")
    answer = client.get("/reports/upward", query_string=reversed_period)
    assert answer.status_code == 400 and "Content-Disposition" not in answer.headers
    assert "Ngày kết thúc đang trước ngày bắt đầu." in answer.get_data(as_text=True)
    bad_day = client.get("/reports/upward", query_string=_query(session, to="31/02/2026"))
    assert bad_day.status_code == 400 and "Ngày không hợp lệ" in bad_day.get_data(as_text=True)
    no_area = client.get("/reports/upward", query_string={"from": "2026-11-30", "to": "2026-11-30"})
    assert "Hãy chọn tỉnh, cụm xã hoặc xã, phường." in no_area.get_data(as_text=True)
    no_table = client.get("/reports/upward", query_string=_query(session, format="csv"))
    assert no_table.status_code == 400 and "CSV" in no_table.get_data(as_text=True)
    page = no_table.get_data(as_text=True)
    assert "period" not in page and "holds one table" not in page  # no English reaches the page


def test_only_admins_and_approvers_read_it(client, auth):
    for persona in ("editor", "operator"):
        auth.login(persona)
        assert client.get("/reports/upward").status_code == 403
        auth.logout()
    assert client.get("/reports/upward").status_code in (302, 401)
